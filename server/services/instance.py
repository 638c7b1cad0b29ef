"""The instance itself: its actor (for signed fetches) and that actor's key pairs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.services.actors import ensure_actor_keys, get_or_create_instance_actor


async def ensure_instance_keys(session: AsyncSession, settings: Settings, now: datetime) -> list[str]:
    """Create the instance actor and its missing key pairs; returns the algorithms created."""
    actor = await get_or_create_instance_actor(session, settings, now)
    return (await ensure_actor_keys(session, actor, now)).created
