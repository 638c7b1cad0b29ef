"""Small result values shared by the parsers and verifiers of this package."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Failure:
    """A parse that did not succeed, with a reason fit for a log line or a 4xx body."""

    reason: str


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    reason: str | None = None


PASSED = Check(True)


def failed(reason: str) -> Check:
    return Check(False, reason)
