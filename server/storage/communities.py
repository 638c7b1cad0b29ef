"""Storage verbs for communities and memberships."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.social import Actor, Community, CommunityTag, Membership


async def get_community_by_slug(
    session: AsyncSession, slug: str, *, local_only: bool = False
) -> Community | None:
    query = select(Community).where(Community.slug == slug)
    if local_only:
        query = query.where(Community.local.is_(True))
    return (await session.execute(query.order_by(Community.local.desc()).limit(1))).scalar_one_or_none()


async def get_community_by_actor_uri(session: AsyncSession, uri: str) -> Community | None:
    query = select(Community).join(Actor, Actor.id == Community.actor_id).where(Actor.uri == uri)
    return (await session.execute(query)).scalar_one_or_none()


async def get_communities(session: AsyncSession, ids: Sequence[int]) -> dict[int, Community]:
    if not ids:
        return {}
    rows = await session.execute(select(Community).where(Community.id.in_(set(ids))))
    return {c.id: c for c in rows.scalars()}


async def list_local_communities(session: AsyncSession, *, limit: int = 10_000) -> Sequence[Community]:
    query = select(Community).where(Community.local.is_(True)).order_by(Community.slug).limit(limit)
    return (await session.execute(query)).scalars().all()


async def add_community(session: AsyncSession, community: Community, tags: Sequence[str]) -> Community:
    session.add(community)
    await session.flush()
    for tag in tags:
        session.add(CommunityTag(community_id=community.id, tag=tag))
    await session.flush()
    return community


async def replace_community_tags(session: AsyncSession, community: Community, tags: Sequence[str]) -> None:
    await session.execute(delete(CommunityTag).where(CommunityTag.community_id == community.id))
    for tag in tags:
        session.add(CommunityTag(community_id=community.id, tag=tag))
    community.tags = list(tags)
    await session.flush()


async def get_membership(session: AsyncSession, community_id: int, actor_id: int) -> Membership | None:
    query = select(Membership).where(Membership.community_id == community_id, Membership.actor_id == actor_id)
    return (await session.execute(query)).scalar_one_or_none()


async def memberships_of(
    session: AsyncSession, actor_id: int, community_ids: Sequence[int]
) -> dict[int, Membership]:
    if not community_ids:
        return {}
    query = select(Membership).where(
        Membership.actor_id == actor_id, Membership.community_id.in_(set(community_ids))
    )
    return {m.community_id: m for m in (await session.execute(query)).scalars()}


async def active_community_ids(session: AsyncSession, actor_id: int) -> list[int]:
    query = select(Membership.community_id).where(
        Membership.actor_id == actor_id, Membership.state == "active"
    )
    return list((await session.execute(query)).scalars())


async def add_membership(session: AsyncSession, membership: Membership) -> Membership:
    session.add(membership)
    await session.flush()
    return membership


async def remove_membership(session: AsyncSession, membership: Membership) -> None:
    await session.delete(membership)
    await session.flush()


async def count_active_owners(session: AsyncSession, community_id: int) -> int:
    query = select(func.count()).where(
        Membership.community_id == community_id, Membership.role == "owner", Membership.state == "active"
    )
    return int((await session.execute(query)).scalar_one())


async def list_members(
    session: AsyncSession,
    community_id: int,
    *,
    states: Sequence[str],
    limit: int,
    after_id: int | None = None,
) -> Sequence[tuple[Membership, Actor]]:
    query = (
        select(Membership, Actor)
        .join(Actor, Actor.id == Membership.actor_id)
        .where(Membership.community_id == community_id, Membership.state.in_(states))
        .order_by(Membership.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(Membership.id > after_id)
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def staff_actor_ids(session: AsyncSession, community_id: int, roles: Sequence[str]) -> list[int]:
    query = select(Membership.actor_id).where(
        Membership.community_id == community_id, Membership.state == "active", Membership.role.in_(roles)
    )
    return list((await session.execute(query)).scalars())


async def member_counts(session: AsyncSession, community_ids: Sequence[int]) -> dict[int, int]:
    if not community_ids:
        return {}
    query = (
        select(Membership.community_id, func.count())
        .where(Membership.community_id.in_(set(community_ids)), Membership.state == "active")
        .group_by(Membership.community_id)
    )
    return {row[0]: int(row[1]) for row in (await session.execute(query)).all()}


async def search_communities(
    session: AsyncSession,
    *,
    viewer_actor_id: int,
    q: str | None,
    kind: str | None,
    tag: str | None,
    limit: int,
    after_name: tuple[str, int] | None,
) -> Sequence[Community]:
    """Communities the viewer may know of (not secret, or secret with the viewer a member), by name."""
    mine = select(Membership.community_id).where(
        Membership.actor_id == viewer_actor_id, Membership.state.in_(("active", "invited"))
    )
    query = select(Community).where(or_(Community.visibility != "secret", Community.id.in_(mine)))
    if kind:
        query = query.where(Community.kind == kind)
    if tag:
        query = query.where(
            Community.id.in_(select(CommunityTag.community_id).where(CommunityTag.tag == tag))
        )
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(
            or_(func.lower(Community.name).like(pattern), func.lower(Community.slug).like(pattern))
        )
    if after_name is not None:
        name, last_id = after_name
        query = query.where(
            or_(
                func.lower(Community.name) > name,
                and_(func.lower(Community.name) == name, Community.id > last_id),
            )
        )
    query = query.order_by(func.lower(Community.name), Community.id).limit(limit)
    return (await session.execute(query)).scalars().all()
