"""Storage verb for mention suggestions: people whose name starts with what was typed after `@`.

Local people (with an active account) are all known to every signed-in person; a remote person is
suggested only when the viewer may know them (`server.storage.acquaintances`, the rule the people
directory and search apply too). This module only turns the typed text into one SELECT.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, exists, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.acquaintances import KnownPeople
from server.storage.models import User
from server.storage.social import Actor

PERSON = "Person"
_PLAN_FOR_THE_NAME = text("SET LOCAL plan_cache_mode = force_custom_plan")


@dataclass(frozen=True)
class SuggestionQuery:
    name: str  # lower case, no '@'
    domain: str  # lower case prefix of the instance ('' for any)
    people: KnownPeople  # whom the viewer may know
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


async def suggest_people(session: AsyncSession, query: SuggestionQuery) -> list[Actor]:
    """At most `limit` people, exact user names first, then people of this instance, then by name."""
    conditions: list[ColumnElement[bool]] = [
        Actor.kind == PERSON,
        Actor.deleted_at.is_(None),
        # not a join: PostgreSQL, misjudging how many names match, compared every person with every
        # account (1.5 million comparisons for "u1" among 2,000 people)
        ~exists().where(User.actor_id == Actor.id, User.disabled_at.is_not(None)),
        _matches_name(query),
        query.people.condition(Actor.id, Actor.local),
    ]
    if query.domain:
        conditions.append(Actor.domain.like(_like_prefix(query.domain), escape="\\"))
    if query.hidden_domains:
        conditions.append(Actor.domain.not_in(list(query.hidden_domains)))
    exact = case((func.lower(Actor.username) == query.name, 0), else_=1)
    remote_last = case((Actor.local.is_(True), 0), else_=1)
    statement = (
        select(Actor)
        .where(*conditions)
        .order_by(exact, remote_last, func.lower(Actor.display_name), Actor.id)
        .limit(query.limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Planned for the name typed: PostgreSQL's kept (generic) plan of this statement, chosen after a
        # few runs, read every post of the readable communities (140 ms on the benchmark's data, 3 ms
        # planned for the name). For this transaction only.
        await session.execute(_PLAN_FOR_THE_NAME)
    return list((await session.execute(statement)).scalars())
