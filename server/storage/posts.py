"""Storage verbs for posts, comments, reactions, polls and the feeds built from them.

Feed queries return ids in order with a keyset cursor (created_at, id); the page is then
loaded with a fixed number of batched queries, whatever its length (no query per item).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select, true, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.social import (
    Actor,
    Attachment,
    Community,
    Follow,
    Membership,
    Mention,
    PollVote,
    Post,
    PostCommunity,
    PostRevision,
    PostTag,
    Reaction,
)

Cursor = tuple[datetime, int]


async def add_post(
    session: AsyncSession,
    post: Post,
    *,
    community_ids: Sequence[int],
    tags: Sequence[str],
    mentioned_actor_ids: Sequence[int],
) -> Post:
    session.add(post)
    await session.flush()
    for community_id in community_ids:
        session.add(PostCommunity(post_id=post.id, community_id=community_id, created_at=post.created_at))
    for tag in tags:
        session.add(PostTag(post_id=post.id, tag=tag))
    for actor_id in mentioned_actor_ids:
        session.add(Mention(post_id=post.id, actor_id=actor_id))
    await session.flush()
    return post


async def get_post(session: AsyncSession, post_id: int) -> Post | None:
    return await session.get(Post, post_id)


async def get_post_by_uri(session: AsyncSession, uri: str) -> Post | None:
    return (await session.execute(select(Post).where(Post.uri == uri))).scalar_one_or_none()


async def community_ids_of_posts(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, list[int]]:
    result: dict[int, list[int]] = {post_id: [] for post_id in post_ids}
    if not post_ids:
        return result
    rows = await session.execute(
        select(PostCommunity.post_id, PostCommunity.community_id).where(
            PostCommunity.post_id.in_(set(post_ids))
        )
    )
    for post_id, community_id in rows.all():
        result[post_id].append(community_id)
    return result


async def replace_tags_and_mentions(
    session: AsyncSession, post: Post, tags: Sequence[str], mentioned_actor_ids: Sequence[int]
) -> None:
    await session.execute(delete(PostTag).where(PostTag.post_id == post.id))
    await session.execute(delete(Mention).where(Mention.post_id == post.id))
    for tag in tags:
        session.add(PostTag(post_id=post.id, tag=tag))
    for actor_id in mentioned_actor_ids:
        session.add(Mention(post_id=post.id, actor_id=actor_id))
    await session.flush()


async def mentioned_actor_ids(session: AsyncSession, post_id: int) -> set[int]:
    rows = await session.execute(select(Mention.actor_id).where(Mention.post_id == post_id))
    return set(rows.scalars())


async def add_revision(session: AsyncSession, revision: PostRevision) -> None:
    session.add(revision)
    await session.flush()


async def list_revisions(session: AsyncSession, post_id: int) -> Sequence[PostRevision]:
    query = select(PostRevision).where(PostRevision.post_id == post_id).order_by(PostRevision.id)
    return (await session.execute(query)).scalars().all()


async def bump_counter(session: AsyncSession, post_id: int, column: str, delta: int) -> None:
    field = getattr(Post, column)
    await session.execute(update(Post).where(Post.id == post_id).values({column: field + delta}))


async def set_pinned(session: AsyncSession, post_id: int, community_id: int, pinned: bool) -> bool:
    result = await session.execute(
        update(PostCommunity)
        .where(PostCommunity.post_id == post_id, PostCommunity.community_id == community_id)
        .values(pinned=pinned)
    )
    return bool(getattr(result, "rowcount", 0))


async def get_reaction(session: AsyncSession, post_id: int, actor_id: int, kind: str) -> Reaction | None:
    query = select(Reaction).where(
        Reaction.post_id == post_id, Reaction.actor_id == actor_id, Reaction.kind == kind
    )
    return (await session.execute(query)).scalar_one_or_none()


async def add_reaction(session: AsyncSession, reaction: Reaction) -> None:
    session.add(reaction)
    await session.flush()


async def remove_reaction(session: AsyncSession, reaction: Reaction) -> None:
    await session.delete(reaction)
    await session.flush()


async def set_vote(session: AsyncSession, post_id: int, actor_id: int, option: int, now: datetime) -> None:
    vote = await session.get(PollVote, (post_id, actor_id))
    if vote is None:
        session.add(PollVote(post_id=post_id, actor_id=actor_id, option=option, created_at=now))
    else:
        vote.option, vote.created_at = option, now
    await session.flush()


def _before(created: object, ident: object, cursor: Cursor | None) -> object:
    if cursor is None:
        return True
    return tuple_(created, ident) < tuple_(cursor[0], cursor[1])


async def community_feed_ids(
    session: AsyncSession,
    community_ids: Sequence[int],
    *,
    limit: int,
    cursor: Cursor | None,
    include_held: bool,
    include_held_of: int | None,
) -> list[tuple[datetime, int]]:
    """(created_at, post_id) of root posts shared in any of `community_ids`, newest first.

    Held posts are left out unless `include_held` (moderators) or written by `include_held_of`.
    The newest shares come from the feed index alone (no join: ten times faster than filtering
    while sorting), then the few deleted or held ones are dropped; a batch that lost some is
    followed by the next one until the page is full.
    """
    ids = set(community_ids)
    if not ids:
        return []
    batch = limit * max(1, min(len(ids), 3))
    return await _shared_in(
        session, PostCommunity.community_id.in_(ids), batch, limit, cursor, include_held, include_held_of
    )


async def member_feed_ids(
    session: AsyncSession, actor_id: int, *, limit: int, cursor: Cursor | None
) -> list[tuple[datetime, int]]:
    """`community_feed_ids` over every community `actor_id` is an active member of, the memberships
    read by the same statement (one round trip fewer per home page); held posts only their own."""
    mine = select(Membership.community_id).where(
        Membership.actor_id == actor_id, Membership.state == "active"
    )
    return await _shared_in(
        session,
        PostCommunity.community_id.in_(mine.scalar_subquery()),
        limit * 3,
        limit,
        cursor,
        False,
        actor_id,
    )


async def _shared_in(
    session: AsyncSession,
    in_communities: ColumnElement[bool],
    batch: int,
    limit: int,
    cursor: Cursor | None,
    include_held: bool,
    include_held_of: int | None,
) -> list[tuple[datetime, int]]:
    seen: dict[int, datetime] = {}
    while True:
        query = (
            select(PostCommunity.created_at, PostCommunity.post_id)
            .where(
                in_communities,
                _before(PostCommunity.created_at, PostCommunity.post_id, cursor),  # type: ignore[arg-type]
            )
            .order_by(PostCommunity.created_at.desc(), PostCommunity.post_id.desc())
            .limit(batch)
        )
        shares = (await session.execute(query)).all()
        newest = {pid: created for created, pid in reversed(shares) if pid not in seen}  # first share wins
        unseen = sorted(((c, p) for p, c in newest.items()), reverse=True)
        while unseen and len(seen) < limit:  # check only as many as the page still needs
            chunk, unseen = unseen[: limit - len(seen)], unseen[limit - len(seen) :]
            shown = await _shown(session, {pid for _, pid in chunk}, include_held, include_held_of)
            seen.update((pid, created) for created, pid in chunk if pid in shown)
        if len(shares) < batch or len(seen) >= limit:
            return sorted(((c, p) for p, c in seen.items()), reverse=True)[:limit]
        cursor = (shares[-1][0], shares[-1][1])


async def _shown(
    session: AsyncSession, post_ids: set[int], include_held: bool, include_held_of: int | None
) -> set[int]:
    if not post_ids:
        return set()
    query = select(Post.id).where(
        Post.id.in_(post_ids),
        Post.deleted_at.is_(None),
        true() if include_held else or_(Post.held.is_(False), Post.author_id == (include_held_of or -1)),
    )
    return set((await session.execute(query)).scalars())


async def author_feed_ids(
    session: AsyncSession, author_ids: Sequence[int], *, limit: int, cursor: Cursor | None
) -> list[tuple[datetime, int]]:
    """(created_at, post_id) of root posts by these authors, newest first; the caller checks visibility."""
    if not author_ids:
        return []
    return await _written_by(session, Post.author_id.in_(set(author_ids)), limit, cursor)


async def followed_feed_ids(
    session: AsyncSession, follower_id: int, *, limit: int, cursor: Cursor | None
) -> list[tuple[datetime, int]]:
    """`author_feed_ids` over the people `follower_id` follows (accepted follows), read by the same
    statement; the caller checks visibility."""
    followed = select(Follow.followed_id).where(Follow.follower_id == follower_id, Follow.state == "accepted")
    return await _written_by(session, Post.author_id.in_(followed.scalar_subquery()), limit, cursor)


async def _written_by(
    session: AsyncSession, by_authors: ColumnElement[bool], limit: int, cursor: Cursor | None
) -> list[tuple[datetime, int]]:
    query = (
        select(Post.created_at, Post.id)
        .where(
            by_authors,
            Post.root_id.is_(None),
            Post.deleted_at.is_(None),
            _before(Post.created_at, Post.id, cursor),  # type: ignore[arg-type]
        )
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def pinned_post_ids(session: AsyncSession, community_id: int) -> list[int]:
    query = (
        select(PostCommunity.post_id)
        .join(Post, Post.id == PostCommunity.post_id)
        .where(
            PostCommunity.community_id == community_id,
            PostCommunity.pinned.is_(True),
            Post.deleted_at.is_(None),
        )
        .order_by(PostCommunity.created_at.desc())
    )
    return list((await session.execute(query)).scalars())


async def load_posts(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, Post]:
    if not post_ids:
        return {}
    return {
        p.id: p for p in (await session.execute(select(Post).where(Post.id.in_(set(post_ids))))).scalars()
    }


async def load_posts_with_authors(
    session: AsyncSession, post_ids: Sequence[int]
) -> dict[int, tuple[Post, Actor]]:
    """These posts and their authors, in one statement."""
    if not post_ids:
        return {}
    query = select(Post, Actor).join(Actor, Actor.id == Post.author_id).where(Post.id.in_(set(post_ids)))
    return {post.id: (post, author) for post, author in (await session.execute(query)).all()}


async def load_actors(session: AsyncSession, actor_ids: Sequence[int]) -> dict[int, Actor]:
    if not actor_ids:
        return {}
    return {
        a.id: a for a in (await session.execute(select(Actor).where(Actor.id.in_(set(actor_ids))))).scalars()
    }


@dataclass(frozen=True, slots=True)
class SharedIn:
    """What a post's view shows of a community it is shared in (not the whole community: a page
    shows a few dozen of these, and their descriptions and rules are not needed)."""

    id: int
    slug: str
    name: str
    kind: str
    tags: list[str]
    visibility: str
    local: bool


async def shares_of(session: AsyncSession, post_ids: Sequence[int]) -> list[tuple[int, SharedIn, bool]]:
    """(post_id, community, pinned) for every community these posts are shared in."""
    if not post_ids:
        return []
    query = (
        select(
            PostCommunity.post_id,
            Community.id,
            Community.slug,
            Community.name,
            Community.kind,
            Community.tags,
            Community.visibility,
            Community.local,
            PostCommunity.pinned,
        )
        .join(Community, Community.id == PostCommunity.community_id)
        .where(PostCommunity.post_id.in_(set(post_ids)))
    )
    return [
        (post_id, SharedIn(cid, slug, name, kind, list(tags or []), visibility, bool(local)), bool(pinned))
        for post_id, cid, slug, name, kind, tags, visibility, local, pinned in (
            await session.execute(query)
        ).all()
    ]


async def reaction_counts(
    session: AsyncSession, post_ids: Sequence[int], *, mine_of: int | None = None
) -> tuple[dict[int, dict[str, int]], dict[int, set[str]]]:
    """Per post, the count of each kind of reaction and the kinds `mine_of` reacted with, in one
    statement."""
    counts: dict[int, dict[str, int]] = {p: {} for p in post_ids}
    mine: dict[int, set[str]] = {p: set() for p in post_ids}
    if not post_ids:
        return counts, mine
    query = (
        select(
            Reaction.post_id,
            Reaction.kind,
            func.count(),
            func.max(case((Reaction.actor_id == (mine_of or -1), 1), else_=0)),
        )
        .where(Reaction.post_id.in_(set(post_ids)))
        .group_by(Reaction.post_id, Reaction.kind)
    )
    for post_id, kind, count, by_me in (await session.execute(query)).all():
        counts[post_id][kind] = int(count)
        if by_me:
            mine[post_id].add(kind)
    return counts, mine


async def poll_results(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, dict[int, int]]:
    result: dict[int, dict[int, int]] = {p: {} for p in post_ids}
    if not post_ids:
        return result
    query = (
        select(PollVote.post_id, PollVote.option, func.count())
        .where(PollVote.post_id.in_(set(post_ids)))
        .group_by(PollVote.post_id, PollVote.option)
    )
    for post_id, option, count in (await session.execute(query)).all():
        result[post_id][int(option)] = int(count)
    return result


async def votes_by(session: AsyncSession, actor_id: int, post_ids: Sequence[int]) -> dict[int, int]:
    if not post_ids:
        return {}
    query = select(PollVote.post_id, PollVote.option).where(
        PollVote.actor_id == actor_id, PollVote.post_id.in_(set(post_ids))
    )
    return {row[0]: int(row[1]) for row in (await session.execute(query)).all()}


async def attachments_of(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, list[Attachment]]:
    result: dict[int, list[Attachment]] = {p: [] for p in post_ids}
    if not post_ids:
        return result
    query = select(Attachment).where(Attachment.post_id.in_(set(post_ids))).order_by(Attachment.id)
    for attachment in (await session.execute(query)).scalars():
        if attachment.post_id is not None:
            result[attachment.post_id].append(attachment)
    return result


async def thread_posts(session: AsyncSession, root_id: int, *, limit: int = 500) -> Sequence[Post]:
    query = select(Post).where(Post.root_id == root_id).order_by(Post.created_at, Post.id).limit(limit)
    return (await session.execute(query)).scalars().all()


async def newer_than(session: AsyncSession, pairs: Sequence[tuple[int, datetime | None]]) -> dict[int, int]:
    """Per community, root posts newer than its own read marker (`pairs` of community id and marker)."""
    counts: dict[int, int] = {}
    markers = dict(pairs)
    if not markers:
        return counts
    conditions = [
        and_(PostCommunity.community_id == cid, PostCommunity.created_at > since)
        if since is not None
        else PostCommunity.community_id == cid
        for cid, since in markers.items()
    ]
    query = (
        select(PostCommunity.community_id, func.count())
        .join(Post, Post.id == PostCommunity.post_id)
        .where(or_(*conditions), Post.deleted_at.is_(None), Post.held.is_(False))
        .group_by(PostCommunity.community_id)
    )
    for cid, count in (await session.execute(query)).all():
        counts[cid] = min(int(count), 100)
    return counts
