"""Tables and verbs of moderation: reports about content, and who moderates a Group hosted elsewhere.

A `Report` sits in the queue of one community. It comes from a local person, or from a person on
another instance whose `Flag` reached the community's Group here (`origin_domain` set, `uri` the
Flag's id). A report a local person makes about content of a community hosted elsewhere is kept
here as `forwarded`: the Group's own instance keeps the queue.

`GroupModerator` rows are this instance's copy of a remote Group's moderators collection
(`attributedTo`), kept up to date by the Group's `Add` and `Remove` activities.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from server.storage.base import Base, UTCDateTime
from server.storage.social import URI, Post, PostCommunity

OPEN, DISMISSED, REMOVED, FORWARDED = "open", "dismissed", "removed", "forwarded"


class Report(Base):
    """state: open | dismissed | removed | forwarded."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_queue", "community_id", "state", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(URI, unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    category: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20))
    origin_domain: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))


class GroupModerator(Base):
    """A moderator of a Group hosted on another instance, as that Group announced with `Add`."""

    __tablename__ = "group_moderators"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), primary_key=True)
    activity_uri: Mapped[str] = mapped_column(URI)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- reports ---------------------------------------------------------------------------------------------


async def add_report(session: AsyncSession, report: Report) -> Report:
    session.add(report)
    await session.flush()
    return report


async def get_report(session: AsyncSession, report_id: int) -> Report | None:
    return await session.get(Report, report_id)


async def report_uri_known(session: AsyncSession, uri: str) -> bool:
    query = select(Report.id).where(Report.uri == uri)
    return (await session.execute(query)).first() is not None


async def open_report_by(
    session: AsyncSession, community_id: int, post_id: int, reporter_id: int
) -> Report | None:
    query = select(Report).where(
        Report.community_id == community_id,
        Report.post_id == post_id,
        Report.reporter_id == reporter_id,
        Report.state.in_((OPEN, FORWARDED)),
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def list_open_reports(session: AsyncSession, community_id: int, *, limit: int) -> Sequence[Report]:
    """A community's open reports, newest first."""
    query = select(Report).where(Report.community_id == community_id, Report.state == OPEN)
    return (await session.execute(query.order_by(Report.id.desc()).limit(limit))).scalars().all()


async def resolve_open_reports(
    session: AsyncSession, community_id: int, post_id: int, *, state: str, by_actor_id: int, now: datetime
) -> int:
    """Close every open report on this post in this community (a removal answers them all)."""
    result = await session.execute(
        update(Report)
        .where(Report.community_id == community_id, Report.post_id == post_id, Report.state == OPEN)
        .values(state=state, resolved_at=now, resolved_by_id=by_actor_id)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def held_posts(session: AsyncSession, community_id: int, *, limit: int) -> Sequence[Post]:
    """Posts and comments held by the charter in this community's threads, oldest first."""
    shared = select(PostCommunity.post_id).where(PostCommunity.community_id == community_id)
    query = (
        select(Post)
        .where(
            Post.held.is_(True),
            Post.deleted_at.is_(None),
            or_(Post.id.in_(shared), Post.root_id.in_(shared)),
        )
        .order_by(Post.created_at, Post.id)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


# --- moderators of Groups hosted elsewhere --------------------------------------------------------------


async def is_group_moderator(session: AsyncSession, community_id: int, actor_id: int) -> bool:
    query = select(GroupModerator.actor_id).where(
        GroupModerator.community_id == community_id, GroupModerator.actor_id == actor_id
    )
    return (await session.execute(query)).first() is not None


async def add_group_moderator(
    session: AsyncSession, community_id: int, actor_id: int, activity_uri: str, now: datetime
) -> bool:
    if await is_group_moderator(session, community_id, actor_id):
        return False
    session.add(
        GroupModerator(community_id=community_id, actor_id=actor_id, activity_uri=activity_uri, added_at=now)
    )
    await session.flush()
    return True


async def remove_group_moderator(session: AsyncSession, community_id: int, actor_id: int) -> bool:
    result = await session.execute(
        delete(GroupModerator).where(
            GroupModerator.community_id == community_id, GroupModerator.actor_id == actor_id
        )
    )
    return bool(getattr(result, "rowcount", 0))
