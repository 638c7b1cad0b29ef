"""Durations ("5y", "90d") and sizes ("25MB") as a legal team writes them in a charter."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*(y|mo|w|d|h)\s*$")
_DAYS_PER_UNIT = {"y": 365, "mo": 30, "w": 7, "d": 1}
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)\s*$")
_BYTES_PER_UNIT = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}
FOREVER = "forever"


def parse_duration(text: str) -> timedelta:
    """Turn "5y", "6mo", "12w", "90d" or "24h" into a timedelta.

    A year counts 365 days and a month 30 days: a charter states periods, not calendar dates, and the
    same text must give the same deadline whatever the day it is applied.
    """
    found = _DURATION.match(text)
    if found is None:
        raise ValueError(f"not a duration: {text!r} (write e.g. 5y, 6mo, 12w, 90d or 24h)")
    amount, unit = int(found.group(1)), found.group(2)
    if unit == "h":
        return timedelta(hours=amount)
    return timedelta(days=amount * _DAYS_PER_UNIT[unit])


def point_in_time(now: datetime, text: str) -> datetime:
    """A period back from `now` ("30d") or an ISO 8601 date or date-time (UTC when it names no zone);
    ValueError for anything else."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


POINT_IN_TIME_HINT = "must be a date-time (ISO 8601) or a period such as 30d"


def parse_size(text: str) -> int:
    """Turn "25MB" (decimal) or "25MiB" (binary) into a number of bytes."""
    found = _SIZE.match(text)
    if found is None:
        raise ValueError(f"not a size: {text!r} (write e.g. 500KB, 25MB or 1GB)")
    return int(found.group(1)) * _BYTES_PER_UNIT[found.group(2)]


@dataclass(frozen=True, slots=True)
class Duration:
    """A period as written in the charter, kept with its parsed length so it can be shown back."""

    text: str
    delta: timedelta

    @classmethod
    def parse(cls, text: str) -> Duration:
        return cls(text=text.strip(), delta=parse_duration(text))

    def __str__(self) -> str:
        return self.text
