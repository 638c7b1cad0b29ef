"""Feeds: home (my communities, the people I follow, me), a community, a profile; and unread counts.

A page is built in two steps: ordered candidate ids from an index-backed query, then one
batch of queries that loads authors, communities, attachments, reactions and polls for the
whole page (`hydrate`), so the cost of a page does not grow with its length.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import NotFound, ValidationFailed
from server.policy import Charter
from server.services import charter as charter_service
from server.services.communities import access, actor_id_of
from server.services.permissions import Action, readable_post_ids
from server.storage import communities as community_store
from server.storage import notifications as notification_store
from server.storage import posts as store
from server.storage.accounts import get_user_by_username
from server.storage.models import User
from server.storage.social import Actor, Attachment, Community, Post

MAX_PAGE = 100


@dataclass
class PostView:
    post: Post
    author: Actor
    communities: list[tuple[store.SharedIn, bool]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    reactions: dict[str, int] = field(default_factory=dict)
    my_reactions: set[str] = field(default_factory=set)
    poll_counts: dict[int, int] = field(default_factory=dict)
    my_vote: int | None = None
    notices: list[tuple[str, str]] = field(default_factory=list)  # (charter article, text) to show beside it


@dataclass
class FeedPage:
    items: list[PostView]
    next_cursor: str | None


def encode_cursor(created_at: datetime, post_id: int) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{post_id}".encode()).decode().rstrip("=")


def decode_cursor(value: str | None) -> store.Cursor | None:
    if not value:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        when, ident = raw.rsplit("|", 1)
        created = datetime.fromisoformat(when)
        if created.tzinfo is None:
            raise ValueError("naive")
        return created, int(ident)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("is not a cursor this server gave", field="cursor") from exc


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"must be between 1 and {MAX_PAGE}", field="limit")
    return limit


async def hydrate(
    session: AsyncSession, viewer: User, post_ids: Sequence[int], *, charter: Charter | None = None
) -> list[PostView]:
    """Views of these posts, in this order, with everything a page shows, in a fixed number of queries.

    With the instance's `charter`, each view carries the notices its *display* rules require.
    """
    loaded = await store.load_posts_with_authors(session, post_ids)
    posts = {pid: post for pid, (post, _) in loaded.items()}
    shares = await store.shares_of(session, list(posts))
    attachments = await store.attachments_of(session, list(posts))
    counts, mine = await store.reaction_counts(session, list(posts), mine_of=actor_id_of(viewer))
    polls = [p.id for p in posts.values() if p.kind == "poll"]
    poll_counts = await store.poll_results(session, polls)
    for poll in (posts[pid] for pid in polls):
        if not poll.local and poll.poll_tallies is not None:  # its host's counts
            poll_counts[poll.id] = dict(enumerate(poll.poll_tallies))
    my_votes = await store.votes_by(session, actor_id_of(viewer), polls)
    views: dict[int, PostView] = {
        pid: PostView(
            post=post,
            author=loaded[pid][1],
            attachments=attachments.get(pid, []),
            reactions=counts.get(pid, {}),
            my_reactions=mine.get(pid, set()),
            poll_counts=poll_counts.get(pid, {}),
            my_vote=my_votes.get(pid),
        )
        for pid, post in posts.items()
    }
    for post_id, community, pinned in shares:
        views[post_id].communities.append((community, pinned))
    if charter is not None:
        lang = viewer.language or "en"
        for view in views.values():
            tags = [tag for community, _ in view.communities for tag in community.tags]
            view.notices = charter_service.display_labels(
                charter,
                lang,
                text=f"{view.post.title}\n{view.post.source}",
                community_kind=view.communities[0][0].kind if view.communities else None,
                community_tags=tags,
                origin_jurisdiction=view.author.jurisdiction,
                is_remote=not view.post.local,
            )
    return [views[pid] for pid in post_ids if pid in views]


async def _readable(
    session: AsyncSession, viewer: User, candidates: list[tuple[datetime, int]]
) -> list[tuple[datetime, int]]:
    posts = await store.load_posts(session, [pid for _, pid in candidates])
    readable = await readable_post_ids(session, actor_id_of(viewer), list(posts.values()))
    return [(c, pid) for c, pid in candidates if pid in readable]


async def _page(
    session: AsyncSession,
    viewer: User,
    candidates: list[tuple[datetime, int]],
    limit: int,
    charter: Charter | None = None,
) -> FeedPage:
    """The newest `limit` of these (created_at, id) pairs, hydrated; a cursor when the page is full."""
    ordered = sorted(dict((pid, (created, pid)) for created, pid in candidates).values(), reverse=True)
    page = ordered[:limit]
    next_cursor = encode_cursor(*page[-1]) if len(page) == limit else None
    items = await hydrate(session, viewer, [pid for _, pid in page], charter=charter)
    return FeedPage(items=items, next_cursor=next_cursor)


async def home_feed(
    session: AsyncSession,
    viewer: User,
    *,
    limit: int = 50,
    cursor: str | None = None,
    charter: Charter | None = None,
) -> FeedPage:
    limit, position = _limit(limit), decode_cursor(cursor)
    me = actor_id_of(viewer)
    from_communities = await store.member_feed_ids(session, me, limit=limit, cursor=position)
    known = {pid for _, pid in from_communities}
    mine = await store.author_feed_ids(session, [me], limit=limit, cursor=position)  # always readable to me
    theirs = await store.followed_feed_ids(session, me, limit=limit, cursor=position)
    others = await _readable(session, viewer, [c for c in theirs if c[1] not in known]) if theirs else []
    return await _page(session, viewer, from_communities + mine + others, limit, charter)


async def community_feed(
    session: AsyncSession,
    now: datetime,
    viewer: User,
    slug: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
    charter: Charter | None = None,
) -> tuple[Community, list[PostView], FeedPage]:
    """The community, its pinned posts (first page only) and a page of its feed."""
    found = await access(session, slug, viewer)
    found.check(Action.READ)
    limit, position = _limit(limit), decode_cursor(cursor)
    candidates = await store.community_feed_ids(
        session,
        [found.community.id],
        limit=limit,
        cursor=position,
        include_held=found.standing in ("owner", "manager", "moderator"),
        include_held_of=actor_id_of(viewer),
    )
    pinned_ids = [] if position else await store.pinned_post_ids(session, found.community.id)
    pinned = await hydrate(session, viewer, pinned_ids, charter=charter)
    page = await _page(session, viewer, candidates, limit, charter)
    if cursor is None:
        await notification_store.set_read_marker(session, viewer.id, f"community:{found.community.id}", now)
    return found.community, pinned, page


async def profile_feed(
    session: AsyncSession,
    viewer: User,
    username: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
    charter: Charter | None = None,
) -> FeedPage:
    person = await get_user_by_username(session, username)
    if person is None or person.actor_id is None:
        raise NotFound("no such person")
    limit, position = _limit(limit), decode_cursor(cursor)
    candidates = await store.author_feed_ids(session, [person.actor_id], limit=limit, cursor=position)
    return await _page(session, viewer, await _readable(session, viewer, candidates), limit, charter)


async def unread_counts(session: AsyncSession, viewer: User) -> dict[str, int]:
    """Unread notifications, and per community (by slug) the posts since the person last opened it."""
    me = actor_id_of(viewer)
    community_ids = await community_store.active_community_ids(session, me)
    markers = await notification_store.get_read_markers(
        session, viewer.id, [f"community:{c}" for c in community_ids]
    )
    communities = await community_store.get_communities(session, community_ids)
    newer = await store.newer_than(session, [(c, markers.get(f"community:{c}")) for c in community_ids])
    counts = {f"community:{communities[c].slug}": n for c, n in newer.items() if n}
    counts["notifications"] = await notification_store.count_unread_notifications(session, viewer.id)
    return counts
