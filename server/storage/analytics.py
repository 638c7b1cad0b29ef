"""Adoption figures counted in the database: who joined when, and who did what when, in one scope.

A scope is one community (content shared in it, its active members) or the whole instance (content
written by local people, local accounts that are not disabled). Deleted and held content is left
out. The verbs return counts, never the events themselves: the database groups the posts, comments
and reactions of the period by time window and kind (`COUNT`, and the number of distinct people
behind each count), so a report reads a few rows whatever the size of the instance (plus one per
question asked and one per person with helpful acts, for the median response time and the
ambassadors).
`server.services.analytics` checks every figure against the number of people behind it before
anyone sees it.

How the distinct counts are made in one pass: the events of the period are grouped by (kind,
person), with one column per time window holding how many of that person's events fall in it (a
`CASE` on the event time, so windows may overlap and no date arithmetic, which differs between
SQLite and PostgreSQL, is needed). A count is then the sum of a column, and the number of people
the number of rows where it is not zero: per kind, and across kinds after grouping by person.

Snapshots (`analytics_snapshots`) keep the raw figures of a report counted ahead of time, per scope and
number of weeks: what was counted and by how many people, before the charter is applied. Whoever reads
one applies the charter to it as to a live count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column

from server.storage.base import Base, UTCDateTime
from server.storage.models import User
from server.storage.social import Actor, Community, Membership, Post, PostCommunity, Reaction

KINDS = ("post", "comment", "reaction")
ANYONE = "anyone"  # every kind together
MEMBERS = "members"  # every kind together, by current members of the community only


@dataclass(frozen=True)
class Scope:
    community_id: int | None = None  # None: the whole instance

    @property
    def key(self) -> str:
        """How snapshots name the scope."""
        return "instance" if self.community_id is None else f"community:{self.community_id}"


@dataclass(frozen=True)
class Window:
    since: datetime  # included
    until: datetime  # excluded


@dataclass(frozen=True)
class Tally:
    count: int  # events
    people: int  # distinct people who did them


@dataclass(frozen=True)
class Question:
    id: int
    author_id: int
    at: datetime
    answered_by: int | None  # the first comment by someone other than the author
    answered_at: datetime | None


def _live(post: Any) -> list[ColumnElement[bool]]:
    return [post.deleted_at.is_(None), post.held.is_(False)]


def _written_locally() -> ColumnElement[bool]:
    """The post's author is a local person. A correlated EXISTS rather than a join: joined, SQLite
    starts from the local actors and reads every post of each through ix_posts_author_created, where
    the time range alone (ix_posts_root_created for comments) reads far fewer rows."""
    return exists().where(Actor.id == Post.author_id, Actor.local.is_(True))


def _members(community: Any) -> Any:
    """(actor id, joined at) of every current member of `community` (an id or a bound parameter; None:
    the whole instance)."""
    if community is not None:
        return select(Membership.actor_id.label("actor_id"), Membership.created_at.label("joined_at")).where(
            Membership.community_id == community, Membership.state == "active"
        )
    return (
        select(Actor.id.label("actor_id"), User.created_at.label("joined_at"))
        .join(User, User.actor_id == Actor.id)
        .where(Actor.local.is_(True), Actor.deleted_at.is_(None), User.disabled_at.is_(None))
    )


async def members(session: AsyncSession, scope: Scope, moments: Sequence[datetime]) -> tuple[int, list[int]]:
    """How many current members there are, and how many of them joined before each of `moments`."""
    joined = _members(scope.community_id).subquery()
    before = [func.sum(case((joined.c.joined_at < moment, 1), else_=0)) for moment in moments]
    row = (await session.execute(select(func.count(), *before).select_from(joined))).one()
    return int(row[0]), [int(value or 0) for value in row[1:]]


def _roots(community: Any, since: Any) -> Any:
    statement = select(
        literal("post").label("kind"),
        Post.author_id.label("actor_id"),
        Post.created_at.label("created_at"),
        literal(None).label("target"),
    ).where(Post.parent_id.is_(None), Post.created_at >= since, *_live(Post))
    if community is not None:
        return statement.join(PostCommunity, PostCommunity.post_id == Post.id).where(
            PostCommunity.community_id == community
        )
    return statement.where(_written_locally())


def _comments(community: Any, since: Any) -> Any:
    root = aliased(Post)
    statement = (
        select(
            literal("comment").label("kind"),
            Post.author_id.label("actor_id"),
            Post.created_at.label("created_at"),
            root.author_id.label("target"),
        )
        .join(root, root.id == Post.root_id)
        # `root_id IS NOT NULL` follows from the join; said here, it lets SQLite find the comments of
        # the period in ix_posts_root_created without reading the rows of every post.
        .where(Post.root_id.is_not(None), Post.created_at >= since, *_live(Post), *_live(root))
    )
    if community is not None:
        return statement.join(PostCommunity, PostCommunity.post_id == Post.root_id).where(
            PostCommunity.community_id == community
        )
    return statement.where(_written_locally())


def _reactions(community: Any, since: Any) -> Any:
    statement = (
        select(
            literal("reaction").label("kind"),
            Reaction.actor_id.label("actor_id"),
            Reaction.created_at.label("created_at"),
            Post.author_id.label("target"),
        )
        .join(Post, Post.id == Reaction.post_id)
        .where(Reaction.created_at >= since, *_live(Post))
    )
    if community is not None:
        return statement.where(Reaction.post_id.in_(_posts_and_comments(community)))
    return statement.join(Actor, Actor.id == Reaction.actor_id).where(Actor.local.is_(True))


def _posts_and_comments(community: Any) -> Any:
    """The ids of the threads shared in a community and of their comments: the posts whose
    `coalesce(root_id, id)` is shared there, found through indexes rather than by reading every
    reaction (an expression on both sides of a join cannot use one)."""
    shared = select(PostCommunity.post_id).where(PostCommunity.community_id == community)
    roots = select(Post.id).where(Post.id.in_(shared), Post.root_id.is_(None))
    comments = select(Post.id).where(Post.root_id.in_(shared))
    return union_all(roots, comments)


def _events(community: Any, since: Any) -> Any:
    """Posts, comments and reactions in the scope since `since`: kind, actor_id, created_at and
    target (a comment's thread author, a reaction's post author)."""
    return union_all(
        _roots(community, since), _comments(community, since), _reactions(community, since)
    ).subquery()


def _per_window(rows: Any, count: int) -> list[ColumnElement[Any]]:
    return [
        func.sum(
            case(
                (and_(rows.c.created_at >= bindparam(f"s{i}"), rows.c.created_at < bindparam(f"u{i}")), 1),
                else_=0,
            )
        ).label(f"w{i}")
        for i in range(count)
    ]


def _totals(label: Any, rows: Any, count: int) -> Any:
    """Per window: the sum of the events and the number of people with at least one."""
    columns = [rows.c[f"w{i}"] for i in range(count)]
    return select(
        label,
        *[func.sum(column) for column in columns],
        *[func.sum(case((column > 0, 1), else_=0)) for column in columns],
    )


@lru_cache(maxsize=16)  # about 1 MB each; the dashboards offer four periods, the API any of 52
def _tallies_statement(in_community: bool, count: int) -> Any:
    """The statement of `tallies` for one shape, built once: the community, the period and the windows
    are bound parameters (`community`, `since`, `until`, `s0`/`u0`…). A year of weekly windows makes a
    statement of a few thousand elements, whose building cost several times its execution."""
    community: Any = bindparam("community") if in_community else None
    events = _events(community, bindparam("since"))
    per_person = (
        select(events.c.kind, events.c.actor_id, *_per_window(events, count))
        .where(events.c.created_at < bindparam("until"))
        .group_by(events.c.kind, events.c.actor_id)
        .cte("per_person")
    )
    people = (
        select(per_person.c.actor_id, *[func.sum(per_person.c[f"w{i}"]).label(f"w{i}") for i in range(count)])
        .group_by(per_person.c.actor_id)
        .cte("people")
    )
    parts = [
        _totals(per_person.c.kind, per_person, count).group_by(per_person.c.kind),
        _totals(literal(ANYONE), people, count),
    ]
    if in_community:
        member_ids = select(_members(community).subquery().c.actor_id)
        parts.append(_totals(literal(MEMBERS), people, count).where(people.c.actor_id.in_(member_ids)))
    return union_all(*parts)


def _bounds(scope: Scope, since: datetime) -> dict[str, Any]:
    return (
        {"since": since} if scope.community_id is None else {"since": since, "community": scope.community_id}
    )


async def tallies(session: AsyncSession, scope: Scope, windows: Sequence[Window]) -> list[dict[str, Tally]]:
    """For each window: a Tally per kind (post, comment, reaction), for every kind together (ANYONE)
    and, in a community, for every kind together by its current members only (MEMBERS)."""
    if not windows:
        return []
    values = _bounds(scope, min(w.since for w in windows)) | {"until": max(w.until for w in windows)}
    for i, window in enumerate(windows):
        values |= {f"s{i}": window.since, f"u{i}": window.until}
    statement = _tallies_statement(scope.community_id is not None, len(windows))
    found = {str(row[0]): row[1:] for row in (await session.execute(statement, values)).all()}
    empty = [0] * (2 * len(windows))
    return [
        {
            name: Tally(int(values[i] or 0), int(values[len(windows) + i] or 0))
            for name, values in ((name, found.get(name, empty)) for name in (*KINDS, ANYONE, MEMBERS))
        }
        for i in range(len(windows))
    ]


def _questions(community: Any, since: Any) -> Any:
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
    if community is not None:
        return statement.join(PostCommunity, PostCommunity.post_id == Post.id).where(
            PostCommunity.community_id == community
        )
    return statement.where(_written_locally())


def _first_answers(asked: Any) -> Any:
    """The first comment (by time, then id) of each question by someone other than its author."""
    order = func.row_number().over(partition_by=Post.root_id, order_by=(Post.created_at, Post.id))
    replies = (
        select(
            Post.root_id.label("question_id"),
            Post.author_id.label("responder"),
            Post.created_at.label("answered_at"),
            order.label("rank"),
        )
        .join(asked, asked.c.id == Post.root_id)
        .where(Post.author_id != asked.c.author_id, *_live(Post))
        .subquery()
    )
    return select(replies.c.question_id, replies.c.responder, replies.c.answered_at).where(
        replies.c.rank == 1
    )


@cache
def _questions_statement(in_community: bool) -> Any:
    asked = _questions(bindparam("community") if in_community else None, bindparam("since")).cte("asked")
    first = _first_answers(asked).subquery()
    return (
        select(asked.c.id, asked.c.author_id, asked.c.created_at, first.c.responder, first.c.answered_at)
        .outerjoin(first, first.c.question_id == asked.c.id)
        .order_by(asked.c.id)
    )


async def questions(session: AsyncSession, scope: Scope, since: datetime) -> list[Question]:
    """The questions asked since `since`, each with its first answer if any."""
    statement = _questions_statement(scope.community_id is not None)
    rows = await session.execute(statement, _bounds(scope, since))
    return [
        Question(int(i), int(a), _aware(at), None if r is None else int(r), None if t is None else _aware(t))
        for i, a, at, r, t in rows.all()
    ]


def _aware(value: datetime | str) -> datetime:
    # Through a subquery SQLite may lose the column type, so a time can come back as the stored text.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@cache
def _helpfulness_statement(in_community: bool, members_only: bool) -> Any:
    community: Any = bindparam("community") if in_community else None
    since: Any = bindparam("since")
    both = union_all(_comments(community, since), _reactions(community, since)).subquery()
    others = and_(both.c.target.is_not(None), both.c.target != both.c.actor_id)
    who = case((both.c.kind == "comment", both.c.actor_id), else_=both.c.target)
    statement = select(who, func.count()).where(others).group_by(who)
    if members_only:
        statement = statement.where(who.in_(select(_members(community).subquery().c.actor_id)))
    return statement


async def helpfulness(
    session: AsyncSession, scope: Scope, since: datetime, *, members_only: bool
) -> dict[int, int]:
    """Points per person since `since`: one per comment in someone else's thread and one per reaction
    received from someone else; in a community, for its current members only."""
    statement = _helpfulness_statement(scope.community_id is not None, members_only)
    rows = await session.execute(statement, _bounds(scope, since))
    return {int(person): int(points) for person, points in rows.all()}


async def current_members(session: AsyncSession, scope: Scope, actor_ids: set[int]) -> set[int]:
    """Those of `actor_ids` who are members of the scope now."""
    if not actor_ids:
        return set()
    joined = _members(scope.community_id).subquery()
    rows = await session.execute(select(joined.c.actor_id).where(joined.c.actor_id.in_(sorted(actor_ids))))
    return {int(a) for a in rows.scalars().all()}


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


# --- snapshots -----------------------------------------------------------------------------------------


class AnalyticsSnapshot(Base):
    """The raw figures of one report (scope, number of weeks) as counted at `computed_at`; `payload` is
    written and read by `server.services.analytics`. One row per scope and period, replaced by each count."""

    __tablename__ = "analytics_snapshots"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    weeks: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


@dataclass(frozen=True)
class Snapshot:
    weeks: int
    computed_at: datetime
    payload: dict[str, Any]


async def snapshot(session: AsyncSession, scope: Scope, weeks: int) -> Snapshot | None:
    row = (
        await session.execute(
            select(AnalyticsSnapshot.computed_at, AnalyticsSnapshot.payload).where(
                AnalyticsSnapshot.scope == scope.key, AnalyticsSnapshot.weeks == weeks
            )
        )
    ).one_or_none()
    return None if row is None else Snapshot(weeks, row.computed_at, dict(row.payload))


async def snapshot_times(session: AsyncSession, scope: Scope) -> dict[int, datetime]:
    """When each period of the scope was last counted, by number of weeks."""
    rows = await session.execute(
        select(AnalyticsSnapshot.weeks, AnalyticsSnapshot.computed_at).where(
            AnalyticsSnapshot.scope == scope.key
        )
    )
    return {int(weeks): at for weeks, at in rows.all()}


async def store_snapshot(
    session: AsyncSession, scope: Scope, weeks: int, computed_at: datetime, payload: dict[str, Any]
) -> None:
    """Keep the counts of (scope, weeks), replacing older ones; a newer snapshot (written meanwhile by
    another process) is left as it is."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(AnalyticsSnapshot).values(
        scope=scope.key, weeks=weeks, computed_at=computed_at, payload=payload
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["scope", "weeks"],
            set_={"computed_at": statement.excluded.computed_at, "payload": statement.excluded.payload},
            where=AnalyticsSnapshot.computed_at <= statement.excluded.computed_at,
        )
    )
