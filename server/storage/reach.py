"""Storage verbs for reaching across instances: sent activities by id, person follows."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.delivery_models import Delivery
from server.storage.social import Actor, Follow


async def sent_activity(
    session: AsyncSession, activity_uri: str, *, domain: str | None = None, plain: bool = False
) -> Delivery | None:
    """The latest delivery row that carried the activity with this id (its payload is the activity):
    the one sent to `domain` if given, or with `plain` one no charter article changed (the whole activity).
    """
    query = select(Delivery).where(
        Delivery.activity_uri == activity_uri, Delivery.state != "awaiting_consent"
    )
    if domain is not None:
        query = query.where(Delivery.peer_domain == domain)
    if plain:
        query = query.where(Delivery.article.is_(None))
    return (await session.execute(query.order_by(Delivery.id.desc()).limit(1))).scalar_one_or_none()


async def follow_by_activity(session: AsyncSession, activity_uri: str) -> Follow | None:
    query = select(Follow).where(Follow.activity_uri == activity_uri)
    return (await session.execute(query)).scalar_one_or_none()


async def follower_inboxes(session: AsyncSession, actor_id: int) -> list[tuple[str, str]]:
    """(shared inbox or inbox, domain) of every instance with an accepted follower of this person."""
    inbox = func.coalesce(Actor.shared_inbox_url, Actor.inbox_url)
    query = (
        select(inbox, Actor.domain)
        .join(Follow, Follow.follower_id == Actor.id)
        .where(
            Follow.followed_id == actor_id,
            Follow.state == "accepted",
            Actor.local.is_(False),
            Actor.deleted_at.is_(None),
            inbox.is_not(None),
        )
        .distinct()
    )
    return sorted((row[0], row[1]) for row in (await session.execute(query)).all())


async def has_local_follower(session: AsyncSession, actor_id: int) -> bool:
    query = (
        select(Follow.id)
        .join(Actor, Actor.id == Follow.follower_id)
        .where(Follow.followed_id == actor_id, Follow.state == "accepted", Actor.local.is_(True))
        .limit(1)
    )
    return (await session.execute(query)).first() is not None
