"""Storage verbs for attachments (the files themselves live under the media directory)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.social import Attachment, Post, Profile


async def add_attachment(session: AsyncSession, attachment: Attachment) -> Attachment:
    session.add(attachment)
    await session.flush()
    return attachment


async def get_attachment(session: AsyncSession, attachment_id: int) -> Attachment | None:
    return await session.get(Attachment, attachment_id)


async def get_attachments(session: AsyncSession, attachment_ids: Collection[int]) -> Sequence[Attachment]:
    if not attachment_ids:
        return []
    result = await session.execute(
        select(Attachment).where(Attachment.id.in_(list(attachment_ids))).order_by(Attachment.id)
    )
    return result.scalars().all()


async def set_attachments_post(session: AsyncSession, attachment_ids: Collection[int], post_id: int) -> None:
    await session.execute(
        update(Attachment).where(Attachment.id.in_(list(attachment_ids))).values(post_id=post_id)
    )


async def get_post(session: AsyncSession, post_id: int) -> Post | None:
    return await session.get(Post, post_id)


async def is_profile_avatar(session: AsyncSession, attachment: Attachment) -> bool:
    """Whether this attachment is the avatar of its owner's profile."""
    found = await session.execute(
        select(Profile.actor_id).where(
            Profile.actor_id == attachment.owner_id, Profile.avatar_attachment_id == attachment.id
        )
    )
    return found.first() is not None
