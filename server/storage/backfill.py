"""Storage for backfill (FEP-7888): the fetch of a remote community's recent threads, and the reads that
serve a local community's outbox and a thread's `context` collection.

A `Backfill` row exists per community hosted elsewhere that this instance fetched (or will fetch) the
history of. Workers claim a pending row with a conditional update and a lease, so two worker processes
never run the same backfill at once, and a worker that died mid-way leaves a row that is taken again once
its lease ran out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, Integer, String, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from server.storage.base import Base, UTCDateTime
from server.storage.models import User
from server.storage.social import Post, PostCommunity

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"


class Backfill(Base):
    """state: pending | running | done | failed; `outcome` says what the last run came to."""

    __tablename__ = "backfills"
    __table_args__ = (Index("ix_backfills_state", "state", "requested_at"),)

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(300), default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


async def get_backfill(session: AsyncSession, community_id: int) -> Backfill | None:
    return await session.get(Backfill, community_id)


async def request_backfill(session: AsyncSession, community_id: int, now: datetime) -> bool:
    """Ask for a backfill of the community; False if one is already waiting or running."""
    row = await session.get(Backfill, community_id)
    if row is None:
        session.add(
            Backfill(community_id=community_id, state=PENDING, attempts=0, stored=0, requested_at=now)
        )
        await session.flush()
        return True
    if row.state in (PENDING, RUNNING):
        return False
    row.state, row.attempts, row.requested_at, row.leased_until = PENDING, 0, now, None
    return True


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        Backfill.state == PENDING,
        and_(Backfill.state == RUNNING, Backfill.leased_until < now),
    )


async def claim_backfill(session: AsyncSession, now: datetime, lease: timedelta) -> int | None:
    """The community id of a due backfill, now leased to the caller; None when nothing is due."""
    query = select(Backfill.community_id).where(_due(now)).order_by(Backfill.requested_at).limit(1)
    community_id = (await session.execute(query)).scalar_one_or_none()
    if community_id is None:
        return None
    claimed = await session.execute(
        update(Backfill)
        .where(Backfill.community_id == community_id, _due(now))
        .values(state=RUNNING, leased_until=now + lease, attempts=Backfill.attempts + 1)
    )
    return community_id if claimed.rowcount == 1 else None  # type: ignore[attr-defined]


async def finish_backfill(
    session: AsyncSession, community_id: int, now: datetime, *, state: str, stored: int, outcome: str
) -> None:
    await session.execute(
        update(Backfill)
        .where(Backfill.community_id == community_id)
        .values(state=state, stored=stored, outcome=outcome[:300], finished_at=now, leased_until=None)
    )


def _visible_roots(community_id: int) -> ColumnElement[bool]:
    return and_(
        PostCommunity.community_id == community_id,
        Post.id == PostCommunity.post_id,
        Post.root_id.is_(None),
        Post.deleted_at.is_(None),
        Post.held.is_(False),
    )


async def count_community_threads(session: AsyncSession, community_id: int) -> int:
    query = select(func.count(Post.id)).select_from(PostCommunity).join(Post, _visible_roots(community_id))
    return int((await session.execute(query)).scalar_one())


async def community_threads(
    session: AsyncSession, community_id: int, *, offset: int, limit: int
) -> Sequence[Post]:
    """Root posts shared in the community (not deleted, not held), newest first."""
    query = (
        select(Post)
        .select_from(PostCommunity)
        .join(Post, _visible_roots(community_id))
        .order_by(PostCommunity.created_at.desc(), Post.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


def _visible_in_thread(root_id: int) -> ColumnElement[bool]:
    return and_(
        or_(Post.id == root_id, Post.root_id == root_id), Post.deleted_at.is_(None), Post.held.is_(False)
    )


async def count_thread_posts(session: AsyncSession, root_id: int) -> int:
    query = select(func.count(Post.id)).where(_visible_in_thread(root_id))
    return int((await session.execute(query)).scalar_one())


async def thread_page(session: AsyncSession, root_id: int, *, offset: int, limit: int) -> Sequence[Post]:
    """The root then its comments (not deleted, not held), oldest first."""
    query = (
        select(Post)
        .where(_visible_in_thread(root_id))
        .order_by((Post.id != root_id), Post.created_at, Post.id)
        .offset(offset)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def user_of_actor(session: AsyncSession, actor_id: int) -> User | None:
    return (await session.execute(select(User).where(User.actor_id == actor_id))).scalar_one_or_none()
