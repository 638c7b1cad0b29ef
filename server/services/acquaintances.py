"""Whom a viewer may know, for every place that lists or shows people: mention suggestions, the
people directory, profile pages, search and "who knows about X".

Local people are known to everyone signed in here. A remote person only when the viewer follows them
or is followed by them, when they are an active member of a community whose member list the viewer
may see, or when they wrote something in a community the viewer may read (the SQL is in
`server.storage.acquaintances`). Which communities qualify comes from the permission table
(`permissions.allowed`), never from a rule of its own here. So a person known to this instance only as
a member of a secret community is shown to no one outside it: listing them would reveal that
membership.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from server.services.permissions import Action, allowed, standing
from server.storage import acquaintances as store
from server.storage.models import User
from server.storage.social import Actor


def community_scope(memberships: Sequence[store.ViewerMembership], action: Action) -> store.CommunityScope:
    """The communities where the viewer may do `action`, given every membership row of theirs."""
    open_excluded: list[int] = []
    others: list[int] = []
    for m in memberships:
        ok = allowed(action, m.visibility, standing(m.role, m.state))
        if m.visibility == "open" and not ok:
            open_excluded.append(m.community_id)
        elif m.visibility != "open" and ok:
            others.append(m.community_id)
    return store.CommunityScope(open_excluded=open_excluded, others=others)


async def known_people(session: AsyncSession, viewer: User) -> store.KnownPeople:
    """The scope of people `viewer` may know, to pass to the storage queries that list people."""
    memberships = (
        await store.viewer_memberships(session, viewer.actor_id) if viewer.actor_id is not None else []
    )
    return store.KnownPeople(
        viewer_actor_id=viewer.actor_id,
        members_of=community_scope(memberships, Action.LIST_MEMBERS),
        readable=community_scope(memberships, Action.READ),
    )


async def may_know(session: AsyncSession, viewer: User, actor: Actor) -> bool:
    """Whether `viewer` may know `actor`: always for people of this instance."""
    if actor.local or actor.id == viewer.actor_id:
        return True
    return await store.may_know(session, await known_people(session, viewer), actor.id)
