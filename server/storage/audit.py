"""The append-only audit log: rows are added and read, never changed.

This module deliberately has no function that changes or removes a row; a test checks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.compliance import AuditEntry


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries to read; every field given must hold. `before_id` is the cursor (newest first)."""

    since: datetime | None = None
    until: datetime | None = None
    charter_id: str | None = None
    article_id: str | None = None
    point: str | None = None
    action: str | None = None
    subject_kind: str | None = None
    subject: str | None = None
    before_id: int | None = None


async def add_audit_entry(session: AsyncSession, entry: AuditEntry) -> AuditEntry:
    session.add(entry)
    await session.flush()
    return entry


async def list_audit_entries(
    session: AsyncSession, where: AuditFilter, *, limit: int = 100
) -> Sequence[AuditEntry]:
    """Matching entries, newest first."""
    query = select(AuditEntry)
    if where.since is not None:
        query = query.where(AuditEntry.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEntry.at < where.until)
    if where.charter_id is not None:
        query = query.where(AuditEntry.charter_id == where.charter_id)
    if where.article_id is not None:
        query = query.where(AuditEntry.article_id == where.article_id)
    if where.point is not None:
        query = query.where(AuditEntry.point == where.point)
    if where.action is not None:
        query = query.where(AuditEntry.action == where.action)
    if where.subject_kind is not None:
        query = query.where(AuditEntry.subject_kind == where.subject_kind)
    if where.subject is not None:
        query = query.where(AuditEntry.subject == where.subject)
    if where.before_id is not None:
        query = query.where(AuditEntry.id < where.before_id)
    result = await session.execute(query.order_by(AuditEntry.id.desc()).limit(limit))
    return result.scalars().all()


async def count_decisions(session: AsyncSession) -> list[tuple[str, str | None, str, str, int]]:
    """(charter, article, point, action, how many) over the whole log: the figures `/metrics` exposes."""
    query = select(
        AuditEntry.charter_id, AuditEntry.article_id, AuditEntry.point, AuditEntry.action, func.count()
    ).group_by(AuditEntry.charter_id, AuditEntry.article_id, AuditEntry.point, AuditEntry.action)
    return [(r[0], r[1], r[2], r[3], int(r[4])) for r in (await session.execute(query)).all()]
