"""Following people: their posts reach my home feed (when I may read them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import Conflict, NotFound
from server.services.communities import actor_id_of
from server.storage import follows as store
from server.storage.accounts import get_user_by_username
from server.storage.models import User
from server.storage.social import Follow


async def follow(session: AsyncSession, now: datetime, user: User, username: str, *, on: bool = True) -> bool:
    """Follow (or with on=False unfollow) a local person; returns whether anything changed."""
    target = await get_user_by_username(session, username)
    if target is None or target.actor_id is None or not target.is_active:
        raise NotFound("no such person")
    if target.id == user.id:
        raise Conflict("you cannot follow yourself")
    existing = await store.get_follow(session, actor_id_of(user), target.actor_id)
    if on and existing is None:
        await store.add_follow(
            session,
            Follow(
                follower_id=actor_id_of(user), followed_id=target.actor_id, state="accepted", created_at=now
            ),
        )
        return True
    if not on and existing is not None:
        await store.remove_follow(session, existing)
        return True
    return False
