"""Reading `[[article]]` and `[[article.rule]]` blocks into validated, precompiled objects."""

from __future__ import annotations

import re
from collections.abc import Iterable
from types import MappingProxyType
from typing import Any, cast

from server.policy.detectors import DETECTORS
from server.policy.problems import (
    Problems,
    got,
    join,
    read_duration,
    read_localized,
    read_one_of,
    read_text,
    read_texts,
    unknown_keys,
)
from server.policy.schema import (
    ACTIONS,
    ACTIONS_AT,
    CONTENT_KINDS,
    MATCH_KEYS,
    MATCH_KEYS_AT,
    POINTS,
    RETENTION_KINDS,
    Action,
    Article,
    Localized,
    Match,
    Point,
    Rule,
)
from server.policy.units import parse_size

ARTICLE_KEYS = ("id", "title", "text", "rule")
RULE_KEYS = ("at", "match", "action", "message", "label", "fields", "keep", "code")
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern: whole words, except in scripts written without spaces (CJK)."""
    parts = []
    for keyword in sorted(keywords, key=len, reverse=True):
        escaped = re.escape(keyword.strip())
        head = "" if _CJK.match(keyword.strip()[0]) else r"(?<!\w)"
        tail = "" if _CJK.match(keyword.strip()[-1]) else r"(?!\w)"
        parts.append(head + escaped + tail)
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def _match(value: Any, at: Point | None, path: str, problems: Problems) -> Match:
    if not isinstance(value, dict):
        problems.add(path, got(value, "a table of conditions"))
        return Match()
    unknown_keys(value, sorted(MATCH_KEYS), path, problems)
    found: dict[str, Any] = {}
    for key, raw in value.items():
        key_path = join(path, key)
        if key not in MATCH_KEYS:
            continue
        if at is not None and key not in MATCH_KEYS_AT[at]:
            problems.add(key_path, f"not used at {at}")
            continue
        if key == "attachment_larger_than":
            try:
                found[key] = parse_size(raw) if isinstance(raw, str) else parse_size("")
            except ValueError as error:
                problems.add(key_path, str(error) if isinstance(raw, str) else got(raw, "a size like 25MB"))
            continue
        items = read_texts(raw, key_path, problems)
        if key == "detector":
            for n, name in enumerate(items, 1):
                if name not in DETECTORS:
                    problems.add(f"{key_path}[{n}]", f"unknown detector '{name}'")
            found["detectors"] = tuple(items)
        elif key == "content_kinds":
            kinds = RETENTION_KINDS if at == "retention" else CONTENT_KINDS
            for n, kind in enumerate(items, 1):
                if kind not in kinds:
                    problems.add(f"{key_path}[{n}]", f"unknown content kind '{kind}'")
            found[key] = frozenset(items)
        elif key == "keywords":
            found[key] = items
            found["keyword_pattern"] = keyword_pattern(items)
        elif key == "hashtags":
            found[key] = frozenset(tag.lstrip("#").casefold() for tag in items)
        elif key == "attachment_types":
            found[key] = tuple(t.lower() for t in items)
        else:
            found[key] = frozenset(items)
    return Match(**found)


def _rule(raw: Any, path: str, languages: tuple[str, ...], problems: Problems) -> Rule | None:
    if not isinstance(raw, dict):
        problems.add(path, got(raw, "a table"))
        return None
    unknown_keys(raw, RULE_KEYS, path, problems)
    at = cast("Point | None", None)
    if "at" not in raw:
        problems.add(join(path, "at"), f"missing (one of {', '.join(POINTS)})")
    else:
        at = cast("Point | None", read_one_of(raw["at"], POINTS, join(path, "at"), "point", problems))
    action = cast("Action | None", None)
    if "action" not in raw:
        problems.add(join(path, "action"), "missing")
    else:
        action = cast(
            "Action | None", read_one_of(raw["action"], ACTIONS, join(path, "action"), "action", problems)
        )
    if at is not None and action is not None and action not in ACTIONS_AT[at]:
        allowed = ", ".join(sorted(ACTIONS_AT[at]))
        problems.add(join(path, "action"), f"'{action}' cannot be used at {at} (allowed there: {allowed})")
    match = _match(raw["match"], at, join(path, "match"), problems) if "match" in raw else Match()
    message = (
        read_localized(raw["message"], join(path, "message"), languages, problems) if "message" in raw else {}
    )
    label: Localized = MappingProxyType({})
    if "label" in raw:
        label = read_localized(raw["label"], join(path, "label"), languages, problems)
        if action is not None and action != "label":
            problems.add(join(path, "label"), "only used when the action is 'label'")
    elif action == "label":
        problems.add(join(path, "label"), "required when the action is 'label'")
    fields: tuple[str, ...] = ()
    if "fields" in raw:
        fields = read_texts(raw["fields"], join(path, "fields"), problems)
        if action is not None and action != "redact":
            problems.add(join(path, "fields"), "only used when the action is 'redact'")
    elif action == "redact":
        problems.add(join(path, "fields"), "required when the action is 'redact'")
    keep = None
    if "keep" in raw:
        keep = read_duration(raw["keep"], join(path, "keep"), problems, forever=False)
        if at is not None and at != "retention":
            problems.add(join(path, "keep"), "only used at retention")
    code = read_text(raw["code"], join(path, "code"), problems) if "code" in raw else None
    if at is None or action is None:
        return None
    number = int(path.rsplit("[", 1)[1].rstrip("]"))
    return Rule(number, at, action, match, MappingProxyType(dict(message)), label, fields, keep, code)


def read_article(
    raw: Any, path: str, languages: tuple[str, ...], problems: Problems, source: str
) -> Article | None:
    if not isinstance(raw, dict):
        problems.add(path, got(raw, "a table"))
        return None
    unknown_keys(raw, ARTICLE_KEYS, path, problems)
    article_id = read_text(raw.get("id"), join(path, "id"), problems) if "id" in raw else None
    if "id" not in raw:
        problems.add(join(path, "id"), 'missing (the article number, like "4.2")')
    title = read_localized(raw.get("title"), join(path, "title"), languages, problems)
    text = read_localized(raw.get("text"), join(path, "text"), languages, problems)
    raw_rules = raw.get("rule", [])
    if not isinstance(raw_rules, list):
        problems.add(join(path, "rule"), "expected [[article.rule]] blocks")
        raw_rules = []
    rules = [_rule(r, f"{path}.rule[{n}]", languages, problems) for n, r in enumerate(raw_rules, 1)]
    if article_id is None:
        return None
    return Article(article_id, title, text, tuple(r for r in rules if r is not None), source)
