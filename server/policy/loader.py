"""Loading charters from a directory: read TOML, validate, resolve `extends`, merge, index.

Nothing is read at import; every function takes the directory or files it works on.
Merging: the parent comes first, then each child in turn. Articles merge by id (a child's article replaces
the parent's with the same id, new ids are added) and sections merge key by key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from server.policy.problems import Problems
from server.policy.schema import (
    AdministrationPolicy,
    AnalyticsPolicy,
    Article,
    Charter,
    EgressPolicy,
    RetentionPolicy,
    index_rules,
)
from server.policy.units import parse_duration
from server.policy.validation import CharterFile, is_charter_id, read_charter_file

__all__ = ["CharterError", "charter_files", "check_files", "load_charter", "parse_duration"]

_POLICY_SECTIONS = ("retention", "egress", "analytics", "administration")


class CharterError(Exception):
    """A charter could not be loaded; `errors` has one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def charter_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.toml"))


def load_charter(directory: Path, charter_id: str) -> Charter:
    if not is_charter_id(charter_id):
        raise CharterError([f"{charter_id}: not a charter id (lower-case letters, digits, '-' and '_')"])
    path = directory / f"{charter_id}.toml"
    if not path.is_file():
        raise CharterError([f"{path.name}: no such charter in {directory}"])
    files, errors = _chain(path)
    if not files:
        raise CharterError(errors)
    charter, merge_errors = _merge(files)
    if errors or merge_errors:
        raise CharterError(errors + merge_errors)
    return charter


def check_files(paths: Iterable[Path]) -> list[str]:
    """Every problem in these files and in the charters they extend, one line each, without repeats."""
    seen: dict[str, None] = {}
    for path in paths:
        files, errors = _chain(Path(path))
        if files:
            errors += _merge(files)[1]
        seen.update(dict.fromkeys(errors))
    return list(seen)


def _read(path: Path) -> tuple[CharterFile | None, list[str]]:
    source = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, [f"{source}: no such file"]
    except UnicodeDecodeError:
        return None, [f"{source}: not UTF-8 text"]
    except tomllib.TOMLDecodeError as error:
        return None, [f"{source}: not valid TOML: {error}"]
    problems = Problems(source)
    charter_file = read_charter_file(data, source, path.stem, problems)
    return charter_file, problems.errors


def _chain(path: Path) -> tuple[list[CharterFile], list[str]]:
    """The file and its ancestors, the root ancestor first."""
    files: list[CharterFile] = []
    errors: list[str] = []
    current = path
    while True:
        charter_file, problems = _read(current)
        errors.extend(problems)
        if charter_file is None:
            break
        files.append(charter_file)
        parent = charter_file.extends
        if parent is None:
            break
        if parent in {f.id for f in files}:
            errors.append(f"{charter_file.source}: extends: '{parent}' leads back to this charter")
            break
        if not is_charter_id(parent) or not (current.parent / f"{parent}.toml").is_file():
            errors.append(
                f"{charter_file.source}: extends: no charter '{parent}' ({parent}.toml) beside this file"
            )
            break
        current = current.parent / f"{parent}.toml"
    return files[::-1], errors


def _article_order(article: Article) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\-]", article.id))


def _merge(files: list[CharterFile]) -> tuple[Charter, list[str]]:
    articles: dict[str, Article] = {}
    sections: dict[str, dict[str, tuple[Any, str]]] = {}
    for charter_file in files:
        articles.update((a.id, a) for a in charter_file.articles)
        for name, own in charter_file.sections.items():
            section = sections.setdefault(name, {})
            section.update((key, (value, charter_file.source)) for key, value in own.items())
    errors = [
        f"{source}: {name}.article: no article '{value}' in this charter"
        for name in _POLICY_SECTIONS
        for value, source in [sections.get(name, {}).get("article", (None, ""))]
        if value is not None and value not in articles
    ]
    values: dict[str, dict[str, Any]] = {
        name: {k: v for k, (v, _) in section.items() if v is not None} for name, section in sections.items()
    }
    ordered = tuple(sorted(articles.values(), key=_article_order))
    retention = values.get("retention", {})
    top = files[-1]
    charter = Charter(
        id=top.id,
        version=top.version,
        languages=top.languages,
        articles=ordered,
        jurisdiction=top.jurisdiction,
        regions=top.regions,
        extends=tuple(f.id for f in files[-2::-1]),
        title=top.title,
        retention=RetentionPolicy(
            periods=MappingProxyType(
                {k: v for k, v in _all(sections, "retention").items() if k != "article"}
            ),
            article=retention.get("article"),
        ),
        egress=EgressPolicy(**values.get("egress", {})),
        analytics=AnalyticsPolicy(**values.get("analytics", {})),
        administration=AdministrationPolicy(**values.get("administration", {})),
        region_members=MappingProxyType(values.get("region_members", {})),
        rules_at=index_rules(ordered),
    )
    return charter, errors


def _all(sections: Mapping[str, Mapping[str, tuple[Any, str]]], name: str) -> dict[str, Any]:
    """A section's keys including those set to None on purpose ("forever" in [retention])."""
    return {key: value for key, (value, _) in sections.get(name, {}).items()}
