"""Who is where across instances: remote members of local communities, the groups of a thread."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.social import Actor, Community, Membership, PostCommunity


async def remote_member_inboxes(session: AsyncSession, community_id: int) -> list[tuple[str, str]]:
    """(shared inbox or inbox, domain) of every instance with an accepted member of this community."""
    inbox = func.coalesce(Actor.shared_inbox_url, Actor.inbox_url)
    query = (
        select(inbox, Actor.domain)
        .join(Membership, Membership.actor_id == Actor.id)
        .where(
            Membership.community_id == community_id,
            Membership.state == "active",
            Actor.local.is_(False),
            Actor.deleted_at.is_(None),
            inbox.is_not(None),
        )
        .distinct()
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def remote_member_domains(session: AsyncSession, community_id: int) -> set[str]:
    return {domain for _, domain in await remote_member_inboxes(session, community_id)}


async def communities_of_post(session: AsyncSession, post_id: int) -> list[tuple[Community, Actor]]:
    query = (
        select(Community, Actor)
        .join(PostCommunity, PostCommunity.community_id == Community.id)
        .join(Actor, Actor.id == Community.actor_id)
        .where(PostCommunity.post_id == post_id)
        .order_by(Community.id)
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def community_of_group(session: AsyncSession, group_uri: str) -> tuple[Community, Actor] | None:
    query = select(Community, Actor).join(Actor, Actor.id == Community.actor_id).where(Actor.uri == group_uri)
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row else None


async def membership_by_activity(session: AsyncSession, activity_uri: str) -> Membership | None:
    query = select(Membership).where(Membership.activity_uri == activity_uri)
    return (await session.execute(query)).scalar_one_or_none()


async def add_mirror_community(session: AsyncSession, community: Community) -> Community:
    session.add(community)
    await session.flush()
    return community


async def member_instance_domains(session: AsyncSession, community_ids: Sequence[int]) -> set[str]:
    """Domains of instances with an accepted member in any of these communities."""
    if not community_ids:
        return set()
    query = (
        select(Actor.domain)
        .join(Membership, Membership.actor_id == Actor.id)
        .where(
            Membership.community_id.in_(set(community_ids)),
            Membership.state == "active",
            Actor.local.is_(False),
        )
        .distinct()
    )
    return set((await session.execute(query)).scalars())


async def instances_that_know(session: AsyncSession, actor_id: int) -> list[tuple[str, str]]:
    """(shared inbox or inbox, domain) of the peer instances that hold this local person's memberships:
    the hosts of communities elsewhere they joined, and the instances of the other members of theirs here."""
    mine = select(Membership.community_id).where(Membership.actor_id == actor_id)
    inbox = func.coalesce(Actor.shared_inbox_url, Actor.inbox_url)
    hosts = (
        select(inbox, Actor.domain)
        .join(Community, Community.actor_id == Actor.id)
        .where(Community.id.in_(mine), Community.local.is_(False), inbox.is_not(None))
    )
    members = (
        select(inbox, Actor.domain)
        .join(Membership, Membership.actor_id == Actor.id)
        .where(
            Membership.community_id.in_(mine),
            Membership.state == "active",
            Actor.local.is_(False),
            inbox.is_not(None),
        )
    )
    rows = (await session.execute(hosts.union(members))).all()
    return sorted({(row[0], row[1]) for row in rows})


async def count_local_members(session: AsyncSession, community_id: int, *, at_most: int | None = None) -> int:
    """How many people of this instance are accepted members of this community (one hosted elsewhere: we
    follow its Group); counted up to `at_most` if given."""
    members = (
        select(Membership.id)
        .join(Actor, Actor.id == Membership.actor_id)
        .where(Membership.community_id == community_id, Membership.state == "active", Actor.local.is_(True))
        .limit(at_most)
        .subquery()
    )
    return int((await session.execute(select(func.count()).select_from(members))).scalar_one())


async def has_local_member(session: AsyncSession, community_id: int) -> bool:
    """Whether a person of this instance is an accepted member of this community."""
    return await count_local_members(session, community_id, at_most=1) > 0
