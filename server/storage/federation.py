"""Storage verbs for federation: remote actors and their keys, the inbox log, discovery counts.

The inbox insert is the hot path of every accepted activity, so it is one Core statement
(`INSERT ... ON CONFLICT DO NOTHING RETURNING id`) on both dialects, with no ORM unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.delivery_models import Delivery
from server.storage.models import User
from server.storage.social import Actor, ActorKey, Community, Follow, InboxActivity, Membership, Post, Profile

ACTIVE_MEMBER_STATES = ("active",)


@dataclass(frozen=True, slots=True)
class StoredKey:
    key_id: str
    algorithm: str
    public_pem: str
    actor_uri: str
    actor_domain: str


@dataclass(frozen=True, slots=True)
class RemoteKey:
    key_id: str
    algorithm: str  # rsa | ed25519
    public_pem: str


@dataclass(frozen=True, slots=True)
class RemoteActorFields:
    uri: str
    kind: str
    domain: str
    username: str
    display_name: str
    summary: str
    url: str | None
    inbox_url: str | None
    outbox_url: str | None
    shared_inbox_url: str | None
    followers_url: str | None
    avatar_url: str | None
    manually_approves: bool
    jurisdiction: str | None
    raw: dict[str, Any]


async def get_actor_by_uri(session: AsyncSession, uri: str) -> Actor | None:
    return (await session.execute(select(Actor).where(Actor.uri == uri))).scalar_one_or_none()


async def get_local_actor(session: AsyncSession, domain: str, username: str, kind: str) -> Actor | None:
    """A local, not deleted actor of `kind` named `username` on this instance."""
    query = select(Actor).where(
        Actor.local.is_(True),
        Actor.domain == domain,
        Actor.username == username,
        Actor.kind == kind,
        Actor.deleted_at.is_(None),
    )
    return (await session.execute(query)).scalar_one_or_none()


async def list_actor_keys(session: AsyncSession, actor_id: int) -> Sequence[ActorKey]:
    return (await session.execute(select(ActorKey).where(ActorKey.actor_id == actor_id))).scalars().all()


async def get_community_of(session: AsyncSession, actor_id: int) -> Community | None:
    return (
        await session.execute(select(Community).where(Community.actor_id == actor_id))
    ).scalar_one_or_none()


async def get_key(session: AsyncSession, key_id: str) -> StoredKey | None:
    """A key with its owner, when the owner is not deleted."""
    query = (
        select(ActorKey.key_id, ActorKey.algorithm, ActorKey.public_pem, Actor.uri, Actor.domain)
        .join(Actor, Actor.id == ActorKey.actor_id)
        .where(ActorKey.key_id == key_id, Actor.deleted_at.is_(None))
    )
    row = (await session.execute(query)).first()
    return StoredKey(*row) if row is not None else None


async def upsert_remote_actor(
    session: AsyncSession, fields: RemoteActorFields, keys: Sequence[RemoteKey], now: datetime
) -> Actor:
    """Insert or refresh a remote actor and replace its keys. A key id another actor holds is skipped."""
    actor = await get_actor_by_uri(session, fields.uri)
    values = {
        "kind": fields.kind,
        "domain": fields.domain,
        "username": fields.username,
        "display_name": fields.display_name,
        "summary": fields.summary,
        "url": fields.url,
        "inbox_url": fields.inbox_url,
        "outbox_url": fields.outbox_url,
        "shared_inbox_url": fields.shared_inbox_url,
        "followers_url": fields.followers_url,
        "avatar_url": fields.avatar_url,
        "manually_approves": fields.manually_approves,
        "jurisdiction": fields.jurisdiction,
        "raw": fields.raw,
        "fetched_at": now,
        "deleted_at": None,
    }
    if actor is None:
        clash = await session.execute(
            select(Actor).where(Actor.domain == fields.domain, Actor.username == fields.username)
        )
        stale = clash.scalar_one_or_none()
        if stale is not None and not stale.local:
            # The peer renamed an actor's URI: the old row gives way (its username was reused).
            stale.username = f"{stale.username}~{stale.id}"
            await session.flush()
        actor = Actor(uri=fields.uri, local=False, created_at=now, **values)
        session.add(actor)
    else:
        if actor.local:
            raise ValueError(f"refusing to overwrite local actor {fields.uri}")
        for name, value in values.items():
            setattr(actor, name, value)
    await session.flush()
    if actor.kind == "Person" and await session.get(Profile, actor.id) is None:
        # Their instance keeps the rich profile; an empty one here gives them a page, like anyone.
        session.add(Profile(actor_id=actor.id, updated_at=now))
    await session.execute(delete(ActorKey).where(ActorKey.actor_id == actor.id))
    for key in keys:
        taken = await session.execute(select(ActorKey.id).where(ActorKey.key_id == key.key_id))
        if taken.first() is not None:
            continue
        session.add(
            ActorKey(
                actor_id=actor.id,
                key_id=key.key_id,
                algorithm=key.algorithm,
                public_pem=key.public_pem,
                private_pem=None,
                created_at=now,
            )
        )
    await session.flush()
    return actor


async def mark_actor_deleted(session: AsyncSession, uri: str, now: datetime) -> bool:
    """Mark a remote actor deleted and drop its keys; False when there was nothing to delete."""
    actor = await get_actor_by_uri(session, uri)
    if actor is None or actor.local or actor.deleted_at is not None:
        return False
    actor.deleted_at = now
    await session.execute(delete(ActorKey).where(ActorKey.actor_id == actor.id))
    await session.flush()
    return True


async def insert_inbox_activity(
    session: AsyncSession,
    *,
    activity_uri: str,
    actor_uri: str,
    peer_domain: str,
    raw: dict[str, Any],
    received_at: datetime,
) -> int | None:
    """Record an accepted activity; None when one with this id was already recorded."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(InboxActivity)
        .values(
            activity_uri=activity_uri,
            actor_uri=actor_uri,
            peer_domain=peer_domain,
            raw=raw,
            received_at=received_at,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["activity_uri"])
        .returning(InboxActivity.id)
    )
    row = (await session.execute(statement)).first()
    return int(row[0]) if row is not None else None


async def get_inbox_activity(session: AsyncSession, row_id: int) -> InboxActivity | None:
    return await session.get(InboxActivity, row_id)


async def get_inbox_activity_by_uri(session: AsyncSession, activity_uri: str) -> InboxActivity | None:
    query = select(InboxActivity).where(InboxActivity.activity_uri == activity_uri)
    return (await session.execute(query)).scalar_one_or_none()


async def pending_inbox_ids(session: AsyncSession, *, limit: int = 10_000) -> list[int]:
    query = (
        select(InboxActivity.id)
        .where(InboxActivity.processed_at.is_(None))
        .order_by(InboxActivity.id)
        .limit(limit)
    )
    return [int(i) for i in (await session.execute(query)).scalars()]


async def finish_inbox_activity(session: AsyncSession, row_id: int, now: datetime, outcome: str) -> bool:
    """Mark processed, only if nobody did already: the guard that makes processing happen once."""
    statement = (
        update(InboxActivity)
        .where(InboxActivity.id == row_id, InboxActivity.processed_at.is_(None))
        .values(processed_at=now, outcome=outcome[:200], attempts=InboxActivity.attempts + 1)
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def record_inbox_failure(session: AsyncSession, row_id: int, outcome: str) -> int:
    """Count a failed attempt; returns the attempts so far."""
    await session.execute(
        update(InboxActivity)
        .where(InboxActivity.id == row_id)
        .values(attempts=InboxActivity.attempts + 1, outcome=outcome[:200])
    )
    attempts = await session.execute(select(InboxActivity.attempts).where(InboxActivity.id == row_id))
    return int(attempts.scalar_one())


async def domain_has_member(
    session: AsyncSession, community_id: int, domain: str, *, or_invited: bool = False
) -> bool:
    """Whether an actor of `domain` is an active member of the community (`or_invited`: or invited to it)."""
    states = (*ACTIVE_MEMBER_STATES, "invited") if or_invited else ACTIVE_MEMBER_STATES
    query = (
        select(Membership.id)
        .join(Actor, Actor.id == Membership.actor_id)
        .where(
            Membership.community_id == community_id,
            Membership.state.in_(states),
            Actor.domain == domain,
        )
        .limit(1)
    )
    return (await session.execute(query)).first() is not None


async def has_written_to(session: AsyncSession, actor_id: int, domain: str) -> bool:
    """Whether this actor has an activity queued for, or sent to, an inbox of `domain`."""
    query = (
        select(Delivery.id)
        .where(Delivery.signer_actor_id == actor_id, Delivery.peer_domain == domain)
        .limit(1)
    )
    return (await session.execute(query)).first() is not None


async def count_members(session: AsyncSession, community_id: int) -> int:
    query = select(func.count(Membership.id)).where(
        Membership.community_id == community_id, Membership.state.in_(ACTIVE_MEMBER_STATES)
    )
    return int((await session.execute(query)).scalar_one())


async def community_moderator_uris(session: AsyncSession, community_id: int) -> list[str]:
    query = (
        select(Actor.uri)
        .join(Membership, Membership.actor_id == Actor.id)
        .where(
            Membership.community_id == community_id,
            Membership.state.in_(ACTIVE_MEMBER_STATES),
            Membership.role.in_(("owner", "manager", "moderator")),
        )
        .order_by(Actor.uri)
    )
    return [str(uri) for uri in (await session.execute(query)).scalars()]


@dataclass(frozen=True, slots=True)
class UsageCounts:
    users_total: int
    users_active_month: int
    users_active_halfyear: int
    local_posts: int


async def usage_counts(session: AsyncSession, *, month_ago: datetime, halfyear_ago: datetime) -> UsageCounts:
    """NodeInfo usage. "Active" means wrote a post in the period: sign-ins are not recorded."""
    total = await session.execute(select(func.count(User.id)).where(User.disabled_at.is_(None)))
    posts = await session.execute(
        select(func.count(Post.id)).where(Post.local.is_(True), Post.deleted_at.is_(None))
    )

    async def active_since(moment: datetime) -> int:
        query = select(func.count(func.distinct(Post.author_id))).where(
            Post.local.is_(True), Post.created_at >= moment
        )
        return int((await session.execute(query)).scalar_one())

    return UsageCounts(
        users_total=int(total.scalar_one()),
        users_active_month=await active_since(month_ago),
        users_active_halfyear=await active_since(halfyear_ago),
        local_posts=int(posts.scalar_one()),
    )


async def count_follows(
    session: AsyncSession, *, followed_id: int | None = None, follower_id: int | None = None
) -> int:
    query = select(func.count(Follow.id)).where(Follow.state == "accepted")
    if followed_id is not None:
        query = query.where(Follow.followed_id == followed_id)
    if follower_id is not None:
        query = query.where(Follow.follower_id == follower_id)
    return int((await session.execute(query)).scalar_one())
