"""Mention suggestions for the composer: who `@ada` or `@ada@munich` may mean, among people the viewer
may already see.

Local people are suggested to everyone signed in here (the people directory lists them too); a remote
person only when the viewer may know them (`server.services.acquaintances`: a follow either way, an
active membership in a community whose member list the viewer may see, or something they wrote in a
community the viewer may read). So a person known to this instance only as a member of a secret
community is never suggested to someone outside it. Only identity (name, instance) is returned: the
fields a profile always shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import ValidationFailed
from server.services.acquaintances import known_people
from server.storage import mentions as store
from server.storage.models import User
from server.storage.social import Actor

MAX_TYPED = 100
DEFAULT_LIMIT = 8
MAX_LIMIT = 20
IMPORTED_DOMAIN = "imported.invalid"  # stand-ins for authors of imported mail archives: not mentionable
_DOMAIN = re.compile(r"^[a-z0-9.:-]*$")


@dataclass(frozen=True)
class Typed:
    name: str
    domain: str


def parse_typed(value: str) -> Typed:
    """What follows `@` in the text: a name prefix and, after a second `@`, an instance prefix."""
    text = value.strip().lstrip("@").lower()
    if not text:
        raise ValidationFailed("type at least one letter after @", field="q")
    if len(text) > MAX_TYPED or any(ch.isspace() for ch in text):
        raise ValidationFailed(f"must be one word of at most {MAX_TYPED} characters", field="q")
    name, _, domain = text.partition("@")
    if not name:
        raise ValidationFailed("type at least one letter after @", field="q")
    if not _DOMAIN.match(domain):
        raise ValidationFailed("the part after the second @ must be an instance name", field="q")
    return Typed(name, domain)


def suggestion_json(actor: Actor) -> dict[str, Any]:
    handle = f"@{actor.username}" if actor.local else f"@{actor.username}@{actor.domain}"
    return {
        "username": actor.username,
        "domain": actor.domain,
        "local": actor.local,
        "display_name": actor.display_name,
        "handle": handle,
    }


async def suggest(
    session: AsyncSession, viewer: User, typed: str, *, limit: int = DEFAULT_LIMIT
) -> list[dict[str, Any]]:
    """People the viewer may mention whose user name or name starts with `typed` (best first)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"must be between 1 and {MAX_LIMIT}", field="limit")
    wanted = parse_typed(typed)
    if viewer.actor_id is None:
        return []
    query = store.SuggestionQuery(
        name=wanted.name,
        domain=wanted.domain,
        people=await known_people(session, viewer),
        hidden_domains=(IMPORTED_DOMAIN,),
        limit=limit,
    )
    return [suggestion_json(actor) for actor in await store.suggest_people(session, query)]
