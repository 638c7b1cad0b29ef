"""Storage verbs the email preferences page needs beyond `server.storage.mail`: forgetting a community's
own choice, so that the community follows the person's default again."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.mail import MailCommunityPreference


async def clear_community_mode(session: AsyncSession, user_id: int, community_id: int) -> None:
    await session.execute(
        delete(MailCommunityPreference).where(
            MailCommunityPreference.user_id == user_id, MailCommunityPreference.community_id == community_id
        )
    )
