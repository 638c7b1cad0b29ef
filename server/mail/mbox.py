"""Importing a mailing-list archive (mbox) into a community, as threads with their original dates and authors.

Messages are read in date order. A message whose `In-Reply-To` (or last known `References`) names a
message already imported into the same community becomes a comment in that thread; any other becomes
a post. Authors are matched by address to local accounts; an address with no account becomes an
*imported author*: a non-local `Person` actor on the reserved domain `imported.invalid` (RFC 2606),
whose uri is `mailto:<address>` and whose name is the one in `From:`, so the posts show a real name
and the address is never mistaken for a federated account. Every imported message keeps its
Message-ID in `mail_messages` (scope `import:<community id>`): importing the same file again adds
nothing. Imported content is not mailed to members and raises no notification.
"""

from __future__ import annotations

import asyncio
import hashlib
import mailbox
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Context
from server.errors import NotFound
from server.mail.addresses import address_of
from server.mail.parsing import body_of, strip_reply
from server.services.mentions import IMPORTED_DOMAIN
from server.services.posts import MAX_BODY, MAX_TITLE
from server.services.rendering import extract_hashtags, render_markdown
from server.storage import communities as community_store
from server.storage import mail as store
from server.storage import posts as post_store
from server.storage.accounts import get_actor_by_handle
from server.storage.mail import MailMessage
from server.storage.social import Actor, Post

_REPLY_PREFIX = re.compile(r"^\s*((re|aw|fwd?|tr|wg)\s*:\s*)+", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class ArchivedMessage:
    message_id: str
    parents: tuple[str, ...]  # In-Reply-To first, then References from the nearest
    author_email: str
    author_name: str
    date: datetime
    subject: str
    body: str
    position: int


@dataclass(frozen=True)
class ImportReport:
    messages: int
    posts: int
    comments: int
    already_imported: int
    external_authors: int
    dry_run: bool


def _date_of(message: EmailMessage, fallback: datetime) -> datetime:
    try:
        value = parsedate_to_datetime(str(message.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return fallback
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _read(path: Path, now: datetime) -> list[ArchivedMessage]:
    found: list[ArchivedMessage] = []
    box = mailbox.mbox(path, create=False)
    try:
        for position, key in enumerate(box.keys()):
            raw = box.get_bytes(key)
            parsed = message_from_bytes(raw, policy=default_policy)
            assert isinstance(parsed, EmailMessage)
            message_id = str(parsed.get("Message-ID", "")).strip()
            if not message_id:
                message_id = f"<{hashlib.sha256(raw).hexdigest()}@{IMPORTED_DOMAIN}>"
            in_reply_to = _MESSAGE_ID.findall(str(parsed.get("In-Reply-To", "")))
            references = list(reversed(_MESSAGE_ID.findall(str(parsed.get("References", "")))))
            from_value = str(parsed.get("From", ""))
            name = from_value.split("<")[0].strip().strip('"') if "<" in from_value else ""
            found.append(
                ArchivedMessage(
                    message_id=message_id[:998],
                    parents=tuple(dict.fromkeys([*in_reply_to, *references])),
                    author_email=address_of(from_value),
                    author_name=name,
                    date=_date_of(parsed, now),
                    subject=" ".join(str(parsed.get("Subject", "")).split()),
                    body=strip_reply(body_of(parsed), markers=()),
                    position=position,
                )
            )
    finally:
        box.close()
    return sorted(found, key=lambda m: (m.date, m.position))


async def _imported_author(session: AsyncSession, email: str, name: str, now: datetime) -> Actor:
    username = email or "unknown"
    actor = await get_actor_by_handle(session, IMPORTED_DOMAIN, username)
    if actor is None:
        actor = Actor(
            uri=f"mailto:{email}" if email else f"urn:uuid:{uuid.uuid4()}",
            kind="Person",
            local=False,
            domain=IMPORTED_DOMAIN,
            username=username,
            display_name=(name or username.partition("@")[0])[:200],
            summary="",
            manually_approves=False,
            created_at=now,
        )
        session.add(actor)
        await session.flush()
    return actor


async def _import(
    session: AsyncSession, ctx: Context, messages: list[ArchivedMessage], slug: str
) -> ImportReport:
    now = ctx.clock.now()
    community = await community_store.get_community_by_slug(session, slug)
    if community is None or not community.local:
        raise NotFound(f"no local community '{slug}'", field="community")
    scope = f"import:{community.id}"
    known = await store.posts_of_message_ids(
        session, scope, [m.message_id for m in messages] + [p for m in messages for p in m.parents]
    )
    users = await store.users_by_emails(session, [m.author_email for m in messages])
    counts = {"posts": 0, "comments": 0, "already": 0, "external": 0}
    externals: dict[str, Actor] = {}
    for archived in messages:
        if archived.message_id in known:
            counts["already"] += 1
            continue
        user = users.get(archived.author_email)
        if user is not None and user.actor_id is not None:
            author_id = user.actor_id
        else:
            if archived.author_email not in externals:
                externals[archived.author_email] = await _imported_author(
                    session, archived.author_email, archived.author_name, now
                )
                counts["external"] += 1
            author_id = externals[archived.author_email].id
        parent_id = next((known[p] for p in archived.parents if p in known), None)
        parent = await post_store.get_post(session, parent_id) if parent_id else None
        root_id = (parent.root_id or parent.id) if parent else None
        body = (archived.body or archived.subject or "…")[:MAX_BODY]
        post = await post_store.add_post(
            session,
            Post(
                uri=f"urn:uuid:{uuid.uuid4()}",
                author_id=author_id,
                kind="comment" if parent else "post",
                parent_id=parent.id if parent else None,
                root_id=root_id,
                on_profile=False,
                title="" if parent else _REPLY_PREFIX.sub("", archived.subject)[:MAX_TITLE],
                source=body,
                content_html=render_markdown(body, {}),
                local=True,
                held=False,
                comment_count=0,
                reaction_count=0,
                created_at=archived.date,
            ),
            community_ids=[] if parent else [community.id],
            tags=extract_hashtags(body),
            mentioned_actor_ids=[],
        )
        post.uri = f"{ctx.settings.base_url}/posts/{post.id}"
        if root_id is not None:
            await post_store.bump_counter(session, root_id, "comment_count", 1)
        await store.add_mail_message(
            session,
            MailMessage(
                scope=scope,
                message_id=archived.message_id,
                post_id=post.id,
                author_email=archived.author_email,
                author_name=archived.author_name[:200],
                created_at=now,
            ),
        )
        known[archived.message_id] = post.id
        counts["comments" if parent else "posts"] += 1
    return ImportReport(
        messages=len(messages),
        posts=counts["posts"],
        comments=counts["comments"],
        already_imported=counts["already"],
        external_authors=counts["external"],
        dry_run=False,
    )


async def import_mbox(ctx: Context, path: Path, slug: str, *, dry_run: bool = False) -> ImportReport:
    """Import the archive at `path` into the community `slug`; with `dry_run`, report and store nothing."""
    messages = await asyncio.to_thread(_read, path, ctx.clock.now())
    async with ctx.sessions() as session:
        transaction = await session.begin()
        try:
            report = await _import(session, ctx, messages, slug.strip().lower())
        except BaseException:
            await transaction.rollback()
            raise
        if dry_run:
            await transaction.rollback()
            return ImportReport(**{**report.__dict__, "dry_run": True})
        await transaction.commit()
    return report
