"""Does a rule's `match` hold for these facts? Conditions combine with AND, list items with OR."""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.policy.detectors import DETECTORS
from server.policy.facts import Attachment, ContentFacts
from server.policy.schema import ANYWHERE, UNKNOWN, Charter, Match

_HASHTAG = re.compile(r"(?<![\w#])#(\w+)")


@dataclass(frozen=True, slots=True)
class Place:
    """A jurisdiction (None when unknown) and the region tags it belongs to."""

    code: str | None
    regions: frozenset[str] = frozenset()

    @classmethod
    def of(cls, charter: Charter, code: str | None, extra_regions: frozenset[str] = frozenset()) -> Place:
        return cls(code, charter.regions_of(code) | extra_regions if code is not None else frozenset())

    def listed_in(self, listed: frozenset[str]) -> bool:
        if self.code is None:
            return UNKNOWN in listed
        return ANYWHERE in listed or self.code in listed or bool(self.regions & listed)


class ContentScan:
    """Runs each detector at most once per piece of content, whatever the number of rules using it."""

    def __init__(self, content: ContentFacts) -> None:
        self.content = content
        self._found: dict[str, bool] = {}
        self.hashtags = frozenset(t.lstrip("#").casefold() for t in content.hashtags) | frozenset(
            t.casefold() for t in _HASHTAG.findall(content.text)
        )

    def detected(self, name: str) -> bool:
        if name not in self._found:
            self._found[name] = bool(DETECTORS[name].find(self.content.text))
        return self._found[name]


@dataclass(frozen=True, slots=True)
class Situation:
    """Everything a rule may look at, for one evaluation point."""

    scan: ContentScan | None = None
    content_kind: str | None = None
    community_tags: frozenset[str] = frozenset()
    community_kind: str | None = None
    author: Place | None = None
    origin: Place | None = None
    destination: Place | None = None
    person: Place | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    detectors: tuple[str, ...] = ()
    criteria: tuple[str, ...] = ()


def _attachment_type_matches(pattern: str, attachment: Attachment) -> bool:
    if pattern.startswith("."):
        return attachment.filename.lower().endswith(pattern)
    mime = attachment.mime.lower()
    return mime.startswith(pattern[:-1]) if pattern.endswith("/*") else mime == pattern


def _content_hit(match: Match, scan: ContentScan | None) -> Hit | None:
    if not match.looks_at_content:
        return Hit()
    if scan is None:
        return None
    criteria: list[str] = []
    detectors: tuple[str, ...] = ()
    if match.detectors:
        detectors = tuple(name for name in match.detectors if scan.detected(name))
        if not detectors:
            return None
        criteria.extend(f"detector:{name}" for name in detectors)
    if match.keyword_pattern is not None:
        found = match.keyword_pattern.search(scan.content.text)
        if found is None:
            return None
        criteria.append(f"keyword:{found.group().casefold()}")
    if match.hashtags:
        tags = sorted(match.hashtags & scan.hashtags)
        if not tags:
            return None
        criteria.extend(f"hashtag:{tag}" for tag in tags)
    attachments = scan.content.attachments
    if match.attachment_types:
        types = [
            p for p in match.attachment_types if any(_attachment_type_matches(p, a) for a in attachments)
        ]
        if not types:
            return None
        criteria.extend(f"attachment_type:{p}" for p in types)
    if match.attachment_larger_than is not None:
        if not any(a.size_bytes > match.attachment_larger_than for a in attachments):
            return None
        criteria.append("attachment_size")
    return Hit(detectors, tuple(criteria))


def _place_hit(place: Place | None, listed: frozenset[str], excluded: frozenset[str]) -> bool:
    if not listed and not excluded:
        return True
    if place is None:
        return False
    return (not listed or place.listed_in(listed)) and not (excluded and place.listed_in(excluded))


def rule_hit(match: Match, situation: Situation) -> Hit | None:
    """The detectors and conditions that matched, or None when the rule does not apply."""
    if match.content_kinds and situation.content_kind not in match.content_kinds:
        return None
    if match.community_tags and not match.community_tags & situation.community_tags:
        return None
    if match.community_kinds and situation.community_kind not in match.community_kinds:
        return None
    places = (
        (situation.author, match.author_in, match.author_not_in),
        (situation.origin, match.origin_in, match.origin_not_in),
        (situation.destination, match.destination_in, match.destination_not_in),
        (situation.person, match.person_in, match.person_not_in),
    )
    if not all(_place_hit(place, listed, excluded) for place, listed, excluded in places):
        return None
    return _content_hit(match, situation.scan)
