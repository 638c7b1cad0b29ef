"""Decisions: what the charter decided, under which article, and how to say it to a person."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from server.policy.schema import NO_TEXT, Action, Localized, Point

SEVERITY: Mapping[Action, int] = {
    "allow": 0,
    "label": 1,
    "redact": 1,
    "reference_only": 2,
    "hold": 2,
    "require_consent": 3,
    "reject": 4,
    "deny": 4,
}


class Label(NamedTuple):
    article_id: str
    text: Localized


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision. `detectors` names kinds of identifiers found, never the values themselves.

    `criteria` says which conditions of the rule matched (e.g. "keyword:confidentiel", "attachment_type");
    `also` keeps the other rules that matched the same facts, less severe, for the audit log.
    """

    charter_id: str
    charter_version: str
    point: Point
    action: Action
    reason_code: str
    article_id: str | None = None
    message: Localized = field(default_factory=lambda: NO_TEXT)
    detectors: tuple[str, ...] = ()
    criteria: tuple[str, ...] = ()
    redacted_fields: tuple[str, ...] = ()
    labels: tuple[Label, ...] = ()
    hold_id: str | None = None
    deadline: datetime | None = None
    also: tuple[Decision, ...] = ()

    @property
    def severity(self) -> int:
        return SEVERITY[self.action]

    def text(self, lang: str, fallback: Sequence[str] = ("en",)) -> str:
        return localize(self.message, lang, fallback)


def localize(message: Mapping[str, str], lang: str, fallback: Sequence[str] = ("en",)) -> str:
    """The text in `lang`, else its base language ("fr" for "fr-CA"), else the fallbacks, else any."""
    for candidate in (lang, lang.split("-", 1)[0], *fallback):
        if candidate in message:
            return message[candidate]
    return next(iter(message.values()), "")
