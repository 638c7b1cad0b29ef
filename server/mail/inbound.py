"""Mail in: `community+SLUG@domain` becomes a post, `reply+TOKEN@domain` a comment in its thread.

How it works. `cercle mail serve` runs an aiosmtpd SMTP (or LMTP) server, usually behind the
company's mail server. Recipients that are not ours are refused at RCPT. At DATA the mail is
processed before the server answers: content is written in one transaction, so an error answers
451 and the sending server retries, and the Message-ID recorded with the content makes a redelivery
a no-op. Bounces and automatic answers are accepted and dropped: they never create content and are
never answered. A mail from a person that cannot be published (unknown sender, forged, expired or
forwarded reply token, no permission, the charter's refusal) stores nothing and is answered by a
mail that says why, queued in the outbox from the null sender and marked `Auto-Submitted:
auto-replied`, so no robot answers it back and no loop can start.

People are recognised by their account's address in `From:`. That address is only as trustworthy as
the mail server in front of Cercle: set `smtp.require_authentication_results` to that server's
authserv-id to accept only mail it marked `dmarc=pass` or `dkim=pass`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from functools import partial
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Context
from server.errors import CercleError
from server.mail import outbox
from server.mail.addresses import Recipient, address_of, mail_domain, parse_recipient
from server.mail.messages import build_answer_mail
from server.mail.parsing import (
    MailAttachment,
    attachments_of,
    authenticated,
    automatic_reason,
    body_of,
    strip_reply,
)
from server.mail.texts import language_of, text
from server.mail.tokens import read_reply_token
from server.policy import Attachment as AttachmentFacts
from server.services import charter, media, posts
from server.services.posts import MAX_TITLE
from server.storage import communities as community_store
from server.storage import mail as store
from server.storage import posts as post_store
from server.storage.mail import MailMessage
from server.storage.models import User
from server.storage.social import Actor, Post

log = logging.getLogger(__name__)


class Refused(Exception):
    """The mail cannot be published; `reason` is said to its sender in `lang`."""

    def __init__(self, reason: str, lang: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.lang = lang


@dataclass(frozen=True)
class Outcome:
    status: str  # posted | commented | duplicate | ignored | refused
    detail: str = ""
    post_id: int | None = None


def _message_id(message: EmailMessage, raw: bytes) -> str:
    value = str(message.get("Message-ID", "")).strip()
    return value or f"<{hashlib.sha256(raw).hexdigest()}@unidentified.invalid>"


async def _charter_gate(
    session: AsyncSession,
    ctx: Context,
    user: User,
    files: Sequence[MailAttachment],
    community_ids: Sequence[int],
    kind: str,
) -> bool:
    """The charter's publish rules on the mail's attachments; raises `CharterRefusal` on a refusal and
    returns whether the content is to be held. The text itself is judged by `create_post` and
    `create_comment`, as for anything written on the web, so it is not judged (nor audited) twice here."""
    if not files:
        return False
    communities = await community_store.get_communities(session, community_ids)
    decision = await charter.check_publish(
        session,
        ctx,
        ctx.clock.now(),
        author_user=user,
        text="",
        attachments=[AttachmentFacts(f.content_type, len(f.data), f.filename) for f in files],
        communities=[charter.CommunityFacts(c.kind, frozenset(c.tags or ())) for c in communities.values()],
        kind=kind,
    )
    lang = charter.charter_language(ctx.charter, user.language, ctx.settings.default_language)
    charter.raise_if_refused(decision, lang, ctx.charter)
    return decision.action == "hold"


async def _attach(
    session: AsyncSession, ctx: Context, user: User, post: Post, files: Sequence[MailAttachment]
) -> None:
    if not files or user.actor_id is None:
        return
    actor = await session.get(Actor, user.actor_id)
    assert actor is not None
    stored = [
        await media.store_upload(session, ctx, ctx.clock.now(), actor, f.filename, f.content_type, f.data, "")
        for f in files
    ]
    await media.attach_to_post(session, user.actor_id, [a.id for a in stored], post.id)


def _lang(ctx: Context, user: User | None) -> str:
    return language_of(user.language if user else None, ctx.settings.default_language)


async def _sender_user(session: AsyncSession, ctx: Context, message: EmailMessage, sender: str) -> User:
    user = await store.user_by_email(session, sender)
    if user is None or user.disabled_at is not None:
        lang = ctx.settings.default_language
        raise Refused(text("reason_unknown_sender", lang, instance=ctx.settings.instance_name), lang)
    if not authenticated(message, ctx.settings.smtp.require_authentication_results):
        raise Refused(text("reason_unauthenticated", _lang(ctx, user)), _lang(ctx, user))
    return user


def _content(ctx: Context, user: User, message: EmailMessage) -> tuple[str, list[MailAttachment]]:
    body = strip_reply(body_of(message))
    files = attachments_of(message)
    if not body.strip():
        if not files:
            raise Refused(text("reason_empty", _lang(ctx, user)), _lang(ctx, user))
        body = ", ".join(f.filename for f in files)
    return body, files


async def _post(
    session: AsyncSession, ctx: Context, slugs: list[str], message: EmailMessage, sender: str, message_id: str
) -> Outcome:
    if await store.get_mail_message(session, "inbound", message_id) is not None:
        return Outcome("duplicate", message_id)
    user = await _sender_user(session, ctx, message, sender)
    body, files = _content(ctx, user, message)
    community_ids = [
        c.id for slug in slugs if (c := await community_store.get_community_by_slug(session, slug))
    ]
    held = await _charter_gate(session, ctx, user, files, community_ids, "post")
    title = " ".join(str(message.get("Subject", "")).split())[:MAX_TITLE]
    post = await posts.create_post(
        session, ctx, ctx.clock.now(), user, body=body, title=title, communities=slugs
    )
    post.held = post.held or held
    await _attach(session, ctx, user, post, files)
    await _record(session, ctx, "inbound", message_id, post, sender, message)
    return Outcome("posted", post_id=post.id)


async def _comment(
    session: AsyncSession, ctx: Context, token: str, message: EmailMessage, sender: str, message_id: str
) -> Outcome:
    if await store.get_mail_message(session, "inbound-reply", message_id) is not None:
        return Outcome("duplicate", message_id)
    default = ctx.settings.default_language
    checked = read_reply_token(ctx.settings.secret_key.get_secret_value(), token, ctx.clock.now())
    user = await session.get(User, checked.user_id) if checked.user_id is not None else None
    if checked.reason == "expired":
        raise Refused(text("reason_expired", _lang(ctx, user)), _lang(ctx, user))
    if not checked.valid or user is None or checked.post_id is None or user.disabled_at is not None:
        raise Refused(text("reason_forged", default), default)
    if sender != user.email.strip().lower():
        raise Refused(text("reason_not_yours", default), default)
    user = await _sender_user(session, ctx, message, sender)
    body, files = _content(ctx, user, message)
    parent = await post_store.get_post(session, checked.post_id)
    root_id = (parent.root_id or parent.id) if parent else checked.post_id
    community_ids = (await post_store.community_ids_of_posts(session, [root_id]))[root_id]
    held = await _charter_gate(session, ctx, user, files, community_ids, "comment")
    comment = await posts.create_comment(
        session, ctx, ctx.clock.now(), user, parent_id=checked.post_id, body=body
    )
    comment.held = comment.held or held
    await _attach(session, ctx, user, comment, files)
    await _record(session, ctx, "inbound-reply", message_id, comment, sender, message)
    return Outcome("commented", post_id=comment.id)


async def _record(
    session: AsyncSession,
    ctx: Context,
    scope: str,
    message_id: str,
    post: Post,
    sender: str,
    message: EmailMessage,
) -> None:
    name = str(message.get("From", ""))
    await store.add_mail_message(
        session,
        MailMessage(
            scope=scope,
            message_id=message_id[:998],
            post_id=post.id,
            author_email=sender,
            author_name=name[:200],
            created_at=ctx.clock.now(),
        ),
    )


async def _answer(
    ctx: Context, message: EmailMessage, envelope_from: str, address: str, refusal: Refused
) -> None:
    answer = build_answer_mail(
        ctx.settings,
        lang=refusal.lang,
        to=envelope_from,
        subject=str(message.get("Subject", "")),
        in_reply_to=str(message.get("Message-ID", "")).strip() or None,
        address=address,
        reason=refusal.reason,
    )
    key = hashlib.sha256(f"{_message_id(message, b'')}\x00{address}".encode()).hexdigest()
    async with ctx.transaction() as session:
        await outbox.enqueue(
            session,
            ctx.clock.now(),
            answer,
            dedupe_key=f"answer:{key}",
            kind="answer",
            recipient=envelope_from,
            envelope_from="",
        )


def _is_ours(ctx: Context, sender: str) -> bool:
    if sender == ctx.settings.smtp.from_address.lower():
        return True
    local, _, domain = sender.partition("@")
    return domain == mail_domain(ctx.settings) and local.split("+")[0] in ("community", "reply")


async def receive(ctx: Context, envelope_from: str, recipients: Sequence[str], raw: bytes) -> list[Outcome]:
    """Turn one incoming mail into content, or into an answer that says why not; one outcome per
    kind of recipient (all community addresses make one post shared in each)."""
    parsed = message_from_bytes(raw, policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    message = parsed
    envelope_from = address_of(envelope_from) if envelope_from not in ("", "<>") else ""
    robot = automatic_reason(message, envelope_from)
    sender = address_of(str(message.get("From", "")))
    if robot is None and (not sender or _is_ours(ctx, sender) or _is_ours(ctx, envelope_from)):
        robot = "a mail from Cercle itself"
    if robot is not None:
        log.info("incoming mail ignored: %s", robot)
        return [Outcome("ignored", robot)]
    message_id = _message_id(message, raw)
    targets: list[Recipient] = [r for a in recipients if (r := parse_recipient(ctx.settings, a))]
    slugs = list(dict.fromkeys(r.value for r in targets if r.kind == "community"))
    domain = mail_domain(ctx.settings)
    jobs: list[tuple[str, Job]] = []
    if slugs:
        jobs.append(
            (
                f"community+{slugs[0]}@{domain}",
                partial(_post, ctx=ctx, slugs=slugs, **_common(message, sender, message_id)),
            )
        )
    for target in targets:
        if target.kind == "reply":
            jobs.append(
                (
                    f"reply+…@{domain}",
                    partial(_comment, ctx=ctx, token=target.value, **_common(message, sender, message_id)),
                )
            )
    outcomes: list[Outcome] = []
    for address, job in jobs:
        try:
            async with ctx.transaction() as session:
                outcomes.append(await job(session))
        except (Refused, CercleError) as error:
            refusal = error if isinstance(error, Refused) else await _refusal_of(ctx, error, sender)
            outcomes.append(Outcome("refused", refusal.reason))
            await _answer(ctx, message, envelope_from, address, refusal)
    return outcomes


Job = Callable[[AsyncSession], Awaitable[Outcome]]


def _common(message: EmailMessage, sender: str, message_id: str) -> dict[str, Any]:
    return {"message": message, "sender": sender, "message_id": message_id}


async def _refusal_of(ctx: Context, error: CercleError, sender: str) -> Refused:
    async with ctx.sessions() as session:
        user = await store.user_by_email(session, sender)
    return Refused(error.message, _lang(ctx, user))


class InboundHandler:
    """The aiosmtpd handler: refuses foreign recipients, processes each mail at DATA."""

    def __init__(self, ctx: Context, *, lmtp: bool = False) -> None:
        self.ctx = ctx
        self.lmtp = lmtp

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if parse_recipient(self.ctx.settings, address) is None:
            return "550 5.1.1 No such recipient here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        count = len(envelope.rcpt_tos) if self.lmtp else 1
        try:
            await receive(self.ctx, envelope.mail_from or "", envelope.rcpt_tos, raw)
        except Exception:
            log.exception("incoming mail could not be processed; the sender will retry")
            return "\r\n".join(["451 4.3.0 Temporary failure, please try again later"] * count)
        return "\r\n".join(["250 2.0.0 Accepted"] * count)


async def serve(ctx: Context, host: str, port: int, *, lmtp: bool = False) -> asyncio.Server:
    """Start Cercle's SMTP (or LMTP) server on the running loop; close the returned server to stop."""
    loop = asyncio.get_running_loop()
    handler = InboundHandler(ctx, lmtp=lmtp)
    protocol = LMTP if lmtp else SMTP

    def factory() -> SMTP:
        return protocol(
            handler,
            hostname=mail_domain(ctx.settings),
            data_size_limit=ctx.settings.smtp.inbound_max_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            loop=loop,
        )

    return await loop.create_server(factory, host=host, port=port)
