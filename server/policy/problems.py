"""How a charter file's problems are collected and worded, and the typed readers that report them.

A problem reads `fr.toml: article[4].rule[1].action: unknown action 'rejet'`: the file, then the path to
the faulty value, counting list items from 1 as a lawyer counts articles, then what is wrong.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from server.policy.schema import Localized
from server.policy.units import FOREVER, Duration


@dataclass
class Problems:
    source: str
    errors: list[str] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.errors.append(f"{self.source}: {path}: {message}" if path else f"{self.source}: {message}")


def unknown_keys(table: Mapping[str, Any], allowed: Iterable[str], path: str, problems: Problems) -> None:
    allowed = tuple(allowed)
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.add(join(path, key), f"unknown key{hint}")


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def read_text(value: Any, path: str, problems: Problems) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    problems.add(
        path, "expected a non-empty text in quotes" if isinstance(value, str) else got(value, "text")
    )
    return None


def got(value: Any, wanted: str) -> str:
    kinds = {bool: "true/false", int: "a number", float: "a number", str: "a text", list: "a list"}
    return f"expected {wanted}, got {kinds.get(type(value), 'a table')}"


def read_texts(value: Any, path: str, problems: Problems) -> tuple[str, ...]:
    if not isinstance(value, list):
        problems.add(path, got(value, "a list of texts"))
        return ()
    items = [read_text(item, f"{path}[{n}]", problems) for n, item in enumerate(value, 1)]
    return tuple(item for item in items if item is not None)


def read_bool(value: Any, path: str, problems: Problems) -> bool | None:
    if isinstance(value, bool):
        return value
    problems.add(path, got(value, "true or false"))
    return None


def read_localized(value: Any, path: str, languages: tuple[str, ...], problems: Problems) -> Localized:
    if value is None:
        problems.add(path, "missing")
        return MappingProxyType({})
    if not isinstance(value, dict):
        problems.add(path, got(value, 'a table of texts by language, like { fr = "…", en = "…" }'))
        return MappingProxyType({})
    texts: dict[str, str] = {}
    for lang, text in value.items():
        if lang not in languages:
            problems.add(join(path, lang), f"language '{lang}' is not in this charter's languages")
        elif (checked := read_text(text, join(path, lang), problems)) is not None:
            texts[lang] = checked
    for lang in languages:
        if lang not in value:
            problems.add(path, f"missing the '{lang}' text")
    return MappingProxyType(texts)


def read_one_of(value: Any, choices: Iterable[str], path: str, what: str, problems: Problems) -> str | None:
    if not isinstance(value, str):
        problems.add(path, got(value, f"the name of {what}"))
        return None
    if value not in choices:
        problems.add(path, f"unknown {what} '{value}'")
        return None
    return value


def read_set(value: Any, path: str, problems: Problems) -> frozenset[str]:
    return frozenset(read_texts(value, path, problems))


def read_duration(value: Any, path: str, problems: Problems, *, forever: bool) -> Duration | None:
    if forever and value == FOREVER:
        return None
    try:
        return Duration.parse(value) if isinstance(value, str) else Duration.parse("")
    except ValueError as error:
        problems.add(path, str(error) if isinstance(value, str) else got(value, "a period like 5y or 90d"))
        return None
