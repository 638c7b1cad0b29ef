"""Check one parsed charter file and turn it into validated parts, collecting every problem found."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from server.policy.problems import (
    Problems,
    got,
    read_bool,
    read_duration,
    read_localized,
    read_set,
    read_text,
    read_texts,
    unknown_keys,
)
from server.policy.rules import read_article
from server.policy.schema import CONTENT_KINDS, MEDIA_METADATA, RETENTION_KINDS, Article, Localized
from server.policy.units import FOREVER

TOP_KEYS = (
    "id", "extends", "title", "jurisdiction", "regions", "version", "languages", "article",
    "retention", "egress", "analytics", "administration", "region_members",
)  # fmt: skip
EGRESS_KEYS = (
    "allow_jurisdictions", "allow_unknown", "redact_profile_fields", "redact_media", "require_consent",
    "reference_only_kinds", "article",
)  # fmt: skip
ANALYTICS_KEYS = ("min_group_size", "per_person_figures", "article")
ADMINISTRATION_KEYS = ("admins_may_read_private", "article")

_CHARTER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_JURISDICTION = re.compile(r"^[A-Z]{2}$")


def is_charter_id(text: str) -> bool:
    return _CHARTER_ID.match(text) is not None


@dataclass(frozen=True, slots=True)
class CharterFile:
    """One file's own content, before its parents are merged in. Sections hold only the keys it sets."""

    source: str
    id: str
    extends: str | None
    version: str
    languages: tuple[str, ...]
    jurisdiction: str | None
    regions: frozenset[str]
    title: Localized
    articles: tuple[Article, ...]
    sections: Mapping[str, Mapping[str, object]]


def _retention(raw: dict[str, Any], problems: Problems) -> dict[str, object]:
    unknown_keys(raw, (*sorted(RETENTION_KINDS), "article"), "retention", problems)
    found: dict[str, object] = {}
    for key, value in raw.items():
        if key == "article":
            found[key] = read_text(value, "retention.article", problems)
        elif key in RETENTION_KINDS:
            duration = read_duration(value, f"retention.{key}", problems, forever=True)
            if duration is not None or value == FOREVER:
                found[key] = duration
    return found


def _egress(raw: dict[str, Any], problems: Problems) -> dict[str, object]:
    unknown_keys(raw, EGRESS_KEYS, "egress", problems)
    found: dict[str, object] = {}
    for key, value in raw.items():
        path = f"egress.{key}"
        if key in ("allow_unknown", "require_consent"):
            found[key] = read_bool(value, path, problems)
        elif key == "article":
            found[key] = read_text(value, path, problems)
        elif key == "allow_jurisdictions":
            found[key] = read_set(value, path, problems)
        elif key == "reference_only_kinds":
            kinds = read_texts(value, path, problems)
            for n, kind in enumerate(kinds, 1):
                if kind not in CONTENT_KINDS:
                    problems.add(f"{path}[{n}]", f"unknown content kind '{kind}'")
            found[key] = frozenset(kinds)
        elif key == "redact_media":
            media = read_texts(value, path, problems)
            for n, item in enumerate(media, 1):
                if item not in MEDIA_METADATA:
                    problems.add(f"{path}[{n}]", f"unknown media metadata '{item}' (use exif or location)")
            found[key] = media
        elif key == "redact_profile_fields":
            found[key] = read_texts(value, path, problems)
    return found


def _analytics(raw: dict[str, Any], problems: Problems) -> dict[str, object]:
    unknown_keys(raw, ANALYTICS_KEYS, "analytics", problems)
    found: dict[str, object] = {}
    for key, value in raw.items():
        if key == "min_group_size":
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                found[key] = value
            else:
                problems.add("analytics.min_group_size", "expected a whole number of people, 1 or more")
        elif key == "per_person_figures":
            found[key] = read_bool(value, "analytics.per_person_figures", problems)
        elif key == "article":
            found[key] = read_text(value, "analytics.article", problems)
    return found


def _administration(raw: dict[str, Any], problems: Problems) -> dict[str, object]:
    unknown_keys(raw, ADMINISTRATION_KEYS, "administration", problems)
    found: dict[str, object] = {}
    for key, value in raw.items():
        if key == "admins_may_read_private":
            found[key] = read_bool(value, "administration.admins_may_read_private", problems)
        elif key == "article":
            found[key] = read_text(value, "administration.article", problems)
    return found


def _region_members(raw: dict[str, Any], problems: Problems) -> dict[str, object]:
    return {tag: read_set(codes, f"region_members.{tag}", problems) for tag, codes in raw.items()}


_SECTIONS = {
    "retention": _retention,
    "egress": _egress,
    "analytics": _analytics,
    "administration": _administration,
    "region_members": _region_members,
}


def read_charter_file(
    data: Mapping[str, Any], source: str, expected_id: str, problems: Problems
) -> CharterFile:
    """Validate one parsed file into `problems`; the result is meaningful only if none were added."""
    unknown_keys(data, TOP_KEYS, "", problems)
    charter_id = _required_text(data, "id", problems) or expected_id
    if charter_id != expected_id:
        problems.add("id", f"'{charter_id}' does not match the file name (expected '{expected_id}')")
    elif not is_charter_id(charter_id):
        problems.add("id", "use lower-case letters, digits, '-' and '_' only")
    version = _required_text(data, "version", problems) or "0"
    if not _VERSION.match(version):
        problems.add("version", f"'{version}' is not a version like \"2026.2\"")
    languages = read_texts(data.get("languages"), "languages", problems) if "languages" in data else ()
    if "languages" not in data:
        problems.add("languages", 'missing (the languages of the texts, like ["fr", "en"])')
    for n, lang in enumerate(languages, 1):
        if not _LANGUAGE.match(lang):
            problems.add(f"languages[{n}]", f'\'{lang}\' is not a language code like "fr" or "zh"')
    extends = read_text(data["extends"], "extends", problems) if "extends" in data else None
    jurisdiction = (
        read_text(data["jurisdiction"], "jurisdiction", problems) if "jurisdiction" in data else None
    )
    if jurisdiction is not None and not _JURISDICTION.match(jurisdiction):
        problems.add("jurisdiction", f"'{jurisdiction}' is not a two-letter country code like \"FR\"")
    regions = read_set(data["regions"], "regions", problems) if "regions" in data else frozenset()
    title = (
        read_localized(data["title"], "title", languages, problems)
        if "title" in data
        else MappingProxyType({})
    )
    raw_articles = data.get("article", [])
    if not isinstance(raw_articles, list):
        problems.add("article", "expected [[article]] blocks")
        raw_articles = []
    articles = [
        read_article(a, f"article[{n}]", languages, problems, source) for n, a in enumerate(raw_articles, 1)
    ]
    seen: dict[str, int] = {}
    for n, article in enumerate(articles, 1):
        if article is None:
            continue
        if article.id in seen:
            problems.add(f"article[{n}].id", f"'{article.id}' is already used by article[{seen[article.id]}]")
        seen.setdefault(article.id, n)
    sections: dict[str, Mapping[str, object]] = {}
    for name, read in _SECTIONS.items():
        if name not in data:
            continue
        if isinstance(data[name], dict):
            sections[name] = MappingProxyType(read(data[name], problems))
        else:
            problems.add(name, got(data[name], f"a [{name}] table"))
    return CharterFile(
        source=source,
        id=charter_id,
        extends=extends,
        version=version,
        languages=languages,
        jurisdiction=jurisdiction,
        regions=regions,
        title=title,
        articles=tuple(a for a in articles if a is not None),
        sections=MappingProxyType(sections),
    )


def _required_text(data: Mapping[str, Any], key: str, problems: Problems) -> str | None:
    if key not in data:
        problems.add(key, "missing")
        return None
    return read_text(data[key], key, problems)
