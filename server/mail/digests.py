"""Daily and weekly digests: one mail per person listing the new posts of the communities they read
that way, since their previous digest (or over the last period for a first one).

`cercle mail digest --daily` is meant to run from cron (or a systemd timer) once a day; running it
twice in a row sends nothing the second time, because each person's digest remembers until when it
covered. A digest lists only posts its reader may read; for closed and secret communities it shows the
title and the link, never an excerpt.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Context
from server.mail import outbox
from server.mail.fanout import is_private
from server.mail.messages import DigestEntry, build_digest_mail
from server.mail.parsing import html_to_text
from server.mail.preferences import unsubscribe_token, unsubscribe_url
from server.mail.texts import language_of, text
from server.services.permissions import readable_post_ids
from server.storage import communities as community_store
from server.storage import mail as store
from server.storage import posts as post_store
from server.storage.models import User

PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
EXCERPT = 200
MAX_ENTRIES = 50


def _excerpt(source: str) -> str:
    flat = " ".join(source.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1] + "…"


async def _digest_for(
    session: AsyncSession, ctx: Context, user: User, frequency: str, community_ids: list[int]
) -> bool:
    settings, until = ctx.settings, ctx.clock.now()
    since = await store.get_digest_mark(session, user.id, frequency) or until - PERIODS[frequency]
    await store.set_digest_mark(session, user.id, frequency, until)
    if user.actor_id is None or since >= until:
        return False
    pairs = await store.root_ids_in_window(session, community_ids, since, until)
    posts = await post_store.load_posts(session, list({post_id for _, post_id in pairs}))
    readable = await readable_post_ids(session, user.actor_id, list(posts.values()))
    pairs = [(c, p) for c, p in pairs if p in readable and posts[p].author_id != user.actor_id]
    if not pairs:
        return False
    pairs = pairs[:MAX_ENTRIES]
    communities = await community_store.get_communities(session, [c for c, _ in pairs])
    authors = await post_store.load_actors(session, list({posts[p].author_id for _, p in pairs}))
    shares = await post_store.community_ids_of_posts(session, [p for _, p in pairs])
    all_shares = await community_store.get_communities(session, [c for ids in shares.values() for c in ids])
    comments = await store.comment_counts_in_window(session, [p for _, p in pairs], since, until)
    lang = language_of(user.language, settings.default_language)
    entries: list[DigestEntry] = []
    listed: set[int] = set()
    for community_id, post_id in pairs:
        if post_id in listed:
            continue
        listed.add(post_id)
        post, author = posts[post_id], authors.get(posts[post_id].author_id)
        author_name = (author.display_name or author.username) if author else "?"
        private = (
            is_private([all_shares[c] for c in shares[post_id]]) and not settings.mail_full_text_for_private
        )
        entries.append(
            DigestEntry(
                community_name=communities[community_id].name,
                title=post.title or text("untitled", lang, author=author_name),
                author_name=author_name,
                url=f"{settings.base_url}/posts/{post.id}",
                excerpt=None if private else _excerpt(post.source or html_to_text(post.content_html)),
                comments=comments.get(post.id, 0),
            )
        )
    token = await unsubscribe_token(session, until, user.id, frequency)
    message = build_digest_mail(
        settings,
        lang=lang,
        frequency=frequency,
        user_id=user.id,
        recipient_name=user.display_name,
        recipient_email=user.email,
        entries=entries,
        since=since,
        until=until,
        unsubscribe_url=unsubscribe_url(settings, token),
    )
    return await outbox.enqueue(
        session,
        until,
        message,
        dedupe_key=f"digest:{frequency}:{user.id}:{int(until.timestamp())}",
        kind="digest",
        recipient=user.email,
        user_id=user.id,
        envelope_from=settings.smtp.from_address,
    )


async def queue_digests(ctx: Context, frequency: str) -> int:
    """Queue the `frequency` ('daily' or 'weekly') digest of everyone who reads a community that way."""
    assert frequency in PERIODS, frequency
    queued = 0
    async with ctx.transaction() as session:
        await store.lock_fanout(session)
        readers = await store.digest_readers(session, frequency, ctx.settings.smtp.default_mode)
        for user_id, community_ids in readers.items():
            user = await session.get(User, user_id)
            if user is not None:
                queued += await _digest_for(session, ctx, user, frequency, community_ids)
    return queued
