"""What each answer from a peer means for a delivery: written once, tested once per row.

| answer                         | meaning                                   | next step                    |
|--------------------------------|-------------------------------------------|------------------------------|
| 2xx                            | the peer has it                           | delivered                    |
| 429, 503                       | the peer asks us to slow down             | retry after `Retry-After`    |
| 401, 408, other 5xx, no answer | a passing failure (or a key it must fetch)| retry with backoff           |
| other 4xx                      | the peer will never take it               | give up, recorded            |

A 3xx is treated as "other 4xx": inboxes do not redirect, and following a redirect would
send a signed request somewhere the allowlist did not approve.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum


class Next(StrEnum):
    DELIVERED = "delivered"
    RETRY_AFTER = "retry_after"
    BACKOFF = "backoff"
    GIVE_UP = "give_up"


@dataclass(frozen=True)
class Outcome:
    next: Next
    retry_after: timedelta | None = None


BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
MAX_RETRY_AFTER = timedelta(hours=6)


def classify(status: int | None, retry_after: str | None = None, *, now: datetime) -> Outcome:
    """The outcome of one attempt: `status` is None when no HTTP answer came (network error, timeout)."""
    if status is None:
        return Outcome(Next.BACKOFF)
    if 200 <= status < 300:
        return Outcome(Next.DELIVERED)
    if status in (429, 503):
        return Outcome(Next.RETRY_AFTER, parse_retry_after(retry_after, now))
    if status in (401, 408) or status >= 500:
        return Outcome(Next.BACKOFF)
    return Outcome(Next.GIVE_UP)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """`Retry-After` as seconds or an HTTP date; None when absent or unreadable; capped at 6 hours."""
    if not value:
        return None
    value = value.strip()
    try:
        delay = timedelta(seconds=int(value))
    except ValueError:
        try:
            delay = parsedate_to_datetime(value) - now
        except (TypeError, ValueError):
            return None
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))


def backoff(failures: int, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter: 30 s, 1 min, 2 min, … capped at 1 h, each from half to all of it."""
    ceiling: timedelta = min(BASE_DELAY * (2 ** max(0, failures - 1)), MAX_DELAY)
    return ceiling * (0.5 + rng.random() / 2)
