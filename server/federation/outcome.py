"""What processing an inbound activity comes to: a label for the record, and the writes to make."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class Outcome:
    """`apply` runs in the transaction that marks the activity processed, so it happens exactly once."""

    label: str
    apply: Callable[[AsyncSession], Awaitable[None]] | None = None
