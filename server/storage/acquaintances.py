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

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    BindParameter,
    ColumnElement,
    Integer,
    and_,
    any_,
    bindparam,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import SQLCoreOperations

from server.storage.social import Actor, Community, Follow, Membership, Post, PostCommunity

# Made once: an alias of the wide posts table builds a proxy per column, milliseconds when made per query.
_WRITTEN = aliased(Post)
_ROOT = aliased(Post)


_InScope = Callable[[SQLCoreOperations[int]], ColumnElement[bool]]


def _scope(
    community_id: SQLCoreOperations[int], excluded: _InScope | None, others: _InScope | None
) -> ColumnElement[bool]:
    """Open communities but those `excluded` names, or one that `others` names (None: no such list)."""
    open_ones = select(Community.id).where(Community.visibility == "open")
    if excluded is not None:
        open_ones = open_ones.where(not_(excluded(Community.id)))
    allowed: ColumnElement[bool] = community_id.in_(open_ones)
    if others is not None:
        allowed = or_(allowed, others(community_id))
    return allowed


@dataclass(frozen=True)
class CommunityScope:
    """Open communities except `open_excluded`, plus the closed and secret ones in `others`."""

    open_excluded: Collection[int]
    others: Collection[int]

    def condition(self, community_id: SQLCoreOperations[int]) -> ColumnElement[bool]:
        excluded, others = list(self.open_excluded), list(self.others)
        return _scope(
            community_id,
            (lambda c: c.in_(excluded)) if excluded else None,
            (lambda c: c.in_(others)) if others else None,
        )


def _remote(
    viewer: Any,
    members_of: Callable[[SQLCoreOperations[int]], ColumnElement[bool]],
    readable: Callable[[SQLCoreOperations[int]], ColumnElement[bool]],
    person_id: SQLCoreOperations[int],
) -> ColumnElement[bool]:
    """A follow in either direction with `viewer` (None: no viewer), an active membership in a community
    of `members_of`, or something written (neither deleted nor held) in a community of `readable`."""
    follows: ColumnElement[bool] = false()
    if viewer is not None:
        follows = exists().where(
            or_(
                and_(Follow.follower_id == viewer, Follow.followed_id == person_id),
                and_(Follow.follower_id == person_id, Follow.followed_id == viewer),
            )
        )
    member = exists().where(
        Membership.actor_id == person_id,
        Membership.state == "active",
        members_of(Membership.community_id),
    )
    written, root = _WRITTEN, _ROOT
    wrote = exists().where(
        written.author_id == person_id,
        written.deleted_at.is_(None),
        written.held.is_(False),
        root.id == func.coalesce(written.root_id, written.id),
        root.deleted_at.is_(None),
        root.held.is_(False),
        PostCommunity.post_id == root.id,
        readable(PostCommunity.community_id),
    )
    return or_(follows, member, wrote)


@dataclass(frozen=True)
class KnownPeople:
    """The people `viewer_actor_id` may know, given the communities whose member lists they may see
    (`members_of`) and whose posts they may read (`readable`)."""

    viewer_actor_id: int | None
    members_of: CommunityScope
    readable: CommunityScope

    def remote(self, person_id: SQLCoreOperations[int]) -> ColumnElement[bool]:
        """The viewer may know the remote person whose actor id is `person_id`."""
        return _remote(self.viewer_actor_id, self.members_of.condition, self.readable.condition, person_id)

    def condition(
        self, person_id: SQLCoreOperations[int], local: SQLCoreOperations[bool]
    ) -> ColumnElement[bool]:
        """The viewer may know this person: one of this instance, or a remote one they may know."""
        return or_(local.is_(True), self.remote(person_id))

    def parameters(self, name: str) -> dict[str, Any]:
        """The values of `known_by_parameters(name, …)` for this viewer."""
        return {
            f"{name}_viewer": self.viewer_actor_id,
            f"{name}_members_excluded": list(self.members_of.open_excluded),
            f"{name}_members_others": list(self.members_of.others),
            f"{name}_readable_excluded": list(self.readable.open_excluded),
            f"{name}_readable_others": list(self.readable.others),
        }


def known(
    people: KnownPeople | None, person_id: SQLCoreOperations[int], local: SQLCoreOperations[bool]
) -> ColumnElement[bool]:
    """`people.condition(...)`, or people of this instance alone when no viewer's scope is given: a
    query that names no viewer never lists anyone remote."""
    return people.condition(person_id, local) if people is not None else local.is_(True)


def known_by_parameters(
    name: str, dialect: str, person_id: SQLCoreOperations[int], local: SQLCoreOperations[bool]
) -> ColumnElement[bool]:
    """`KnownPeople.condition` with the viewer and the lists of communities as bound parameters named
    after `name`, whose values `KnownPeople.parameters(name)` gives: the same SQL for every viewer, so
    a statement may be built once and kept. On PostgreSQL the lists are arrays, so that the SQL does
    not change with their lengths either (each text is planned apart)."""

    def listed(parameter: str) -> _InScope:
        if dialect == "postgresql":
            values = bindparam(parameter, type_=ARRAY(Integer))
            return lambda c: c == any_(values)
        expanded: BindParameter[Any] = bindparam(parameter, expanding=True)
        return lambda c: c.in_(expanded)

    def scope(prefix: str) -> _InScope:
        excluded, others = listed(f"{prefix}_excluded"), listed(f"{prefix}_others")
        return lambda c: _scope(c, excluded, others)

    viewer = bindparam(f"{name}_viewer", type_=Integer)
    return or_(
        local.is_(True), _remote(viewer, scope(f"{name}_members"), scope(f"{name}_readable"), person_id)
    )


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
