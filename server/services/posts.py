"""Posts, comments, reactions and polls: writing, editing, deleting, pinning, reading a thread."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server import policy
from server.config import Settings
from server.context import Context
from server.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.policy import Decision
from server.services import charter, indexing, media, notifications, outbox
from server.services.communities import CommunityAccess, access, actor_id_of
from server.services.permissions import Action, allowed, readable_post_ids, standing
from server.services.rendering import extract_hashtags, extract_mentions, render_markdown
from server.storage import communities as community_store
from server.storage import media as media_store
from server.storage import posts as store
from server.storage.accounts import get_actor_by_handle, get_user_by_username
from server.storage.models import User
from server.storage.social import Actor, Community, Post, PostRevision, Reaction

REACTIONS = ("like", "celebrate", "support", "insightful", "curious")
MAX_BODY = 50_000
MAX_TITLE = 300
MAX_COMMUNITIES = 10


def _check_text(body: str, title: str, *, need_body: bool = True) -> tuple[str, str]:
    title = " ".join(title.split())
    if len(title) > MAX_TITLE:
        raise ValidationFailed(f"must be at most {MAX_TITLE} characters", field="title")
    if need_body and not body.strip():
        raise ValidationFailed("must not be empty", field="body")
    if len(body) > MAX_BODY:
        raise ValidationFailed(f"must be at most {MAX_BODY:,} characters", field="body")
    return body, title


def _check_poll(options: Sequence[str] | None) -> list[str] | None:
    if options is None:
        return None
    clean = [" ".join(str(o).split()) for o in options]
    if not 2 <= len(clean) <= 10 or any(not 1 <= len(o) <= 200 for o in clean):
        raise ValidationFailed("a poll needs 2 to 10 options of 1 to 200 characters", field="poll_options")
    if len(set(clean)) != len(clean):
        raise ValidationFailed("options must differ", field="poll_options")
    return clean


async def _mentions(
    session: AsyncSession, settings: Settings, source: str
) -> tuple[dict[str, str], list[int]]:
    """Handle → URL for the people mentioned who exist here, and their actor ids."""
    urls: dict[str, str] = {}
    actor_ids: list[int] = []
    for mention in extract_mentions(source):
        if mention.domain in (None, settings.domain):
            user = await get_user_by_username(session, mention.username)
            actor = await session.get(Actor, user.actor_id) if user and user.actor_id else None
        else:
            actor = await get_actor_by_handle(session, mention.domain or "", mention.username)
        if actor is not None and actor.kind == "Person":
            urls[mention.handle] = actor.url or actor.uri
            actor_ids.append(actor.id)
    return urls, actor_ids


async def _charter_gate(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    author: User,
    *,
    text: str,
    places: Sequence[Community],
    kind: str,
    subject: str = "new",
    attachments: Sequence[policy.Attachment] = (),
) -> Decision:
    """The charter's say on content about to be written, before anything is written in `session`.

    The author must have accepted the charter in force; a reject raises (and is audited in its
    own transaction); hold and label come back for the caller to apply.
    """
    await charter.require_acceptance(session, ctx.charter, author)
    decision = await charter.check_publish(
        session,
        ctx,
        now,
        author_user=author,
        text=text,
        hashtags=extract_hashtags(text),
        attachments=attachments,
        communities=[charter.CommunityFacts(c.kind, frozenset(c.tags)) for c in places],
        kind=kind,
        subject=subject,
    )
    charter.raise_if_refused(decision, author.language or ctx.settings.default_language, ctx.charter)
    return decision


async def create_post(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    author: User,
    *,
    body: str,
    title: str = "",
    communities: Sequence[str] = (),
    on_profile: bool = False,
    poll_options: Sequence[str] | None = None,
    language: str | None = None,
    attachment_ids: Sequence[int] = (),
) -> Post:
    """A post (or a poll) shared in one or several communities, or on the author's profile."""
    body, title = _check_text(body, title)
    options = _check_poll(poll_options)
    slugs = list(dict.fromkeys(s.strip().lower() for s in communities if s.strip()))
    if not slugs and not on_profile:
        raise ValidationFailed("choose at least one community, or post on your profile", field="communities")
    if len(slugs) > MAX_COMMUNITIES:
        raise ValidationFailed(f"at most {MAX_COMMUNITIES} communities", field="communities")
    targets: list[CommunityAccess] = []
    for slug in slugs:
        found = await access(session, slug, author)
        found.check(Action.POST)
        targets.append(found)
    files = await media_store.get_attachments(session, list(attachment_ids))
    decision = await _charter_gate(
        session,
        ctx,
        now,
        author,
        text=f"{title}\n{body}",
        places=[t.community for t in targets],
        kind="post",
        attachments=[
            policy.Attachment(mime=f.media_type, size_bytes=f.size, filename=f.filename) for f in files
        ],
    )
    settings = ctx.settings
    urls, mentioned = await _mentions(session, settings, body)
    tags = extract_hashtags(body)
    post = await store.add_post(
        session,
        Post(
            uri=f"urn:uuid:{uuid.uuid4()}",
            author_id=actor_id_of(author),
            kind="poll" if options else "post",
            on_profile=on_profile,
            title=title,
            source=body,
            content_html=render_markdown(body, urls),
            language=language,
            poll_options=options,
            local=True,
            held=decision.action == "hold",
            comment_count=0,
            reaction_count=0,
            created_at=now,
        ),
        community_ids=[t.community.id for t in targets],
        tags=tags,
        mentioned_actor_ids=mentioned,
    )
    post.uri = f"{settings.base_url}/posts/{post.id}"
    if attachment_ids:
        await media.attach_to_post(session, post.author_id, list(attachment_ids), post.id)
    await indexing.index_post(session, post, media_dir=ctx.settings.media_dir)
    await outbox.post_created(session, ctx, now, post, author)
    await notifications.notify(
        session, now, kind="mention", recipients=mentioned, by_actor_id=post.author_id, post_id=post.id
    )
    return post


async def readable_post(session: AsyncSession, user: User, post_id: int) -> Post:
    post = await store.get_post(session, post_id)
    if post is None or not await readable_post_ids(session, actor_id_of(user), [post]):
        raise NotFound("no such post")
    return post


async def _thread_standings(session: AsyncSession, user: User, root: Post) -> list[tuple[str, str | None]]:
    """(visibility, standing) of the viewer in each community the thread's root is shared in."""
    shares = (await store.community_ids_of_posts(session, [root.id]))[root.id]
    communities = await community_store.get_communities(session, shares)
    memberships = await community_store.memberships_of(session, actor_id_of(user), shares)
    return [
        (
            communities[cid].visibility,
            standing(memberships[cid].role, memberships[cid].state) if cid in memberships else None,
        )
        for cid in shares
    ]


async def _may(session: AsyncSession, user: User, root: Post, action: Action) -> bool:
    standings = await _thread_standings(session, user, root)
    if not standings:
        if action is Action.MODERATE:
            return False
        return root.on_profile or root.author_id == user.actor_id
    return any(allowed(action, visibility, who) for visibility, who in standings)


async def _places(session: AsyncSession, root: Post) -> list[Community]:
    shares = (await store.community_ids_of_posts(session, [root.id]))[root.id]
    return list((await community_store.get_communities(session, shares)).values())


async def create_comment(
    session: AsyncSession, ctx: Context, now: datetime, author: User, *, parent_id: int, body: str
) -> Post:
    body, _ = _check_text(body, "")
    parent = await readable_post(session, author, parent_id)
    if parent.deleted_at is not None:
        raise Conflict("this post was deleted; it cannot be answered")
    root = parent if parent.root_id is None else await store.get_post(session, parent.root_id)
    assert root is not None
    if not await _may(session, author, root, Action.COMMENT):
        raise Forbidden("only members and guests can comment here")
    decision = await _charter_gate(
        session, ctx, now, author, text=body, places=await _places(session, root), kind="comment"
    )
    settings = ctx.settings
    urls, mentioned = await _mentions(session, settings, body)
    comment = await store.add_post(
        session,
        Post(
            uri=f"urn:uuid:{uuid.uuid4()}",
            author_id=actor_id_of(author),
            kind="comment",
            parent_id=parent.id,
            root_id=root.id,
            on_profile=False,
            title="",
            source=body,
            content_html=render_markdown(body, urls),
            local=True,
            held=decision.action == "hold",
            comment_count=0,
            reaction_count=0,
            created_at=now,
        ),
        community_ids=[],
        tags=extract_hashtags(body),
        mentioned_actor_ids=mentioned,
    )
    comment.uri = f"{settings.base_url}/posts/{comment.id}"
    await indexing.index_post(session, comment)
    await outbox.post_created(session, ctx, now, comment, author)
    await store.bump_counter(session, root.id, "comment_count", 1)
    await notifications.notify(
        session,
        now,
        kind="reply",
        recipients=[parent.author_id],
        by_actor_id=comment.author_id,
        post_id=comment.id,
    )
    await notifications.notify(
        session,
        now,
        kind="mention",
        recipients=[a for a in mentioned if a != parent.author_id],
        by_actor_id=comment.author_id,
        post_id=comment.id,
    )
    return comment


async def edit_post(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    user: User,
    post_id: int,
    *,
    body: str,
    title: str | None,
) -> Post:
    post = await readable_post(session, user, post_id)
    if post.author_id != user.actor_id:
        raise Forbidden("only the author can edit a post")
    if post.deleted_at is not None:
        raise Conflict("a deleted post cannot be edited")
    body, new_title = _check_text(body, title if title is not None else post.title)
    root = post if post.root_id is None else await store.get_post(session, post.root_id)
    assert root is not None
    decision = await _charter_gate(
        session,
        ctx,
        now,
        user,
        text=f"{new_title}\n{body}",
        places=await _places(session, root),
        kind=post.kind if post.kind != "poll" else "post",
        subject=post.uri,
    )
    settings = ctx.settings
    await store.add_revision(
        session,
        PostRevision(
            post_id=post.id,
            title=post.title,
            source=post.source,
            content_html=post.content_html,
            created_at=post.edited_at or post.created_at,
        ),
    )
    before = await store.mentioned_actor_ids(session, post.id)
    urls, mentioned = await _mentions(session, settings, body)
    post.source, post.title, post.content_html, post.edited_at = (
        body,
        new_title,
        render_markdown(body, urls),
        now,
    )
    post.held = decision.action == "hold"
    await indexing.index_post(session, post, media_dir=ctx.settings.media_dir)
    await outbox.post_updated(session, ctx, now, post, user)
    await store.replace_tags_and_mentions(session, post, extract_hashtags(body), mentioned)
    await notifications.notify(
        session,
        now,
        kind="mention",
        recipients=[a for a in mentioned if a not in before],
        by_actor_id=post.author_id,
        post_id=post.id,
    )
    return post


async def delete_post(session: AsyncSession, ctx: Context, now: datetime, user: User, post_id: int) -> Post:
    """Leave a tombstone: replies stay in place, the content is gone."""
    post = await readable_post(session, user, post_id)
    if post.deleted_at is not None:
        return post
    root = post if post.root_id is None else await store.get_post(session, post.root_id)
    assert root is not None
    if post.author_id != user.actor_id and not await _may(session, user, root, Action.MODERATE):
        raise Forbidden("only the author or a moderator can delete a post")
    post.deleted_at, post.source, post.title, post.content_html, post.poll_options = now, "", "", "", None
    if post.root_id is not None:
        await store.bump_counter(session, post.root_id, "comment_count", -1)
    await indexing.index_post(session, post)
    await outbox.post_deleted(session, ctx, now, post, user)
    return post


async def react(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    user: User,
    post_id: int,
    kind: str,
    *,
    on: bool = True,
) -> bool:
    """Add (or with on=False remove) a reaction; returns whether anything changed."""
    if kind not in REACTIONS:
        raise ValidationFailed(f"must be one of {', '.join(REACTIONS)}", field="kind")
    post = await readable_post(session, user, post_id)
    root = post if post.root_id is None else await store.get_post(session, post.root_id)
    assert root is not None
    if post.deleted_at is not None or not await _may(session, user, root, Action.REACT):
        raise Forbidden("you cannot react to this post")
    existing = await store.get_reaction(session, post.id, actor_id_of(user), kind)
    if on and existing is None:
        await store.add_reaction(
            session, Reaction(post_id=post.id, actor_id=actor_id_of(user), kind=kind, created_at=now)
        )
        await store.bump_counter(session, post.id, "reaction_count", 1)
        await notifications.notify(
            session,
            now,
            kind="reaction",
            recipients=[post.author_id],
            by_actor_id=user.actor_id,
            post_id=post.id,
            detail=kind,
        )
        await outbox.reacted(session, ctx, now, post, user, kind, True)
        return True
    if not on and existing is not None:
        await store.remove_reaction(session, existing)
        await store.bump_counter(session, post.id, "reaction_count", -1)
        await outbox.reacted(session, ctx, now, post, user, kind, False)
        return True
    return False


async def vote(session: AsyncSession, now: datetime, user: User, post_id: int, option: int) -> None:
    post = await readable_post(session, user, post_id)
    if post.kind != "poll" or not post.poll_options or post.deleted_at is not None:
        raise NotFound("no such poll")
    if post.poll_closes_at is not None and post.poll_closes_at <= now:
        raise Conflict("this poll is closed")
    if not 0 <= option < len(post.poll_options):
        raise ValidationFailed(f"must be between 0 and {len(post.poll_options) - 1}", field="option")
    if not await _may(session, user, post, Action.REACT):
        raise Forbidden("you cannot vote in this poll")
    await store.set_vote(session, post.id, actor_id_of(user), option, now)


async def pin(session: AsyncSession, user: User, post_id: int, slug: str, *, pinned: bool) -> None:
    found = await access(session, slug, user)
    found.check(Action.MODERATE)
    if not await store.set_pinned(session, post_id, found.community.id, pinned):
        raise NotFound("this post is not in this community")


async def thread(session: AsyncSession, user: User, post_id: int) -> tuple[Post, Sequence[Post]]:
    """The root of the thread containing `post_id`, and its comments in order."""
    post = await readable_post(session, user, post_id)
    root = post if post.root_id is None else await store.get_post(session, post.root_id)
    assert root is not None
    return root, await store.thread_posts(session, root.id)


async def revisions(session: AsyncSession, user: User, post_id: int) -> Sequence[PostRevision]:
    post = await readable_post(session, user, post_id)
    return await store.list_revisions(session, post.id)
