"""Mention suggestions for the composer: who `@ada` or `@ada@munich` may mean, among people the viewer
may already see.

Local people are suggested to everyone signed in here (the people directory lists them too). A remote
person only when the viewer follows them or is followed by them, when they are an active member of a
community whose member list the viewer may see, or when they wrote something in a community the viewer
may read; which communities qualify comes from the permission table (`permissions.allowed`), never from
a rule of its own here. So a person known to this instance only as a member of a secret community is
never suggested to someone outside it. Only identity (name, instance) is returned: the fields a profile
always shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import ValidationFailed
from server.services.permissions import Action, allowed, standing
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


def _scope(memberships: Sequence[store.ViewerMembership], action: Action) -> store.CommunityScope:
    open_excluded: list[int] = []
    others: list[int] = []
    for m in memberships:
        ok = allowed(action, m.visibility, standing(m.role, m.state))
        if m.visibility == "open" and not ok:
            open_excluded.append(m.community_id)
        elif m.visibility != "open" and ok:
            others.append(m.community_id)
    return store.CommunityScope(open_excluded=open_excluded, others=others)


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
    memberships = await store.viewer_memberships(session, viewer.actor_id)
    query = store.SuggestionQuery(
        viewer_actor_id=viewer.actor_id,
        name=wanted.name,
        domain=wanted.domain,
        members_of=_scope(memberships, Action.LIST_MEMBERS),
        readable=_scope(memberships, Action.READ),
        hidden_domains=(IMPORTED_DOMAIN,),
        limit=limit,
    )
    return [suggestion_json(actor) for actor in await store.suggest_people(session, query)]
