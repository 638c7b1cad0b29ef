"""Storage verb for mention suggestions: people whose name starts with what was typed after `@`.

Local people (with an active account) are all known to every signed-in person. A remote person is
suggested only when the viewer already has a way to see them: a follow in either direction, an active
membership in a community whose members the viewer may list, or a post or comment (neither deleted
nor held) in a community the viewer may read. Which communities those are is decided by the caller
(the permission table); this module only turns the answer into one SELECT.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import SQLCoreOperations

from server.storage.models import User
from server.storage.social import Actor, Community, Follow, Membership, Post, PostCommunity

PERSON = "Person"


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
class SuggestionQuery:
    viewer_actor_id: int
    name: str  # lower case, no '@'
    domain: str  # lower case prefix of the instance ('' for any)
    members_of: CommunityScope  # communities whose member lists the viewer may see
    readable: CommunityScope  # communities whose posts the viewer may read
    hidden_domains: Collection[str] = ()
    limit: int = 8


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _matches_name(query: SuggestionQuery) -> ColumnElement[bool]:
    prefix = _like_prefix(query.name)
    display = func.lower(Actor.display_name)
    return or_(
        func.lower(Actor.username).like(prefix, escape="\\"),
        display.like(prefix, escape="\\"),
        display.like("% " + prefix, escape="\\"),
    )


def _known_remote(query: SuggestionQuery) -> ColumnElement[bool]:
    viewer = query.viewer_actor_id
    follows = exists().where(
        or_(
            and_(Follow.follower_id == viewer, Follow.followed_id == Actor.id),
            and_(Follow.follower_id == Actor.id, Follow.followed_id == viewer),
        )
    )
    member = exists().where(
        Membership.actor_id == Actor.id,
        Membership.state == "active",
        query.members_of.condition(Membership.community_id),
    )
    written, root = aliased(Post), aliased(Post)
    wrote = exists().where(
        written.author_id == Actor.id,
        written.deleted_at.is_(None),
        written.held.is_(False),
        root.id == func.coalesce(written.root_id, written.id),
        root.deleted_at.is_(None),
        root.held.is_(False),
        PostCommunity.post_id == root.id,
        query.readable.condition(PostCommunity.community_id),
    )
    return or_(follows, member, wrote)


async def suggest_people(session: AsyncSession, query: SuggestionQuery) -> list[Actor]:
    """At most `limit` people, exact user names first, then people of this instance, then by name."""
    conditions: list[ColumnElement[bool]] = [
        Actor.kind == PERSON,
        Actor.deleted_at.is_(None),
        User.disabled_at.is_(None),
        _matches_name(query),
        or_(Actor.local.is_(True), _known_remote(query)),
    ]
    if query.domain:
        conditions.append(Actor.domain.like(_like_prefix(query.domain), escape="\\"))
    if query.hidden_domains:
        conditions.append(Actor.domain.not_in(list(query.hidden_domains)))
    exact = case((func.lower(Actor.username) == query.name, 0), else_=1)
    remote_last = case((Actor.local.is_(True), 0), else_=1)
    statement = (
        select(Actor)
        .outerjoin(User, User.actor_id == Actor.id)
        .where(*conditions)
        .order_by(exact, remote_last, func.lower(Actor.display_name), Actor.id)
        .limit(query.limit)
    )
    return list((await session.execute(statement)).scalars())


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
