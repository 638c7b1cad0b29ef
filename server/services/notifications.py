"""In-app notifications: mentions, replies, reactions, join requests and decisions, invitations.

Only local people with an account are notified; a notification never names content the
person cannot see (it points at a post or a community, and the reader re-checks access).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.storage import notifications as store
from server.storage.social import Notification

KINDS = (
    "mention",
    "reply",
    "reaction",
    "join_request",
    "join_decision",
    "invitation",
    "role_change",
    "report",
    "banned",
)


async def notify(
    session: AsyncSession,
    now: datetime,
    *,
    kind: str,
    recipients: Iterable[int],
    by_actor_id: int | None,
    post_id: int | None = None,
    community_id: int | None = None,
    detail: str = "",
) -> int:
    """Notify the local accounts behind `recipients` (actor ids), never the actor who acted."""
    assert kind in KINDS, kind
    actor_ids = [a for a in dict.fromkeys(recipients) if a != by_actor_id]
    users = await store.users_by_actor_ids(session, actor_ids)
    rows = [
        Notification(
            user_id=user.id,
            kind=kind,
            actor_id=by_actor_id,
            post_id=post_id,
            community_id=community_id,
            detail=detail[:200],
            created_at=now,
        )
        for user in users.values()
    ]
    await store.add_notifications(session, rows)
    return len(rows)
