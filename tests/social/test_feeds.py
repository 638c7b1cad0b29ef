"""Feeds: what appears, in which order, pagination, and a fixed number of queries per page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, update

from server.clock import FakeClock
from server.context import Context
from server.services import communities, feeds, follows, posts
from server.storage.social import Follow, Membership, Post
from tests.social.helpers import community, person


async def test_home_feed_mixes_my_communities_and_people_i_follow(ctx: Context, clock: FakeClock) -> None:
    ada, bob, eve = await person(ctx, "ada"), await person(ctx, "bob"), await person(ctx, "eve")
    design = await community(ctx, bob, "design")
    secret = await community(ctx, eve, "secret-stuff", "secret")
    async with ctx.transaction() as session:
        await communities.join(session, ctx, clock.now(), ada, "design")
        await follows.follow(session, clock.now(), ada, "eve")
    bodies = [
        ("bob", "design", "in design"),
        ("eve", None, "eve on her profile"),
        ("eve", "secret-stuff", "secret"),
    ]
    users = {"bob": bob, "eve": eve}
    for author, slug, body in bodies:
        clock.advance(timedelta(minutes=1))
        async with ctx.transaction() as session:
            await posts.create_post(
                session,
                ctx,
                clock.now(),
                users[author],
                body=body,
                communities=[slug] if slug else [],
                on_profile=slug is None,
            )
    async with ctx.sessions() as session:
        page = await feeds.home_feed(session, ada)
    assert [v.post.source for v in page.items] == ["eve on her profile", "in design"]
    assert design.slug and secret.slug


async def test_cursor_pagination_walks_every_post_once(ctx: Context, clock: FakeClock) -> None:
    ada = await person(ctx, "ada")
    await community(ctx, ada, "one")
    await community(ctx, ada, "two")
    for i in range(25):
        clock.advance(timedelta(seconds=1))
        async with ctx.transaction() as session:
            await posts.create_post(
                session,
                ctx,
                clock.now(),
                ada,
                body=f"post {i}",
                communities=["one", "two"][: 1 + i % 2],
            )
    seen: list[str] = []
    cursor = None
    async with ctx.sessions() as session:
        while True:
            page = await feeds.home_feed(session, ada, limit=10, cursor=cursor)
            seen += [v.post.source for v in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert seen == [f"post {i}" for i in reversed(range(25))]


async def test_a_feed_page_costs_the_same_number_of_queries_for_5_or_50_posts(
    ctx: Context, clock: FakeClock
) -> None:
    ada, bob = await person(ctx, "ada"), await person(ctx, "bob")
    for slug in ("alpha", "beta", "gamma"):
        await community(ctx, ada, slug)
        async with ctx.transaction() as session:
            await communities.join(session, ctx, clock.now(), bob, slug)
    for i in range(60):
        clock.advance(timedelta(seconds=1))
        async with ctx.transaction() as session:
            post = await posts.create_post(
                session,
                ctx,
                clock.now(),
                ada if i % 2 else bob,
                body=f"#tag{i} hello @bob",
                communities=[["alpha", "beta", "gamma"][i % 3]],
                poll_options=["yes", "no"] if i % 7 == 0 else None,
            )
            await posts.react(session, ctx, clock.now(), bob if i % 2 else ada, post.id, "like")
            await posts.create_comment(session, ctx, clock.now(), bob, parent_id=post.id, body="ok")

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    async def measure(limit: int) -> int:
        statements.clear()
        event.listen(ctx.engine.sync_engine, "before_cursor_execute", count)
        try:
            async with ctx.sessions() as session:
                page = await feeds.home_feed(session, ada, limit=limit)
        finally:
            event.remove(ctx.engine.sync_engine, "before_cursor_execute", count)
        assert len(page.items) == limit
        return len(statements)

    small, large = await measure(5), await measure(50)
    assert small == large
    assert large <= 20, statements


async def test_deleted_and_held_posts_leave_no_gap_in_a_page(ctx: Context, clock: FakeClock) -> None:
    """Shares are read from the feed index first and filtered after: a page is still full and in order."""
    ada, bob = await person(ctx, "ada"), await person(ctx, "bob")
    await community(ctx, ada, "one")
    await community(ctx, ada, "two")
    async with ctx.transaction() as session:
        await communities.join(session, ctx, clock.now(), bob, "one")
        await communities.join(session, ctx, clock.now(), bob, "two")
    ids = []
    for i in range(30):
        clock.advance(timedelta(seconds=1))
        async with ctx.transaction() as session:
            post = await posts.create_post(
                session, ctx, clock.now(), ada, body=f"post {i}", communities=["one", "two"][: 1 + i % 2]
            )
            ids.append(post.id)
    async with ctx.transaction() as session:
        for post_id in ids[12:]:  # the 18 newest go: more than a first batch of shares
            await posts.delete_post(session, ctx, clock.now(), ada, post_id)
        held = await session.get(Post, ids[11])
        assert held is not None
        held.held = True
    async with ctx.sessions() as session:
        first = await feeds.home_feed(session, bob, limit=4)
        second = await feeds.home_feed(session, bob, limit=4, cursor=first.next_cursor)
        own = await feeds.home_feed(session, ada, limit=4)
    assert [v.post.source for v in first.items] == ["post 10", "post 9", "post 8", "post 7"]
    assert [v.post.source for v in second.items] == ["post 6", "post 5", "post 4", "post 3"]
    # the author sees their own held post
    assert [v.post.source for v in own.items] == ["post 11", "post 10", "post 9", "post 8"]


async def test_a_pending_request_or_follow_brings_nothing_into_the_home_feed(
    ctx: Context, clock: FakeClock
) -> None:
    ada, bob, eve = await person(ctx, "ada"), await person(ctx, "bob"), await person(ctx, "eve")
    await community(ctx, bob, "board", "closed")
    async with ctx.transaction() as session:
        request = await communities.join(session, ctx, clock.now(), ada, "board")
        assert request.state == "pending"
        session.add(
            Follow(
                follower_id=ada.actor_id, followed_id=eve.actor_id, state="pending", created_at=clock.now()
            )
        )
    for author, slug, body in ((bob, "board", "board minutes"), (eve, None, "eve on her profile")):
        clock.advance(timedelta(minutes=1))
        async with ctx.transaction() as session:
            await posts.create_post(
                session,
                ctx,
                clock.now(),
                author,
                body=body,
                communities=[slug] if slug else [],
                on_profile=not slug,
            )
    async with ctx.sessions() as session:
        assert (await feeds.home_feed(session, ada)).items == []
    async with ctx.transaction() as session:
        await session.execute(update(Follow).values(state="accepted"))
        await session.execute(update(Membership).where(Membership.state == "pending").values(state="active"))
    async with ctx.sessions() as session:
        page = await feeds.home_feed(session, ada)
    assert [v.post.source for v in page.items] == ["eve on her profile", "board minutes"]
