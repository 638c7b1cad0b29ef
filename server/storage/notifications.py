"""Storage verbs for in-app notifications and read markers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.models import User
from server.storage.social import Notification, ReadMarker


async def users_by_actor_ids(session: AsyncSession, actor_ids: Sequence[int]) -> dict[int, User]:
    if not actor_ids:
        return {}
    query = select(User).where(User.actor_id.in_(set(actor_ids)), User.disabled_at.is_(None))
    return {u.actor_id: u for u in (await session.execute(query)).scalars() if u.actor_id is not None}


async def add_notifications(session: AsyncSession, rows: Sequence[Notification]) -> None:
    session.add_all(rows)
    await session.flush()


async def list_notifications(
    session: AsyncSession, user_id: int, *, limit: int, before_id: int | None, unread_only: bool
) -> Sequence[Notification]:
    query = select(Notification).where(Notification.user_id == user_id)
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return (await session.execute(query.order_by(Notification.id.desc()).limit(limit))).scalars().all()


async def count_unread_notifications(session: AsyncSession, user_id: int) -> int:
    query = select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    return int((await session.execute(query)).scalar_one())


async def mark_notifications_read(
    session: AsyncSession, user_id: int, now: datetime, ids: Sequence[int] | None
) -> int:
    query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if ids is not None:
        query = query.where(Notification.id.in_(set(ids)))
    result = await session.execute(query.values(read_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


async def get_read_markers(session: AsyncSession, user_id: int, scopes: Sequence[str]) -> dict[str, datetime]:
    if not scopes:
        return {}
    query = select(ReadMarker).where(ReadMarker.user_id == user_id, ReadMarker.scope.in_(set(scopes)))
    return {m.scope: m.read_at for m in (await session.execute(query)).scalars()}


async def set_read_marker(session: AsyncSession, user_id: int, scope: str, now: datetime) -> None:
    marker = await session.get(ReadMarker, (user_id, scope))
    if marker is None:
        session.add(ReadMarker(user_id=user_id, scope=scope, read_at=now))
    else:
        marker.read_at = now
    await session.flush()
