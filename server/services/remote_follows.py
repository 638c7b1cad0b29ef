"""Following a person on another instance, and being followed from one.

Following sends a `Follow` to the person's inbox; the follow is `pending` until their instance
answers `Accept` (then `accepted`: their profile posts reach this instance and the home feed) or
`Reject` (removed). Unfollowing sends `Undo` of the same `Follow`. Here, a `Follow` of a local
person from a person elsewhere is accepted at once (people do not approve followers) and answered
with `Accept`; from then on their profile posts are delivered to the follower's instance
(`outbox.send_to_followers`), as the charter's *egress* rules allow.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Context
from server.errors import Conflict
from server.services import outbox
from server.services.communities import actor_id_of
from server.storage import follows as follow_store
from server.storage.models import User
from server.storage.social import Actor, Follow


async def follow(
    session: AsyncSession, ctx: Context, now: datetime, user: User, target: Actor, *, on: bool = True
) -> bool:
    """Follow (or with on=False unfollow) a person on another instance; returns whether anything changed."""
    if target.local or target.kind != "Person" or target.deleted_at is not None:
        raise Conflict("this is not a person on another instance", field="handle")
    me = await session.get(Actor, actor_id_of(user))
    assert me is not None
    existing = await follow_store.get_follow(session, me.id, target.id)
    if on and existing is None:
        row = Follow(follower_id=me.id, followed_id=target.id, state="pending", created_at=now)
        await follow_store.add_follow(session, row)
        activity = outbox.follow_activity(me, target, row.id, of_person=True)
        row.activity_uri = str(activity["id"])
        await outbox.send_to_actor(session, ctx, now, target, activity, signer=me, person=user)
        return True
    if not on and existing is not None:
        if existing.activity_uri:
            sent = {"id": existing.activity_uri, "type": "Follow", "actor": me.uri, "object": target.uri}
            undo = outbox.wrap("Undo", me.uri, sent, to=[target.uri], cc=[], audience=None)
            await outbox.send_to_actor(session, ctx, now, target, undo, signer=me, person=user)
        await follow_store.remove_follow(session, existing)
        return True
    return False


async def accept_follower(
    session: AsyncSession, ctx: Context, now: datetime, follower: Actor, followed: Actor, follow_id: str
) -> None:
    """A person elsewhere follows a local person: recorded as accepted, answered with `Accept`."""
    existing = await follow_store.get_follow(session, follower.id, followed.id)
    if existing is None:
        existing = Follow(follower_id=follower.id, followed_id=followed.id, state="accepted", created_at=now)
        await follow_store.add_follow(session, existing)
    existing.state, existing.activity_uri = "accepted", follow_id
    sent = {"id": follow_id, "type": "Follow", "actor": follower.uri, "object": followed.uri}
    accept = outbox.wrap("Accept", followed.uri, sent, to=[follower.uri], cc=[], audience=None)
    await outbox.send_to_actor(session, ctx, now, follower, accept, signer=followed)


async def answered(session: AsyncSession, follow: Follow, *, accepted: bool) -> None:
    """The followed person's instance answered our `Follow`."""
    if accepted:
        follow.state = "accepted"
        await session.flush()
    else:
        await follow_store.remove_follow(session, follow)
