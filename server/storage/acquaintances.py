"""Which people a viewer may know: the one condition that mention suggestions, the people directory,
profile pages and search share.

A person of this instance is known to everyone signed in here. A remote person is stored here only
because someone here met them somewhere, and that somewhere may be a secret community; so a remote
person is known to a viewer only when the viewer already has a way to see them: a follow in either
direction, an active membership in a community whose members the viewer may list, or a post or
comment (neither deleted nor held, in a thread neither deleted nor held) in a community the viewer may
read. Which communities those are is decided by the caller (the permission table); this module only
turns the answer into SQL over a person's id column, so each listing applies it in its own SELECT,
before its limit and its keyset, and a page is never filtered after the fact.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, false, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import SQLCoreOperations

from server.storage.social import Actor, Community, Follow, Membership, Post, PostCommunity


@dataclass(frozen=True)
class CommunityScope:
    """Open communities except `open_excluded`, plus the closed and secret ones in `others`."""

    open_excluded: Collection[int]
    others: Collection[int]

    def condition(self, community_id: SQLCoreOperations[int]) -> ColumnElement[bool]:
        open_ones = select(Community.id).where(Community.visibility == "open")
        if self.open_excluded:
            open_ones = open_ones.where(Community.id.not_in(list(self.open_excluded)))
        allowed: ColumnElement[bool] = community_id.in_(open_ones)
        if self.others:
            allowed = or_(allowed, community_id.in_(list(self.others)))
        return allowed


@dataclass(frozen=True)
class KnownPeople:
    """The people `viewer_actor_id` may know, given the communities whose member lists they may see
    (`members_of`) and whose posts they may read (`readable`)."""

    viewer_actor_id: int | None
    members_of: CommunityScope
    readable: CommunityScope

    def _follows(self, person_id: SQLCoreOperations[int]) -> ColumnElement[bool]:
        viewer = self.viewer_actor_id
        if viewer is None:
            return false()
        return exists().where(
            or_(
                and_(Follow.follower_id == viewer, Follow.followed_id == person_id),
                and_(Follow.follower_id == person_id, Follow.followed_id == viewer),
            )
        )

    def _member(self, person_id: SQLCoreOperations[int]) -> ColumnElement[bool]:
        return exists().where(
            Membership.actor_id == person_id,
            Membership.state == "active",
            self.members_of.condition(Membership.community_id),
        )

    def _wrote(self, person_id: SQLCoreOperations[int]) -> ColumnElement[bool]:
        written, root = aliased(Post), aliased(Post)
        return exists().where(
            written.author_id == person_id,
            written.deleted_at.is_(None),
            written.held.is_(False),
            root.id == func.coalesce(written.root_id, written.id),
            root.deleted_at.is_(None),
            root.held.is_(False),
            PostCommunity.post_id == root.id,
            self.readable.condition(PostCommunity.community_id),
        )

    def remote(self, person_id: SQLCoreOperations[int]) -> ColumnElement[bool]:
        """The viewer may know the remote person whose actor id is `person_id`."""
        return or_(self._follows(person_id), self._member(person_id), self._wrote(person_id))

    def condition(
        self, person_id: SQLCoreOperations[int], local: SQLCoreOperations[bool]
    ) -> ColumnElement[bool]:
        """The viewer may know this person: one of this instance, or a remote one they may know."""
        return or_(local.is_(True), self.remote(person_id))


def known(
    people: KnownPeople | None, person_id: SQLCoreOperations[int], local: SQLCoreOperations[bool]
) -> ColumnElement[bool]:
    """`people.condition(...)`, or people of this instance alone when no viewer's scope is given: a
    query that names no viewer never lists anyone remote."""
    return people.condition(person_id, local) if people is not None else local.is_(True)


async def may_know(session: AsyncSession, people: KnownPeople, actor_id: int) -> bool:
    """Whether the viewer may know the person `actor_id` (local or remote)."""
    statement = select(literal(1)).where(Actor.id == actor_id, people.condition(Actor.id, Actor.local))
    return (await session.execute(statement)).first() is not None


@dataclass(frozen=True)
class ViewerMembership:
    community_id: int
    visibility: str
    role: str
    state: str


async def viewer_memberships(session: AsyncSession, actor_id: int) -> list[ViewerMembership]:
    """Every membership row of the viewer (any state), with the community's visibility."""
    rows = await session.execute(
        select(Membership.community_id, Community.visibility, Membership.role, Membership.state)
        .join(Community, Community.id == Membership.community_id)
        .where(Membership.actor_id == actor_id)
    )
    return [ViewerMembership(r[0], r[1], r[2], r[3]) for r in rows.all()]
