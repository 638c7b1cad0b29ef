"""What mail a person wants: per community each item, a daily or weekly digest, or nothing; mentions and
replies at once unless turned off; and the one-click unsubscribe links that change these choices."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.errors import ValidationFailed
from server.mail.tokens import new_unsubscribe_token
from server.storage import mail as store
from server.storage.mail import MODES, MailSettings, UnsubscribeToken

SCOPES = ("community", "mentions", "replies", "daily", "weekly")


@dataclass(frozen=True)
class Preferences:
    default_mode: str
    mentions: bool = True
    replies: bool = True
    communities: dict[int, str] = field(default_factory=dict)

    def mode_for(self, community_id: int) -> str:
        return self.communities.get(community_id, self.default_mode)


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValidationFailed(f"must be one of {', '.join(MODES)}", field="mode")
    return mode


async def preferences_of(session: AsyncSession, settings: Settings, user_id: int) -> Preferences:
    row = await store.get_settings(session, user_id)
    default = (row.default_mode if row else None) or settings.smtp.default_mode
    return Preferences(
        default_mode=default,
        mentions=row.mentions if row else True,
        replies=row.replies if row else True,
        communities=await store.community_modes(session, user_id),
    )


async def _settings_row(session: AsyncSession, user_id: int, now: datetime) -> MailSettings:
    row = await store.get_settings(session, user_id)
    if row is None:
        row = await store.put_settings(
            session,
            MailSettings(user_id=user_id, default_mode=None, mentions=True, replies=True, updated_at=now),
        )
    return row


async def set_default_mode(session: AsyncSession, now: datetime, user_id: int, mode: str) -> None:
    row = await _settings_row(session, user_id, now)
    row.default_mode, row.updated_at = _check_mode(mode), now
    await session.flush()


async def set_community_mode(
    session: AsyncSession, now: datetime, user_id: int, community_id: int, mode: str
) -> None:
    await store.set_community_mode(session, user_id, community_id, _check_mode(mode), now)


async def set_immediate(
    session: AsyncSession,
    now: datetime,
    user_id: int,
    *,
    mentions: bool | None = None,
    replies: bool | None = None,
) -> None:
    row = await _settings_row(session, user_id, now)
    if mentions is not None:
        row.mentions = mentions
    if replies is not None:
        row.replies = replies
    row.updated_at = now
    await session.flush()


async def unsubscribe_token(
    session: AsyncSession, now: datetime, user_id: int, scope: str, community_id: int | None = None
) -> str:
    """The token of the link that stops this kind of mail (made once, then reused)."""
    assert scope in SCOPES, scope
    found = await store.find_unsubscribe_token(session, user_id, scope, community_id)
    if found is not None:
        return found.token
    row = UnsubscribeToken(
        token=new_unsubscribe_token(), user_id=user_id, scope=scope, community_id=community_id, created_at=now
    )
    return (await store.add_unsubscribe_token(session, row)).token


def unsubscribe_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url}/mail/unsubscribe/{token}"


async def find_token(session: AsyncSession, token: str) -> UnsubscribeToken | None:
    if not token or len(token) > 64:
        return None
    return await store.get_unsubscribe_token(session, token)


async def unsubscribe(
    session: AsyncSession, settings: Settings, now: datetime, token: str
) -> UnsubscribeToken | None:
    """Apply the link's choice; None when the token is unknown. Using a link twice is harmless."""
    row = await find_token(session, token)
    if row is None:
        return None
    if row.scope == "community" and row.community_id is not None:
        await set_community_mode(session, now, row.user_id, row.community_id, "none")
    elif row.scope in ("mentions", "replies"):
        await set_immediate(session, now, row.user_id, **{row.scope: False})
    elif row.scope in ("daily", "weekly"):
        prefs = await preferences_of(session, settings, row.user_id)
        if prefs.default_mode == row.scope:
            await set_default_mode(session, now, row.user_id, "none")
        for community_id, mode in prefs.communities.items():
            if mode == row.scope:
                await set_community_mode(session, now, row.user_id, community_id, "none")
    row.used_at = now
    await session.flush()
    return row
