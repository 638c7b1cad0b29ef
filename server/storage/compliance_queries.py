"""Storage verbs of the charter: acceptances, cross-border consents, legal holds, and the reads of stored
content that retention and `cercle charter simulate` need (a post with its tags, communities, attachments).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.compliance import CharterAcceptance, CrossBorderConsent, LegalHold
from server.storage.models import User
from server.storage.social import (
    Actor,
    Attachment,
    Community,
    Post,
    PostCommunity,
    PostRevision,
    PostTag,
)

# --- acceptances -------------------------------------------------------------------------------------------


async def latest_acceptance(session: AsyncSession, user_id: int, charter_id: str) -> CharterAcceptance | None:
    result = await session.execute(
        select(CharterAcceptance)
        .where(CharterAcceptance.user_id == user_id, CharterAcceptance.charter_id == charter_id)
        .order_by(CharterAcceptance.accepted_at.desc(), CharterAcceptance.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def add_acceptance(session: AsyncSession, acceptance: CharterAcceptance) -> CharterAcceptance:
    session.add(acceptance)
    await session.flush()
    return acceptance


@dataclass(frozen=True, slots=True)
class AcceptanceRecord:
    acceptance: CharterAcceptance
    username: str
    email: str


async def list_acceptances(session: AsyncSession, *, charter_id: str | None = None) -> list[AcceptanceRecord]:
    """Every acceptance ever recorded (oldest first), with who accepted."""
    query = select(CharterAcceptance, User.username, User.email).join(
        User, User.id == CharterAcceptance.user_id
    )
    if charter_id is not None:
        query = query.where(CharterAcceptance.charter_id == charter_id)
    result = await session.execute(query.order_by(CharterAcceptance.accepted_at, CharterAcceptance.id))
    return [AcceptanceRecord(row[0], row[1], row[2]) for row in result]


async def latest_versions_of_active_people(session: AsyncSession, charter_id: str) -> dict[str | None, int]:
    """How many active people last accepted each version of this charter (None: never accepted it)."""
    latest = (
        select(CharterAcceptance.charter_version)
        .where(CharterAcceptance.user_id == User.id, CharterAcceptance.charter_id == charter_id)
        .order_by(CharterAcceptance.accepted_at.desc(), CharterAcceptance.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    per_person = select(latest.label("version")).where(User.disabled_at.is_(None)).subquery()
    query = select(per_person.c.version, func.count()).group_by(per_person.c.version)
    return {version: int(count) for version, count in (await session.execute(query)).all()}


# --- cross-border consents ---------------------------------------------------------------------------------


async def active_consents(session: AsyncSession, user_id: int) -> Sequence[CrossBorderConsent]:
    result = await session.execute(
        select(CrossBorderConsent)
        .where(CrossBorderConsent.user_id == user_id, CrossBorderConsent.withdrawn_at.is_(None))
        .order_by(CrossBorderConsent.jurisdiction, CrossBorderConsent.id)
    )
    return result.scalars().all()


async def add_consent(session: AsyncSession, consent: CrossBorderConsent) -> CrossBorderConsent:
    session.add(consent)
    await session.flush()
    return consent


async def withdraw_consents(session: AsyncSession, user_id: int, jurisdiction: str, now: datetime) -> int:
    """Mark the active consents of this person for this jurisdiction withdrawn; how many there were."""
    result = await session.execute(
        update(CrossBorderConsent)
        .where(
            CrossBorderConsent.user_id == user_id,
            CrossBorderConsent.jurisdiction == jurisdiction,
            CrossBorderConsent.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- legal holds -------------------------------------------------------------------------------------------


async def add_legal_hold(session: AsyncSession, hold: LegalHold) -> LegalHold:
    session.add(hold)
    await session.flush()
    return hold


async def get_legal_hold(session: AsyncSession, hold_id: int) -> LegalHold | None:
    return await session.get(LegalHold, hold_id)


async def list_legal_holds(
    session: AsyncSession, *, active_at: datetime | None = None
) -> Sequence[LegalHold]:
    """All holds, or those in force at `active_at`, oldest first."""
    query = select(LegalHold)
    if active_at is not None:
        query = query.where(
            LegalHold.placed_at <= active_at,
            (LegalHold.released_at.is_(None)) | (LegalHold.released_at > active_at),
        )
    result = await session.execute(query.order_by(LegalHold.id))
    return result.scalars().all()


async def actor_id_of_username(session: AsyncSession, username: str) -> int | None:
    result = await session.execute(select(User.actor_id).where(User.username == username.lower()))
    return result.scalar_one_or_none()


async def community_id_of_slug(session: AsyncSession, slug: str) -> int | None:
    result = await session.execute(
        select(Community.id).where(Community.slug == slug, Community.local.is_(True)).limit(1)
    )
    return result.scalar_one_or_none()


# --- stored content ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommunityRow:
    id: int
    kind: str
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AttachmentRow:
    id: int
    post_id: int | None
    media_type: str
    size: int
    filename: str
    path: str | None
    thumbnail_path: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredPost:
    """A post or comment as the charter needs it: its text, its author, where it was shared, its files."""

    id: int
    uri: str
    kind: str
    local: bool
    author_id: int
    author_jurisdiction: str | None
    title: str
    source: str
    content_html: str
    created_at: datetime
    tags: tuple[str, ...]
    communities: tuple[CommunityRow, ...]
    attachments: tuple[AttachmentRow, ...]


def _attachment_row(a: Attachment) -> AttachmentRow:
    return AttachmentRow(
        a.id, a.post_id, a.media_type, a.size, a.filename, a.path, a.thumbnail_path, a.created_at
    )


async def communities_of_posts(
    session: AsyncSession, post_ids: Sequence[int]
) -> dict[int, list[CommunityRow]]:
    if not post_ids:
        return {}
    result = await session.execute(
        select(PostCommunity.post_id, Community.id, Community.kind, Community.tags)
        .join(Community, Community.id == PostCommunity.community_id)
        .where(PostCommunity.post_id.in_(post_ids))
        .order_by(PostCommunity.post_id, Community.id)
    )
    found: dict[int, list[CommunityRow]] = {}
    for post_id, community_id, kind, tags in result:
        found.setdefault(post_id, []).append(CommunityRow(community_id, kind, tuple(tags or ())))
    return found


async def stored_posts(
    session: AsyncSession,
    *,
    since: datetime | None = None,
    created_before: datetime | None = None,
    kinds: Sequence[str] | None = None,
    after_id: int = 0,
    limit: int = 500,
) -> list[StoredPost]:
    """Posts and comments not deleted, by id from `after_id` (exclusive): page with the last id returned."""
    query = (
        select(Post, Actor.jurisdiction)
        .join(Actor, Actor.id == Post.author_id)
        .where(Post.deleted_at.is_(None), Post.id > after_id)
    )
    if since is not None:
        query = query.where(Post.created_at >= since)
    if created_before is not None:
        query = query.where(Post.created_at <= created_before)
    if kinds is not None:
        query = query.where(Post.kind.in_(kinds))
    rows = (await session.execute(query.order_by(Post.id).limit(limit))).all()
    ids = [row[0].id for row in rows]
    tags: dict[int, list[str]] = {}
    attachments: dict[int, list[AttachmentRow]] = {}
    if ids:
        for post_id, tag in await session.execute(
            select(PostTag.post_id, PostTag.tag).where(PostTag.post_id.in_(ids)).order_by(PostTag.tag)
        ):
            tags.setdefault(post_id, []).append(tag)
        files = await session.execute(
            select(Attachment).where(Attachment.post_id.in_(ids)).order_by(Attachment.id)
        )
        for attachment in files.scalars():
            attachments.setdefault(attachment.post_id or 0, []).append(_attachment_row(attachment))
    communities = await communities_of_posts(session, ids)
    return [
        StoredPost(
            id=post.id,
            uri=post.uri,
            kind=post.kind,
            local=post.local,
            author_id=post.author_id,
            author_jurisdiction=jurisdiction,
            title=post.title,
            source=post.source,
            content_html=post.content_html,
            created_at=post.created_at,
            tags=tuple(tags.get(post.id, ())),
            communities=tuple(communities.get(post.id, ())),
            attachments=tuple(attachments.get(post.id, ())),
        )
        for post, jurisdiction in rows
    ]


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    attachment: AttachmentRow
    owner_id: int
    communities: tuple[CommunityRow, ...]


async def post_attachments_created_before(
    session: AsyncSession, created_before: datetime, *, after_id: int = 0, limit: int = 500
) -> list[StoredAttachment]:
    """Attachments of posts not deleted, created at or before `created_before`, by id."""
    result = await session.execute(
        select(Attachment)
        .join(Post, Post.id == Attachment.post_id)
        .where(Post.deleted_at.is_(None), Attachment.created_at <= created_before, Attachment.id > after_id)
        .order_by(Attachment.id)
        .limit(limit)
    )
    files = result.scalars().all()
    communities = await communities_of_posts(session, [f.post_id for f in files if f.post_id is not None])
    return [
        StoredAttachment(
            _attachment_row(f), f.owner_id, tuple(communities.get(f.post_id, ())) if f.post_id else ()
        )
        for f in files
    ]


async def tombstone_post(session: AsyncSession, post_id: int, now: datetime) -> list[AttachmentRow]:
    """Empty a post and mark it deleted; drop its revisions, tags and attachments (returned: their files)."""
    files = await session.execute(select(Attachment).where(Attachment.post_id == post_id))
    removed = [_attachment_row(a) for a in files.scalars()]
    await session.execute(
        update(Post)
        .where(Post.id == post_id)
        .values(title="", source="", content_html="", poll_options=null(), deleted_at=now)
        .execution_options(synchronize_session="fetch")
    )
    await session.execute(delete(PostRevision).where(PostRevision.post_id == post_id))
    await session.execute(delete(PostTag).where(PostTag.post_id == post_id))
    await session.execute(delete(Attachment).where(Attachment.post_id == post_id))
    return removed


async def delete_attachment(session: AsyncSession, attachment_id: int) -> None:
    await session.execute(delete(Attachment).where(Attachment.id == attachment_id))
