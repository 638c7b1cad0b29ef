"""Tables and storage verbs of email: preferences, the outbound queue, unsubscribe tokens, message ids.

`MailSettings` holds a person's defaults (the mode for communities without their own choice, and
whether mentions and replies are mailed at once); `MailCommunityPreference` a choice for one community.
`OutboundMail` is the durable queue the mail worker sends from; its `dedupe_key` makes producing the
same mail twice harmless. `MailCursor` remembers how far the worker has read notifications and posts.
`MailMessage` records the Message-ID of every mail turned into content (inbound mail and imported
archives), so a redelivered or re-imported message is recognised.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from server.storage.base import Base, UTCDateTime
from server.storage.models import User
from server.storage.social import Membership, Notification, Post, PostCommunity

MODES = ("each", "daily", "weekly", "none")


class MailSettings(Base):
    __tablename__ = "mail_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    default_mode: Mapped[str | None] = mapped_column(String(10))  # None: the instance default
    mentions: Mapped[bool] = mapped_column(Boolean, default=True)
    replies: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MailCommunityPreference(Base):
    __tablename__ = "mail_community_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    mode: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DigestMark(Base):
    """Until when a person's daily or weekly digest has covered activity."""

    __tablename__ = "mail_digest_marks"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    frequency: Mapped[str] = mapped_column(String(10), primary_key=True)
    covered_until: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboundMail(Base):
    """One mail to send. `envelope_from` '' is the null sender (answers to incoming mail use it)."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "sent_at", "failed_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # item | mention | reply | digest | answer
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    envelope_from: Mapped[str] = mapped_column(String(320))
    recipient: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))


class MailCursor(Base):
    __tablename__ = "mail_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)


class UnsubscribeToken(Base):
    """A one-click unsubscribe link. scope: community | mentions | replies | daily | weekly."""

    __tablename__ = "mail_unsubscribe_tokens"
    __table_args__ = (Index("ix_mail_unsubscribe_tokens_owner", "user_id", "scope", "community_id"),)

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(20))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailMessage(Base):
    """A mail that became content. scope: 'inbound' or 'import:<community id>'.

    `author_email` and `author_name` are what the mail said, kept for imported authors who have
    no account here (their posts belong to a stand-in actor on the domain `imported.invalid`).
    """

    __tablename__ = "mail_messages"
    __table_args__ = (UniqueConstraint("scope", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(40))
    message_id: Mapped[str] = mapped_column(String(998))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"), index=True)
    author_email: Mapped[str] = mapped_column(String(320))
    author_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- preferences ---------------------------------------------------------------------------------------


async def get_settings(session: AsyncSession, user_id: int) -> MailSettings | None:
    return await session.get(MailSettings, user_id)


async def put_settings(session: AsyncSession, row: MailSettings) -> MailSettings:
    row = await session.merge(row)
    await session.flush()
    return row


async def community_modes(session: AsyncSession, user_id: int) -> dict[int, str]:
    query = select(MailCommunityPreference).where(MailCommunityPreference.user_id == user_id)
    return {p.community_id: p.mode for p in (await session.execute(query)).scalars()}


async def set_community_mode(
    session: AsyncSession, user_id: int, community_id: int, mode: str, now: datetime
) -> None:
    row = await session.get(MailCommunityPreference, (user_id, community_id))
    if row is None:
        session.add(
            MailCommunityPreference(user_id=user_id, community_id=community_id, mode=mode, updated_at=now)
        )
    else:
        row.mode, row.updated_at = mode, now
    await session.flush()


async def clear_community_mode(session: AsyncSession, user_id: int, community_id: int) -> None:
    """Forget a community's own choice: it follows the person's default again."""
    await session.execute(
        delete(MailCommunityPreference).where(
            MailCommunityPreference.user_id == user_id, MailCommunityPreference.community_id == community_id
        )
    )


def _effective_mode(default_mode: str) -> ColumnElement[str]:
    return func.coalesce(MailCommunityPreference.mode, MailSettings.default_mode, default_mode)


async def subscribers(
    session: AsyncSession, community_ids: Sequence[int], mode: str, default_mode: str
) -> list[tuple[User, int]]:
    """(user, community id) for the active members of these communities whose mode there is `mode`."""
    if not community_ids:
        return []
    query = (
        select(User, Membership.community_id)
        .join(Membership, Membership.actor_id == User.actor_id)
        .outerjoin(
            MailCommunityPreference,
            and_(
                MailCommunityPreference.user_id == User.id,
                MailCommunityPreference.community_id == Membership.community_id,
            ),
        )
        .outerjoin(MailSettings, MailSettings.user_id == User.id)
        .where(
            Membership.community_id.in_(set(community_ids)),
            Membership.state == "active",
            User.disabled_at.is_(None),
            _effective_mode(default_mode) == mode,
        )
        .order_by(User.id, Membership.community_id)
    )
    return [(user, community_id) for user, community_id in (await session.execute(query)).all()]


async def digest_readers(session: AsyncSession, mode: str, default_mode: str) -> dict[int, list[int]]:
    """user id → the communities they read as a `mode` digest (active members, accounts enabled)."""
    query = (
        select(User.id, Membership.community_id)
        .join(Membership, Membership.actor_id == User.actor_id)
        .outerjoin(
            MailCommunityPreference,
            and_(
                MailCommunityPreference.user_id == User.id,
                MailCommunityPreference.community_id == Membership.community_id,
            ),
        )
        .outerjoin(MailSettings, MailSettings.user_id == User.id)
        .where(
            Membership.state == "active",
            User.disabled_at.is_(None),
            _effective_mode(default_mode) == mode,
        )
        .order_by(User.id, Membership.community_id)
    )
    result: dict[int, list[int]] = {}
    for user_id, community_id in (await session.execute(query)).all():
        result.setdefault(user_id, []).append(community_id)
    return result


async def get_digest_mark(session: AsyncSession, user_id: int, frequency: str) -> datetime | None:
    mark = await session.get(DigestMark, (user_id, frequency))
    return mark.covered_until if mark else None


async def set_digest_mark(session: AsyncSession, user_id: int, frequency: str, until: datetime) -> None:
    mark = await session.get(DigestMark, (user_id, frequency))
    if mark is None:
        session.add(DigestMark(user_id=user_id, frequency=frequency, covered_until=until))
    else:
        mark.covered_until = until
    await session.flush()


async def root_ids_in_window(
    session: AsyncSession, community_ids: Sequence[int], since: datetime, until: datetime
) -> list[tuple[int, int]]:
    """(community id, post id) of the posts shared in these communities in [since, until), oldest first."""
    if not community_ids:
        return []
    query = (
        select(PostCommunity.community_id, PostCommunity.post_id)
        .join(Post, Post.id == PostCommunity.post_id)
        .where(
            PostCommunity.community_id.in_(set(community_ids)),
            PostCommunity.created_at >= since,
            PostCommunity.created_at < until,
            Post.deleted_at.is_(None),
            Post.held.is_(False),
            _not_imported(),
        )
        .order_by(PostCommunity.created_at, PostCommunity.post_id)
    )
    return [(c, p) for c, p in (await session.execute(query)).all()]


async def comment_counts_in_window(
    session: AsyncSession, root_ids: Sequence[int], since: datetime, until: datetime
) -> dict[int, int]:
    if not root_ids:
        return {}
    query = (
        select(Post.root_id, func.count())
        .where(
            Post.root_id.in_(set(root_ids)),
            Post.created_at >= since,
            Post.created_at < until,
            Post.deleted_at.is_(None),
        )
        .group_by(Post.root_id)
    )
    return {int(r): int(n) for r, n in (await session.execute(query)).all() if r is not None}


# --- the worker's cursors ------------------------------------------------------------------------------


async def get_cursor(session: AsyncSession, name: str) -> int:
    row = await session.get(MailCursor, name)
    return row.last_id if row else 0


async def set_cursor(session: AsyncSession, name: str, last_id: int) -> None:
    row = await session.get(MailCursor, name)
    if row is None:
        session.add(MailCursor(name=name, last_id=last_id))
    elif last_id > row.last_id:
        row.last_id = last_id
    await session.flush()


async def notifications_after(
    session: AsyncSession, after_id: int, kinds: Sequence[str], limit: int
) -> Sequence[Notification]:
    query = (
        select(Notification)
        .where(Notification.id > after_id, Notification.kind.in_(kinds))
        .order_by(Notification.id)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def posts_after(session: AsyncSession, after_id: int, limit: int) -> Sequence[Post]:
    query = select(Post).where(Post.id > after_id, _not_imported()).order_by(Post.id).limit(limit)
    return (await session.execute(query)).scalars().all()


# --- the outbound queue --------------------------------------------------------------------------------


async def is_queued(session: AsyncSession, dedupe_key: str) -> bool:
    query = select(OutboundMail.id).where(OutboundMail.dedupe_key == dedupe_key)
    return (await session.execute(query)).first() is not None


async def add_outbound(session: AsyncSession, row: OutboundMail) -> OutboundMail:
    session.add(row)
    await session.flush()
    return row


async def claim_due(
    session: AsyncSession, now: datetime, limit: int, *, skip_locked: bool
) -> list[OutboundMail]:
    """Due rows, locked with SKIP LOCKED on PostgreSQL so several workers never claim the same row."""
    query = (
        select(OutboundMail)
        .where(
            OutboundMail.sent_at.is_(None),
            OutboundMail.failed_at.is_(None),
            OutboundMail.next_attempt_at <= now,
        )
        .order_by(OutboundMail.next_attempt_at, OutboundMail.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return list((await session.execute(query)).scalars())


async def get_outbound(session: AsyncSession, mail_id: int) -> OutboundMail | None:
    return await session.get(OutboundMail, mail_id)


async def list_outbound(session: AsyncSession, *, user_id: int | None = None) -> Sequence[OutboundMail]:
    query = select(OutboundMail).order_by(OutboundMail.id)
    if user_id is not None:
        query = query.where(OutboundMail.user_id == user_id)
    return (await session.execute(query)).scalars().all()


# --- unsubscribe tokens ---------------------------------------------------------------------------------


async def find_unsubscribe_token(
    session: AsyncSession, user_id: int, scope: str, community_id: int | None
) -> UnsubscribeToken | None:
    query = select(UnsubscribeToken).where(
        UnsubscribeToken.user_id == user_id,
        UnsubscribeToken.scope == scope,
        UnsubscribeToken.community_id.is_(None)
        if community_id is None
        else UnsubscribeToken.community_id == community_id,
    )
    return (await session.execute(query.limit(1))).scalars().first()


async def add_unsubscribe_token(session: AsyncSession, row: UnsubscribeToken) -> UnsubscribeToken:
    session.add(row)
    await session.flush()
    return row


async def get_unsubscribe_token(session: AsyncSession, token: str) -> UnsubscribeToken | None:
    return await session.get(UnsubscribeToken, token)


# --- messages that became content -----------------------------------------------------------------------


async def get_mail_message(session: AsyncSession, scope: str, message_id: str) -> MailMessage | None:
    query = select(MailMessage).where(MailMessage.scope == scope, MailMessage.message_id == message_id)
    return (await session.execute(query)).scalars().first()


async def posts_of_message_ids(
    session: AsyncSession, scope: str, message_ids: Sequence[str]
) -> dict[str, int]:
    if not message_ids:
        return {}
    query = select(MailMessage.message_id, MailMessage.post_id).where(
        MailMessage.scope == scope, MailMessage.message_id.in_(set(message_ids))
    )
    return {m: p for m, p in (await session.execute(query)).all() if p is not None}


async def add_mail_message(session: AsyncSession, row: MailMessage) -> MailMessage:
    session.add(row)
    await session.flush()
    return row


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    query = select(User).where(func.lower(User.email) == email.strip().lower())
    return (await session.execute(query)).scalars().first()


async def users_by_emails(session: AsyncSession, emails: Sequence[str]) -> dict[str, User]:
    wanted = {e.strip().lower() for e in emails if e.strip()}
    if not wanted:
        return {}
    query = select(User).where(func.lower(User.email).in_(wanted))
    return {u.email.lower(): u for u in (await session.execute(query)).scalars()}


# --- the fan-out ---------------------------------------------------------------------------------------


async def lock_fanout(session: AsyncSession) -> None:
    """One fan-out at a time across workers: a transaction-scoped advisory lock on PostgreSQL
    (SQLite lets one writer in at a time already)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(7310315970235245921)"))


def _not_imported() -> ColumnElement[bool]:
    imported = select(MailMessage.id).where(
        MailMessage.post_id == Post.id, MailMessage.scope.like("import:%")
    )
    return ~imported.exists()
