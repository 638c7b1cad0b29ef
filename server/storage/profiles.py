"""Storage verbs for people: profiles, their searchable tags, and the people directory query.

The directory is one SELECT per page: actors joined to their profile (the tag lists are copies
on the profile row, so no per-person query follows), filtered with EXISTS on `profile_tags`,
and paged by keyset on (rank, lower(display_name), id). Per-field visibility is evaluated in
SQL from the `visibility` JSON column; which levels a viewer sees is given by the caller. A remote
person is listed only to a viewer who may know them (`server.storage.acquaintances`), in the same
SELECT, so neither a page nor a cursor ever counts someone the viewer may not see.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from server.storage.acquaintances import KnownPeople, known
from server.storage.models import User
from server.storage.social import Actor, Profile, ProfileTag

PERSON = "Person"


async def get_person(session: AsyncSession, actor_id: int) -> tuple[Actor, Profile] | None:
    row = (
        await session.execute(
            select(Actor, Profile).join(Profile, Profile.actor_id == Actor.id).where(Actor.id == actor_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def get_person_by_name(
    session: AsyncSession, username: str, domain: str
) -> tuple[Actor, Profile] | None:
    row = (
        await session.execute(
            select(Actor, Profile)
            .join(Profile, Profile.actor_id == Actor.id)
            .outerjoin(User, User.actor_id == Actor.id)
            .where(
                Actor.username == username,
                Actor.domain == domain,
                Actor.kind == PERSON,
                Actor.deleted_at.is_(None),
                User.disabled_at.is_(None),
            )
        )
    ).first()
    return (row[0], row[1]) if row else None


async def replace_profile_tags(session: AsyncSession, actor_id: int, kind: str, tags: Sequence[str]) -> None:
    await session.execute(delete(ProfileTag).where(ProfileTag.actor_id == actor_id, ProfileTag.kind == kind))
    if tags:
        await session.execute(
            insert(ProfileTag), [{"actor_id": actor_id, "kind": kind, "tag": tag} for tag in tags]
        )


async def list_profile_tags(session: AsyncSession, actor_id: int) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(ProfileTag.kind, ProfileTag.tag)
        .where(ProfileTag.actor_id == actor_id)
        .order_by(ProfileTag.kind, ProfileTag.tag)
    )
    return [(row.kind, row.tag) for row in rows]


async def set_user_display_name(session: AsyncSession, actor_id: int, display_name: str) -> None:
    await session.execute(update(User).where(User.actor_id == actor_id).values(display_name=display_name))


@dataclass(frozen=True)
class Cursor:
    rank: int
    name: str
    actor_id: int

    def encode(self) -> str:
        raw = json.dumps([self.rank, self.name, self.actor_id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor | None:
        """The cursor, or None when `value` is not one this module made."""
        try:
            rank, name, actor_id = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        except (ValueError, TypeError, binascii.Error):
            return None
        if not (isinstance(rank, int) and isinstance(name, str) and isinstance(actor_id, int)):
            return None
        return cls(rank, name, actor_id)


@dataclass(frozen=True)
class PeopleQuery:
    """A directory query, already normalised. Visibility: a field of a local person is usable when
    its level is in `levels_local` (of a remote person: `levels_remote`), with `defaults` for unset
    fields; the viewer's own profile is fully usable. Remote people are listed only when `people` says
    the viewer may know them (none when it is None)."""

    viewer_actor_id: int | None
    levels_local: Collection[str]
    levels_remote: Collection[str]
    defaults: Mapping[str, str]
    q: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)  # kind -> tag, e.g. {"expertise": "python"}
    tag_fields: Mapping[str, str] = field(default_factory=dict)  # kind -> profile field
    department: str = ""
    site: str = ""
    limit: int = 20
    after: Cursor | None = None
    people: KnownPeople | None = None


@dataclass(frozen=True)
class PeoplePage:
    people: list[tuple[Actor, Profile]]
    next_cursor: Cursor | None


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: InstrumentedAttribute[str], value: str) -> ColumnElement[bool]:
    return func.lower(column).like(_like(value.lower()), escape="\\")


def _visible(query: PeopleQuery, name: str) -> ColumnElement[bool]:
    level = func.coalesce(Profile.visibility[name].as_string(), query.defaults[name])
    own = Actor.id == query.viewer_actor_id if query.viewer_actor_id is not None else false()
    return or_(
        own,
        and_(Actor.local.is_(True), level.in_(list(query.levels_local))),
        and_(Actor.local.is_(False), level.in_(list(query.levels_remote))),
    )


def _has_tag(kind: str, tag_condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(ProfileTag.actor_id == Actor.id, ProfileTag.kind == kind, tag_condition)


async def search_people(session: AsyncSession, query: PeopleQuery) -> PeoplePage:
    name_key = func.lower(Actor.display_name)
    conditions: list[ColumnElement[bool]] = [
        Actor.kind == PERSON,
        Actor.deleted_at.is_(None),
        User.disabled_at.is_(None),
        known(query.people, Actor.id, Actor.local),
    ]
    for kind, tag in query.tags.items():
        conditions.append(
            and_(_has_tag(kind, ProfileTag.tag == tag), _visible(query, query.tag_fields[kind]))
        )
    if query.department:
        conditions.append(
            and_(_contains(Profile.department, query.department), _visible(query, "department"))
        )
    if query.site:
        conditions.append(and_(_contains(Profile.site, query.site), _visible(query, "site")))
    rank: ColumnElement[int]
    if query.q:
        expert = and_(_has_tag("expertise", _contains(ProfileTag.tag, query.q)), _visible(query, "expertise"))
        conditions.append(
            or_(
                _contains(Actor.display_name, query.q),
                _contains(Actor.username, query.q),
                and_(_contains(Profile.job_title, query.q), _visible(query, "job_title")),
                expert,
            )
        )
        rank = case((expert, 0), else_=1)
    else:
        rank = literal(0)
    if query.after is not None:
        after = query.after
        conditions.append(
            or_(
                rank > after.rank,
                and_(
                    rank == after.rank,
                    or_(name_key > after.name, and_(name_key == after.name, Actor.id > after.actor_id)),
                ),
            )
        )
    statement = (
        select(Actor, Profile, rank.label("rank"), name_key.label("name_key"))
        .join(Profile, Profile.actor_id == Actor.id)
        .outerjoin(User, User.actor_id == Actor.id)
        .where(*conditions)
        .order_by(rank, name_key, Actor.id)
        .limit(query.limit + 1)
    )
    rows = (await session.execute(statement)).all()
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit and page:
        last = page[-1]
        next_cursor = Cursor(int(last.rank), str(last.name_key), last[0].id)
    return PeoplePage(people=[(row[0], row[1]) for row in page], next_cursor=next_cursor)


async def profiles_of(session: AsyncSession, actor_ids: Sequence[int]) -> dict[int, Profile]:
    if not actor_ids:
        return {}
    query = select(Profile).where(Profile.actor_id.in_(set(actor_ids)))
    return {profile.actor_id: profile for profile in (await session.execute(query)).scalars()}


async def active_people(
    session: AsyncSession, actor_ids: Collection[int], people: KnownPeople
) -> list[tuple[Actor, Profile]]:
    """These actors with their profiles, only people still there (not deleted, account not disabled)
    whom the viewer may know (`people`)."""
    if not actor_ids:
        return []
    query = (
        select(Actor, Profile)
        .join(Profile, Profile.actor_id == Actor.id)
        .outerjoin(User, User.actor_id == Actor.id)
        .where(
            Actor.id.in_(set(actor_ids)),
            Actor.kind == "Person",
            Actor.deleted_at.is_(None),
            User.disabled_at.is_(None),
            people.condition(Actor.id, Actor.local),
        )
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]
