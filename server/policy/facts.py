"""What the engine is told about a situation: services build these from storage, the engine reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple


class Attachment(NamedTuple):
    mime: str
    size_bytes: int
    filename: str = ""


@dataclass(frozen=True, slots=True)
class ContentFacts:
    """A post, comment or other piece of content as the charter sees it."""

    text: str = ""
    hashtags: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    kind: str = "post"
    community_kind: str | None = None
    community_tags: frozenset[str] = frozenset()
    author_jurisdiction: str | None = None


@dataclass(frozen=True, slots=True)
class IngressFacts:
    """Content arriving from a peer whose jurisdiction is `origin_jurisdiction` (None: unknown)."""

    content: ContentFacts
    origin_jurisdiction: str | None
    origin_regions: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class EgressFacts:
    """Something about to leave for a peer in `destination_jurisdiction` (None: unknown).

    `profile_fields` and `media_metadata` ("exif", "location") name what the payload actually carries;
    `consented_jurisdictions` are the jurisdictions or regions the author agreed to send personal data to.
    """

    destination_jurisdiction: str | None
    content_kind: str
    destination_regions: frozenset[str] = frozenset()
    consented_jurisdictions: frozenset[str] = frozenset()
    profile_fields: frozenset[str] = frozenset()
    media_metadata: frozenset[str] = frozenset()
    content: ContentFacts | None = None


@dataclass(frozen=True, slots=True)
class DisplayFacts:
    content: ContentFacts
    origin_jurisdiction: str | None = None
    origin_regions: frozenset[str] = frozenset()
    is_remote: bool = False


@dataclass(frozen=True, slots=True)
class MembershipFacts:
    person_jurisdiction: str | None
    community_tags: frozenset[str] = frozenset()
    community_kind: str | None = None
    person_regions: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class AnalyticsFacts:
    group_size: int
    per_person: bool = False
    community_tags: frozenset[str] = frozenset()
    community_kind: str | None = None


@dataclass(frozen=True, slots=True)
class LegalHold:
    """A hold placed by the legal team. Every target it names must match; a hold naming none covers all.

    Active from `placed_at` until `released_at` (excluded). `period_start`/`period_end` bound the creation
    time of the content it covers (start included, end excluded).
    """

    id: str
    placed_at: datetime
    released_at: datetime | None = None
    person_id: str | None = None
    community_id: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    reason: str = ""

    def is_active(self, now: datetime) -> bool:
        return self.placed_at <= now and (self.released_at is None or now < self.released_at)

    def covers(self, created_at: datetime, author_id: str | None, community_id: str | None) -> bool:
        return (
            (self.person_id is None or self.person_id == author_id)
            and (self.community_id is None or self.community_id == community_id)
            and (self.period_start is None or self.period_start <= created_at)
            and (self.period_end is None or created_at < self.period_end)
        )


@dataclass(frozen=True, slots=True)
class StoredItem:
    """A stored piece of content, for simulation: its id, when it was made and its facts."""

    id: str
    created_at: datetime
    content: ContentFacts
    retention_kind: str = "posts"
    author_id: str | None = None
    community_id: str | None = None
