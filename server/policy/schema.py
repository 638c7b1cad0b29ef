"""The shape of a loaded charter: immutable, validated, indexed for evaluation.

`loader.py` builds these objects from TOML; `engine.py` reads them. Nothing here reads a file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from server.policy.units import Duration

Point = Literal[
    "publish", "ingress", "egress", "display", "membership", "retention", "analytics", "administration"
]
Action = Literal["allow", "reject", "hold", "redact", "label", "reference_only", "require_consent", "deny"]

POINTS: tuple[Point, ...] = (
    "publish",
    "ingress",
    "egress",
    "display",
    "membership",
    "retention",
    "analytics",
    "administration",
)
ACTIONS: tuple[Action, ...] = (
    "allow",
    "reject",
    "hold",
    "redact",
    "label",
    "reference_only",
    "require_consent",
    "deny",
)

ACTIONS_AT: Mapping[Point, frozenset[Action]] = MappingProxyType(
    {
        "publish": frozenset({"allow", "reject", "hold", "label"}),
        "ingress": frozenset({"allow", "reject", "hold", "label"}),
        "egress": frozenset({"allow", "deny", "redact", "reference_only", "require_consent"}),
        "display": frozenset({"label"}),
        "membership": frozenset({"allow", "deny"}),
        "retention": frozenset({"hold"}),
        "analytics": frozenset({"allow", "deny"}),
        "administration": frozenset({"allow", "deny"}),
    }
)

_CONTENT_MATCH = frozenset(
    {"detector", "keywords", "hashtags", "attachment_types", "attachment_larger_than", "content_kinds"}
)
_COMMUNITY_MATCH = frozenset({"community_tags", "community_kinds"})

MATCH_KEYS_AT: Mapping[Point, frozenset[str]] = MappingProxyType(
    {
        "publish": _CONTENT_MATCH | _COMMUNITY_MATCH | {"author_in", "author_not_in"},
        "ingress": _CONTENT_MATCH | _COMMUNITY_MATCH | {"origin_in", "origin_not_in"},
        "egress": _CONTENT_MATCH | _COMMUNITY_MATCH | {"destination_in", "destination_not_in"},
        "display": _CONTENT_MATCH
        | _COMMUNITY_MATCH
        | {"origin_in", "origin_not_in", "author_in", "author_not_in"},
        "membership": _COMMUNITY_MATCH | {"person_in", "person_not_in"},
        "retention": _COMMUNITY_MATCH | {"content_kinds"},
        "analytics": _COMMUNITY_MATCH,
        "administration": _COMMUNITY_MATCH,
    }
)
MATCH_KEYS: frozenset[str] = frozenset().union(*MATCH_KEYS_AT.values())

CONTENT_KINDS: frozenset[str] = frozenset(
    {"post", "comment", "reaction", "profile", "membership", "attachment", "message"}
)
RETENTION_KINDS: frozenset[str] = frozenset(
    {
        "posts",
        "comments",
        "reactions",
        "attachments",
        "messages",
        "notifications",
        "digests",
        "drafts",
        "profiles",
        "memberships",
        "audit",
        "access_logs",
        "analytics",
    }
)
MEDIA_METADATA: frozenset[str] = frozenset({"exif", "location"})

UNKNOWN = "unknown"
"""In a list of jurisdictions: a peer whose jurisdiction is not known."""
ANYWHERE = "*"
"""In a list of jurisdictions: any known jurisdiction."""

Localized = Mapping[str, str]
NO_TEXT: Localized = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Match:
    """What a rule looks for; every condition given must hold, and a list matches on any of its items."""

    detectors: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    keyword_pattern: re.Pattern[str] | None = None
    hashtags: frozenset[str] = frozenset()
    attachment_types: tuple[str, ...] = ()
    attachment_larger_than: int | None = None
    content_kinds: frozenset[str] = frozenset()
    community_tags: frozenset[str] = frozenset()
    community_kinds: frozenset[str] = frozenset()
    author_in: frozenset[str] = frozenset()
    author_not_in: frozenset[str] = frozenset()
    origin_in: frozenset[str] = frozenset()
    origin_not_in: frozenset[str] = frozenset()
    destination_in: frozenset[str] = frozenset()
    destination_not_in: frozenset[str] = frozenset()
    person_in: frozenset[str] = frozenset()
    person_not_in: frozenset[str] = frozenset()

    @property
    def looks_at_content(self) -> bool:
        return bool(
            self.detectors
            or self.keyword_pattern
            or self.hashtags
            or self.attachment_types
            or self.attachment_larger_than is not None
        )


@dataclass(frozen=True, slots=True)
class Rule:
    number: int
    at: Point
    action: Action
    match: Match = field(default_factory=Match)
    message: Localized = field(default_factory=lambda: NO_TEXT)
    label: Localized = field(default_factory=lambda: NO_TEXT)
    fields: tuple[str, ...] = ()
    keep: Duration | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    title: Localized
    text: Localized
    rules: tuple[Rule, ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    periods: Mapping[str, Duration | None] = field(default_factory=lambda: MappingProxyType({}))
    article: str | None = None


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    allow_jurisdictions: frozenset[str] = frozenset()
    allow_unknown: bool = False
    redact_profile_fields: tuple[str, ...] = ()
    redact_media: tuple[str, ...] = ()
    require_consent: bool = False
    reference_only_kinds: frozenset[str] = frozenset()
    article: str | None = None


@dataclass(frozen=True, slots=True)
class AnalyticsPolicy:
    min_group_size: int = 5
    per_person_figures: bool = False
    article: str | None = None


@dataclass(frozen=True, slots=True)
class AdministrationPolicy:
    admins_may_read_private: bool = False
    article: str | None = None


RuleRef = tuple[Article, Rule]


@dataclass(frozen=True, slots=True)
class Charter:
    """One instance's charter, its parents already merged in."""

    id: str
    version: str
    languages: tuple[str, ...]
    articles: tuple[Article, ...]
    jurisdiction: str | None = None
    regions: frozenset[str] = frozenset()
    extends: tuple[str, ...] = ()
    title: Localized = field(default_factory=lambda: NO_TEXT)
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    analytics: AnalyticsPolicy = field(default_factory=AnalyticsPolicy)
    administration: AdministrationPolicy = field(default_factory=AdministrationPolicy)
    region_members: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    rules_at: Mapping[Point, tuple[RuleRef, ...]] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def major(self) -> str:
        return major_of(self.version)

    def article(self, article_id: str | None) -> Article | None:
        if article_id is None:
            return None
        return next((a for a in self.articles if a.id == article_id), None)

    def regions_of(self, jurisdiction: str | None) -> frozenset[str]:
        if jurisdiction is None:
            return frozenset()
        return frozenset(r for r, members in self.region_members.items() if jurisdiction in members)


def major_of(version: str) -> str:
    return version.split(".", 1)[0]


def index_rules(articles: tuple[Article, ...]) -> Mapping[Point, tuple[RuleRef, ...]]:
    by_point: dict[Point, list[RuleRef]] = {p: [] for p in POINTS}
    for article in articles:
        for rule in article.rules:
            by_point[rule.at].append((article, rule))
    return MappingProxyType({p: tuple(refs) for p, refs in by_point.items()})
