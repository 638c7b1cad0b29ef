"""A very common word: only the newest matches are ranked first, and pages stay correct and complete."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from server.context import Context
from server.services import search as service
from server.storage import search as store
from server.storage.models import User
from server.storage.social import Post
from tests.search.helpers import community, person, write

# Oldest first. "vault" is secret (eve is not a member), "held" and "deleted" are in the open lobby.
PLAN = [
    "heavy",
    "open",
    "vault",
    "open",
    "held",
    "open",
    "deleted",
    "vault",
    "open",
    "open",
    "vault",
    "open",
    "deleted",
    "open",
    "vault",
    "vault",
    "held",
    "vault",
    "open",
    "vault",
    "vault",
]


async def every_page(ctx: Context, viewer: User, q: str, size: int) -> list[int]:
    """Post ids of every page, following the cursors; every page but the last is full."""
    found: list[int] = []
    cursor = None
    async with ctx.sessions() as session:
        while True:
            page = await service.search(session, ctx.settings, viewer, q=q, limit=size, cursor=cursor)
            found.extend(i["post_id"] for i in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return found
            assert len(page["items"]) == size


async def test_a_very_common_word_ranks_the_newest_matches_first_and_shows_only_visible_hits(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "RECENT", 4)  # 21 matches: tiers of the 4, 8, 16 newest, then the rest
    monkeypatch.setattr(store, "WIDER", 2)
    monkeypatch.setattr(store, "FIRST_WINDOW", 2)
    ada, eve = await person(ctx, "ada"), await person(ctx, "eve")
    await community(ctx, ada, "lobby")
    await community(ctx, ada, "vault", visibility="secret")
    posts: list[tuple[int, str]] = []
    for n, what in enumerate(PLAN):
        ctx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
        body = "memo memo memo memo memo budget" if what == "heavy" else f"memo number {n} of the week"
        post = await write(ctx, ada, body, places=["vault" if what == "vault" else "lobby"])
        posts.append((post.id, what))
    async with ctx.transaction() as session:  # changed after indexing: the live rows decide
        for post_id, what in posts:
            if what == "held":
                await session.execute(update(Post).where(Post.id == post_id).values(held=True))
            if what == "deleted":
                await session.execute(
                    update(Post).where(Post.id == post_id).values(deleted_at=ctx.clock.now())
                )
    newest_first = [post_id for post_id, _ in reversed(posts)]

    def tier(post_id: int) -> int:
        position = newest_first.index(post_id)
        return next((t for t, size in enumerate((4, 8, 16)) if position < size), 3)

    for viewer, hidden in ((eve, {"vault", "held", "deleted"}), (ada, {"deleted"})):
        allowed = {post_id for post_id, what in posts if what not in hidden}
        for size in (1, 3, 20):
            found = await every_page(ctx, viewer, "memo", size)
            assert len(found) == len(set(found)) == len(allowed)  # no repeat, no gap
            assert set(found) == allowed  # and never a hit the viewer may not see
            tiers = [tier(post_id) for post_id in found]
            assert tiers == sorted(tiers)  # newest matches first
        # The oldest post is the most relevant: first of its tier, after every hit of the newer tiers.
        assert found.index(posts[0][0]) == sum(1 for t in tiers if t < 3) > 0

    # Without the bound, rank alone decides: the most relevant post comes first again.
    monkeypatch.setattr(store, "RECENT", 0)
    assert (await every_page(ctx, eve, "memo", 20))[0] == posts[0][0]
    # A word with fewer matches than the bound is ranked as a whole.
    monkeypatch.setattr(store, "RECENT", 4)
    assert await every_page(ctx, eve, "budget", 5) == [posts[0][0]]
