"""The raw material of adoption figures: who joined when, and who did what when, in one scope.

A scope is one community (content shared in it, its active members) or the whole instance (content
written by local people, local accounts that are not disabled). Deleted and held content is left
out. Each verb returns plain rows (ids and times); `server.services.analytics` counts them, so every
figure can be checked against the number of people behind it before anyone sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.storage.models import User
from server.storage.social import Actor, Community, Membership, Post, PostCommunity, Reaction


@dataclass(frozen=True)
class Scope:
    community_id: int | None = None  # None: the whole instance


@dataclass(frozen=True)
class Event:
    kind: str  # post | comment | reaction
    actor_id: int
    at: datetime
    target_author_id: int | None  # comment: the thread's author; reaction: the post's author
    root_id: int | None


@dataclass(frozen=True)
class Question:
    id: int
    author_id: int
    at: datetime


def _live(post: Any) -> list[ColumnElement[bool]]:
    return [post.deleted_at.is_(None), post.held.is_(False)]


async def members(session: AsyncSession, scope: Scope) -> list[tuple[int, datetime]]:
    """(actor id, joined at) of every current member."""
    statement: Any
    if scope.community_id is not None:
        statement = select(Membership.actor_id, Membership.created_at).where(
            Membership.community_id == scope.community_id, Membership.state == "active"
        )
    else:
        statement = (
            select(Actor.id, User.created_at)
            .join(User, User.actor_id == Actor.id)
            .where(Actor.local.is_(True), Actor.deleted_at.is_(None), User.disabled_at.is_(None))
        )
    return [(int(a), at) for a, at in (await session.execute(statement)).all()]


def _roots(scope: Scope, since: datetime) -> Any:
    statement = select(
        literal("post").label("kind"),
        Post.author_id,
        Post.created_at,
        literal(None).label("target"),
        Post.id.label("root_id"),
    ).where(Post.parent_id.is_(None), Post.created_at >= since, *_live(Post))
    if scope.community_id is not None:
        return statement.join(PostCommunity, PostCommunity.post_id == Post.id).where(
            PostCommunity.community_id == scope.community_id
        )
    return statement.join(Actor, Actor.id == Post.author_id).where(Actor.local.is_(True))


def _comments(scope: Scope, since: datetime) -> Any:
    root = aliased(Post)
    statement = (
        select(
            literal("comment").label("kind"), Post.author_id, Post.created_at, root.author_id, Post.root_id
        )
        .join(root, root.id == Post.root_id)
        .where(Post.created_at >= since, *_live(Post), *_live(root))
    )
    if scope.community_id is not None:
        return statement.join(PostCommunity, PostCommunity.post_id == Post.root_id).where(
            PostCommunity.community_id == scope.community_id
        )
    return statement.join(Actor, Actor.id == Post.author_id).where(Actor.local.is_(True))


def _reactions(scope: Scope, since: datetime) -> Any:
    statement = (
        select(
            literal("reaction").label("kind"),
            Reaction.actor_id,
            Reaction.created_at,
            Post.author_id,
            func.coalesce(Post.root_id, Post.id),
        )
        .join(Post, Post.id == Reaction.post_id)
        .where(Reaction.created_at >= since, *_live(Post))
    )
    if scope.community_id is not None:
        return statement.join(
            PostCommunity, PostCommunity.post_id == func.coalesce(Post.root_id, Post.id)
        ).where(PostCommunity.community_id == scope.community_id)
    return statement.join(Actor, Actor.id == Reaction.actor_id).where(Actor.local.is_(True))


async def events(session: AsyncSession, scope: Scope, since: datetime) -> list[Event]:
    """Posts, comments and reactions in the scope since `since`, oldest first."""
    both = union_all(_roots(scope, since), _comments(scope, since), _reactions(scope, since)).subquery()
    rows = await session.execute(select(both).order_by(both.c.created_at))
    return [
        Event(kind=str(k), actor_id=int(a), at=_aware(at), target_author_id=t, root_id=r)
        for k, a, at, t, r in rows.all()
    ]


def _aware(value: datetime | str) -> datetime:
    # A UNION may lose the column type on SQLite, so a time can come back as the stored text.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


async def questions(session: AsyncSession, scope: Scope, since: datetime) -> list[Question]:
    """Threads started since `since` that ask: polls, and posts whose title or text ends with '?'."""
    statement = select(Post.id, Post.author_id, Post.created_at).where(
        Post.parent_id.is_(None),
        Post.created_at >= since,
        *_live(Post),
        or_(
            Post.kind == "poll",
            func.rtrim(Post.title).like("%?"),
            func.rtrim(Post.source).like("%?"),
        ),
    )
    if scope.community_id is not None:
        statement = statement.join(PostCommunity, PostCommunity.post_id == Post.id).where(
            PostCommunity.community_id == scope.community_id
        )
    else:
        statement = statement.join(Actor, Actor.id == Post.author_id).where(Actor.local.is_(True))
    return [Question(int(i), int(a), at) for i, a, at in (await session.execute(statement)).all()]


async def first_answers(session: AsyncSession, questions_: list[Question]) -> dict[int, tuple[int, datetime]]:
    """For each question, (responder, time) of the first comment by someone other than its author."""
    if not questions_:
        return {}
    authors = {q.id: q.author_id for q in questions_}
    found: dict[int, tuple[int, datetime]] = {}
    ids = list(authors)
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            select(Post.root_id, Post.author_id, Post.created_at)
            .where(Post.root_id.in_(ids[start : start + 500]), *_live(Post))
            .order_by(Post.created_at, Post.id)
        )
        for root_id, author_id, at in rows.all():
            if root_id is not None and root_id not in found and author_id != authors[root_id]:
                found[int(root_id)] = (int(author_id), at)
    return found


async def community_facts(session: AsyncSession, community_id: int) -> tuple[str, list[str]]:
    """(kind, tags) of a community, for the charter's analytics rules."""
    row = (
        await session.execute(select(Community.kind, Community.tags).where(Community.id == community_id))
    ).one()
    return str(row.kind), list(row.tags or [])


async def display_names(session: AsyncSession, actor_ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """actor id -> (username, domain, display name)."""
    if not actor_ids:
        return {}
    rows = await session.execute(
        select(Actor.id, Actor.username, Actor.domain, Actor.display_name).where(Actor.id.in_(actor_ids))
    )
    return {int(i): (u, d, n) for i, u, d, n in rows.all()}


async def local_communities(session: AsyncSession) -> list[tuple[int, str, str]]:
    rows = await session.execute(
        select(Community.id, Community.slug, Community.name)
        .where(Community.local.is_(True))
        .order_by(Community.slug)
    )
    return [(int(i), s, n) for i, s, n in rows.all()]
