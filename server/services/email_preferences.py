"""A person's email preferences as one form: the digest frequency (the default mode of every community),
mentions and replies at once or not, a mode per community (or "as my default"), and the address to post
into each community by mail. The choices are stored by `server.mail.preferences`, the same code the
one-click unsubscribe links use, so a link followed from a mail shows here at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.errors import ValidationFailed
from server.mail import preferences
from server.mail.addresses import community_address
from server.services.permissions import Action, allowed, standing
from server.storage import communities as community_store
from server.storage import mail as mail_store
from server.storage.mail import MODES
from server.storage.models import User

DEFAULT = ""  # a community without its own choice follows the default mode


@dataclass(frozen=True)
class CommunityChoice:
    community_id: int
    slug: str
    name: str
    mode: str  # one of MODES, or DEFAULT
    posting_address: str | None  # None where posting by mail is not possible


@dataclass(frozen=True)
class EmailPreferences:
    address: str
    default_mode: str
    mentions: bool
    replies: bool
    communities: list[CommunityChoice]


@dataclass(frozen=True)
class EmailChoices:
    """What the form sent, still untrusted: modes are checked by `save`."""

    default_mode: str
    mentions: bool
    replies: bool
    communities: Mapping[int, str]


async def _my_communities(
    session: AsyncSession, settings: Settings, user: User, modes: Mapping[int, str]
) -> list[CommunityChoice]:
    actor_id = user.actor_id or 0
    ids = await community_store.active_community_ids(session, actor_id)
    found = await community_store.get_communities(session, ids)
    memberships = await community_store.memberships_of(session, actor_id, ids)
    choices = []
    for community in sorted(found.values(), key=lambda c: c.name.lower()):
        member = memberships[community.id]
        may_post = community.local and allowed(
            Action.POST, community.visibility, standing(member.role, member.state)
        )
        choices.append(
            CommunityChoice(
                community_id=community.id,
                slug=community.slug,
                name=community.name,
                mode=modes.get(community.id, DEFAULT),
                posting_address=community_address(settings, community.slug) if may_post else None,
            )
        )
    return choices


async def email_preferences(session: AsyncSession, settings: Settings, user: User) -> EmailPreferences:
    prefs = await preferences.preferences_of(session, settings, user.id)
    return EmailPreferences(
        address=user.email,
        default_mode=prefs.default_mode,
        mentions=prefs.mentions,
        replies=prefs.replies,
        communities=await _my_communities(session, settings, user, prefs.communities),
    )


def _check(choices: EmailChoices, mine: set[int]) -> None:
    if choices.default_mode not in MODES:
        raise ValidationFailed(f"must be one of {', '.join(MODES)}", field="default_mode")
    for community_id, mode in choices.communities.items():
        if community_id not in mine:
            raise ValidationFailed("you are not a member of this community", field="communities")
        if mode != DEFAULT and mode not in MODES:
            raise ValidationFailed(f"must be one of {', '.join(MODES)} or empty", field="communities")


async def save(session: AsyncSession, now: datetime, user: User, choices: EmailChoices) -> None:
    """Check everything first, then store: a refused form changes nothing."""
    mine = set(await community_store.active_community_ids(session, user.actor_id or 0))
    _check(choices, mine)
    await preferences.set_default_mode(session, now, user.id, choices.default_mode)
    await preferences.set_immediate(session, now, user.id, mentions=choices.mentions, replies=choices.replies)
    for community_id, mode in choices.communities.items():
        if mode == DEFAULT:
            await mail_store.clear_community_mode(session, user.id, community_id)
        else:
            await preferences.set_community_mode(session, now, user.id, community_id, mode)
