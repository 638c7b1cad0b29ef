"""Storage verbs for people following people."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.social import Follow


async def get_follow(session: AsyncSession, follower_id: int, followed_id: int) -> Follow | None:
    query = select(Follow).where(Follow.follower_id == follower_id, Follow.followed_id == followed_id)
    return (await session.execute(query)).scalar_one_or_none()


async def add_follow(session: AsyncSession, follow: Follow) -> None:
    session.add(follow)
    await session.flush()


async def remove_follow(session: AsyncSession, follow: Follow) -> None:
    await session.delete(follow)
    await session.flush()


async def followed_actor_ids(session: AsyncSession, actor_id: int) -> list[int]:
    query = select(Follow.followed_id).where(Follow.follower_id == actor_id, Follow.state == "accepted")
    return list((await session.execute(query)).scalars())
