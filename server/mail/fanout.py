"""From what happened to the mails it calls for: mentions and replies, and each new item of a community.

The worker reads new in-app notifications (mentions, replies) and new posts and comments past two
cursors, and queues one mail per person and post (`post:<user>:<post>`, so a mention in a community
one follows by mail gives one mail). A mail is queued only for a post its recipient may read
(`readable_post_ids`), and a post of a closed or secret community is mailed as its title and a link
unless `mail_full_text_for_private` is set.

Ids are not handed out in commit order on PostgreSQL, so a cursor only moves past rows older than
`SETTLE`; the rows after it are read again on the next round, and the dedupe keys make that harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Context
from server.mail import outbox
from server.mail.addresses import reply_address
from server.mail.messages import PostMail, build_post_mail
from server.mail.parsing import html_to_text
from server.mail.preferences import preferences_of, unsubscribe_token, unsubscribe_url
from server.mail.texts import language_of
from server.mail.tokens import make_reply_token
from server.services.permissions import readable_post_ids
from server.storage import communities as community_store
from server.storage import mail as store
from server.storage import posts as post_store
from server.storage.models import User
from server.storage.social import Actor, Community, Post

SETTLE = timedelta(minutes=2)
BATCH = 500
NOTIFIED_KINDS = ("mention", "reply")


def is_private(shares: Sequence[Community]) -> bool:
    """Content shared only in closed or secret communities (a profile post is not private)."""
    return bool(shares) and all(c.visibility != "open" for c in shares)


async def queue_post_mail(
    session: AsyncSession,
    ctx: Context,
    user: User,
    post: Post,
    *,
    reason: str,
    community: Community | None = None,
) -> bool:
    """Queue the mail telling `user` about `post` (reason: item | mention | reply), if they may read it."""
    settings, now = ctx.settings, ctx.clock.now()
    if user.actor_id is None or user.disabled_at is not None or post.deleted_at is not None:
        return False
    dedupe_key = f"post:{user.id}:{post.id}"
    if await store.is_queued(session, dedupe_key):
        return False
    if post.id not in await readable_post_ids(session, user.actor_id, [post]):
        return False
    root = post if post.root_id is None else await post_store.get_post(session, post.root_id)
    assert root is not None
    share_ids = (await post_store.community_ids_of_posts(session, [root.id]))[root.id]
    shares = list((await community_store.get_communities(session, share_ids)).values())
    named = community or (shares[0] if shares else None)
    author = await session.get(Actor, post.author_id)
    author_name = (author.display_name or author.username) if author else "?"
    private = is_private(shares) and not settings.mail_full_text_for_private
    body_text = None if private else (post.source or html_to_text(post.content_html))
    token = make_reply_token(
        settings.secret_key.get_secret_value(),
        user.id,
        post.id,
        now + timedelta(days=settings.smtp.reply_token_days),
    )
    scope = {"item": "community", "mention": "mentions", "reply": "replies"}[reason]
    unsubscribe = await unsubscribe_token(
        session, now, user.id, scope, named.id if reason == "item" and named else None
    )
    message = build_post_mail(
        settings,
        PostMail(
            reason=reason,
            lang=language_of(user.language, settings.default_language),
            user_id=user.id,
            recipient_name=user.display_name,
            recipient_email=user.email,
            post_id=post.id,
            root_id=root.id,
            parent_id=post.parent_id,
            author_name=author_name,
            community_name=named.name if named else None,
            community_slug=named.slug if named and named.local else None,
            title=root.title,
            body_text=body_text,
            body_html=None if private else post.content_html,
            url=f"{settings.base_url}/posts/{post.id}",
            reply_to=reply_address(settings, token),
            unsubscribe_url=unsubscribe_url(settings, unsubscribe),
            created_at=post.created_at,
        ),
    )
    return await outbox.enqueue(
        session,
        now,
        message,
        dedupe_key=dedupe_key,
        kind=reason,
        recipient=user.email,
        user_id=user.id,
        envelope_from=settings.smtp.from_address,
    )


async def _from_notifications(session: AsyncSession, ctx: Context) -> int:
    settled_before = ctx.clock.now() - SETTLE
    cursor = await store.get_cursor(session, "notifications")
    rows = await store.notifications_after(session, cursor, NOTIFIED_KINDS, BATCH)
    queued, settled, contiguous = 0, cursor, True
    for notification in rows:
        if contiguous and notification.created_at <= settled_before:
            settled = notification.id
        else:
            contiguous = False
        if notification.post_id is None:
            continue
        user = await session.get(User, notification.user_id)
        post = await post_store.get_post(session, notification.post_id)
        if user is None or post is None:
            continue
        prefs = await preferences_of(session, ctx.settings, user.id)
        if not (prefs.mentions if notification.kind == "mention" else prefs.replies):
            continue
        queued += await queue_post_mail(session, ctx, user, post, reason=notification.kind)
    await store.set_cursor(session, "notifications", settled)
    return queued


async def _from_posts(session: AsyncSession, ctx: Context) -> int:
    settled_before = ctx.clock.now() - SETTLE
    cursor = await store.get_cursor(session, "posts")
    rows = await store.posts_after(session, cursor, BATCH)
    queued, settled, contiguous = 0, cursor, True
    for post in rows:
        if contiguous and post.created_at <= settled_before:
            settled = post.id
        else:
            contiguous = False
        if post.deleted_at is not None or post.held:
            continue
        root_id = post.root_id or post.id
        share_ids = (await post_store.community_ids_of_posts(session, [root_id]))[root_id]
        communities = await community_store.get_communities(session, share_ids)
        seen: set[int] = set()
        for user, community_id in await store.subscribers(
            session, share_ids, "each", ctx.settings.smtp.default_mode
        ):
            if user.id in seen or user.actor_id == post.author_id:
                continue
            seen.add(user.id)
            queued += await queue_post_mail(
                session, ctx, user, post, reason="item", community=communities[community_id]
            )
    await store.set_cursor(session, "posts", settled)
    return queued


async def collect(ctx: Context) -> int:
    """Queue the mails that new notifications and new posts call for; returns how many were queued."""
    async with ctx.transaction() as session:
        await store.lock_fanout(session)
        return await _from_notifications(session, ctx) + await _from_posts(session, ctx)
