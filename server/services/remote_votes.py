"""Votes in polls across instances (Mastodon's convention, see `server.activitypub.polls`).

A poll lives on its author's instance, which alone counts it. A local person's vote in a poll
written elsewhere is recorded here (so it is shown as theirs and cannot be cast twice) and sent to
the poll's author as a `Create` of a vote `Note`; the counts shown for that poll are the ones its
host last announced. A vote in a poll written here, local or received from a peer, is counted here
and the poll goes out again as an `Update` of its `Question`, with every option's count, wherever
the poll was sent (member instances of its communities, or its author's followers' instances).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.activitypub.polls import vote_create, vote_note
from server.context import Context
from server.errors import Conflict
from server.services import outbox, posts
from server.services.communities import actor_id_of
from server.storage import notifications as notification_store
from server.storage import posts as post_store
from server.storage.models import User
from server.storage.social import Actor, Post


async def vote(
    session: AsyncSession, ctx: Context, now: datetime, user: User, post_id: int, option: int
) -> None:
    """Vote in a poll (checked as `posts.vote` does), then tell the instances that need to know."""
    post = await post_store.get_post(session, post_id)
    if post is not None and not post.local:
        earlier = await post_store.votes_by(session, actor_id_of(user), [post.id])
        if post.id in earlier:
            raise Conflict(
                "your vote in this poll was sent to its instance; it cannot be changed", field="option"
            )
    await posts.vote(session, now, user, post_id, option)
    assert post is not None
    if post.local:
        await send_tallies(session, ctx, now, post)
        return
    await _send_vote(session, ctx, now, user, post, option)


async def _send_vote(
    session: AsyncSession, ctx: Context, now: datetime, user: User, post: Post, option: int
) -> None:
    voter = await session.get(Actor, actor_id_of(user))
    author = await session.get(Actor, post.author_id)
    assert voter is not None and author is not None and post.poll_options is not None
    note = vote_note(
        vote_id=f"{voter.uri}/activities/vote-{post.id}-{uuid.uuid4().hex}",
        voter=voter.uri,
        question=post.uri,
        question_author=author.uri,
        option=post.poll_options[option],
    )
    await outbox.send_to_actor(session, ctx, now, author, vote_create(note), signer=voter, person=user)


async def send_tallies(session: AsyncSession, ctx: Context, now: datetime, post: Post) -> int:
    """An `Update` of a local poll (its `Question` carries the counts) wherever the poll went."""
    authors = await notification_store.users_by_actor_ids(session, [post.author_id])
    author_user = authors.get(post.author_id)
    if author_user is None:
        return 0
    return await outbox.post_updated(session, ctx, now, post, author_user)
