"""A hit is only ever something the person may read: secret, closed, held and deleted content stays hidden."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from server.context import Context
from server.services import indexing
from server.services import search as service
from server.storage.models import User
from server.storage.social import Actor, Post, PostCommunity
from tests.search.helpers import add_member, community, person, write


async def find(ctx: Context, viewer: User, q: str, **filters: Any) -> list[dict[str, Any]]:
    async with ctx.sessions() as session:
        page = await service.search(session, ctx.settings, viewer, q=q, **filters)
    return list(page["items"])


def texts(items: list[dict[str, Any]]) -> str:
    return " ".join(f"{i['title_html']} {i['snippet_html']}" for i in items)


async def test_a_secret_community_post_is_never_a_hit_for_a_non_member(ctx: Context) -> None:
    ada, bob, eve = await person(ctx, "ada"), await person(ctx, "bob"), await person(ctx, "eve")
    hidden = await community(ctx, ada, "merger", visibility="secret")
    await add_member(ctx, hidden, bob)
    await write(
        ctx, ada, "Project zanzibar: the acquisition target is Globex", places=["merger"], title="Zanzibar"
    )
    await write(ctx, ada, "Zanzibar is also a lovely island", on_profile=True)

    for viewer in (ada, bob):
        found = await find(ctx, viewer, "zanzibar acquisition")
        assert len(found) == 1 and "<mark>acquisition</mark>" in found[0]["snippet_html"]
    assert await find(ctx, eve, "acquisition") == []
    leaked = await find(ctx, eve, "zanzibar")
    assert [i["kind"] for i in leaked] == ["post"] and "Globex" not in texts(leaked)
    assert await find(ctx, eve, "merger", kind="community") == []
    assert "merger" not in texts(await find(ctx, eve, "zanzibar globex lovely island"))


async def test_closed_communities_are_read_by_members_only(ctx: Context) -> None:
    ada, bob, eve = await person(ctx, "ada"), await person(ctx, "bob"), await person(ctx, "eve")
    place = await community(ctx, ada, "pricing", visibility="closed")
    await add_member(ctx, place, bob, role="guest")
    await write(ctx, ada, "The discount grid for quarterly renewals", places=["pricing"])
    async with ctx.transaction() as session:
        await indexing.index_community(session, place)

    assert len(await find(ctx, bob, "discount")) == 1
    assert await find(ctx, eve, "discount") == []
    assert [i["kind"] for i in await find(ctx, eve, "pricing")] == ["community"]  # it may be known to exist


async def test_held_posts_are_seen_by_their_author_and_the_moderators_only(ctx: Context) -> None:
    ada, mod, bob, eve = [await person(ctx, n) for n in ("ada", "mod", "bob", "eve")]
    place = await community(ctx, ada, "ops")
    await add_member(ctx, place, mod, role="moderator")
    await add_member(ctx, place, bob)
    post = await write(ctx, bob, "Outage report with customer names", places=["ops"])
    async with ctx.transaction() as session:
        await session.execute(update(Post).where(Post.id == post.id).values(held=True))

    assert len(await find(ctx, bob, "outage")) == 1
    assert len(await find(ctx, mod, "outage")) == 1
    assert len(await find(ctx, ada, "outage")) == 1  # the owner moderates too
    assert await find(ctx, eve, "outage") == []


async def test_deleted_posts_and_moved_posts_follow_the_live_rows(ctx: Context) -> None:
    ada, eve = await person(ctx, "ada"), await person(ctx, "eve")
    await community(ctx, ada, "open-room")
    hidden = await community(ctx, ada, "board", visibility="secret")
    post = await write(ctx, ada, "Quarterly forecast draft", places=["open-room"])
    gone = await write(ctx, ada, "Forecast typo, ignore", places=["open-room"])
    assert len(await find(ctx, eve, "forecast")) == 2

    async with ctx.transaction() as session:
        await session.execute(update(Post).where(Post.id == gone.id).values(deleted_at=ctx.clock.now()))
        await session.execute(
            update(PostCommunity).where(PostCommunity.post_id == post.id).values(community_id=hidden.id)
        )
    assert await find(ctx, eve, "forecast") == []  # no reindex needed: permissions are joined live
    assert [i["post_id"] for i in await find(ctx, ada, "forecast")] == [post.id]


async def test_comments_come_with_their_thread_and_follow_its_visibility(ctx: Context) -> None:
    ada, bob, eve = await person(ctx, "ada"), await person(ctx, "bob"), await person(ctx, "eve")
    place = await community(ctx, ada, "team", visibility="closed")
    await add_member(ctx, place, bob)
    root = await write(ctx, ada, "Where do we meet?", places=["team"], title="Offsite planning")
    reply = await write(ctx, bob, "The lighthouse venue near Brest", parent=root.id)

    found = await find(ctx, bob, "lighthouse")
    assert found[0]["kind"] == "comment" and found[0]["post_id"] == reply.id
    assert found[0]["thread"] == {"root_id": root.id, "title": "Offsite planning"}
    assert found[0]["url"] == f"/posts/{root.id}#post-{reply.id}"
    assert await find(ctx, eve, "lighthouse") == []


async def test_remote_content_is_searchable_like_local(ctx: Context) -> None:
    ada = await person(ctx, "ada")
    place = await community(ctx, ada, "federated")
    async with ctx.transaction() as session:
        remote = Actor(
            uri="https://de.example/users/jonas",
            kind="Person",
            local=False,
            domain="de.example",
            username="jonas",
            display_name="Jonas",
            created_at=ctx.clock.now(),
        )
        session.add(remote)
        await session.flush()
        post = Post(
            uri="https://de.example/posts/1",
            author_id=remote.id,
            kind="post",
            title="",
            source="",
            content_html="<p>Die neuen <b>Häuser</b> am Standort München</p>",
            language="de",
            local=False,
            created_at=ctx.clock.now(),
        )
        session.add(post)
        await session.flush()
        session.add(PostCommunity(post_id=post.id, community_id=place.id, created_at=post.created_at))
        await indexing.index_post(session, post)

    found = await find(ctx, ada, "Haus")
    assert len(found) == 1 and found[0]["author"]["domain"] == "de.example"
    assert found[0]["snippet_html"] == "Die neuen <mark>Häuser</mark> am Standort München"


async def test_filters_by_author_kind_date_and_community(ctx: Context) -> None:
    ada, bob = await person(ctx, "ada"), await person(ctx, "bob")
    await community(ctx, ada, "alpha")
    await add_member(ctx, await community(ctx, ada, "beta"), bob)
    first = await write(ctx, ada, "Roadmap for alpha", places=["alpha"])
    ctx.clock.advance(timedelta(days=10))  # type: ignore[attr-defined]
    second = await write(ctx, bob, "Roadmap for beta", places=["beta"])
    day = second.created_at.date().isoformat()

    def ids(items: list[dict[str, Any]]) -> list[int]:
        return sorted(i["post_id"] for i in items)

    assert ids(await find(ctx, ada, "roadmap")) == [first.id, second.id]
    assert ids(await find(ctx, ada, "roadmap", author="bob")) == [second.id]
    assert ids(await find(ctx, ada, "roadmap", community="alpha")) == [first.id]
    assert ids(await find(ctx, ada, "roadmap", since=day)) == [second.id]
    assert ids(await find(ctx, ada, "roadmap", until=first.created_at.date().isoformat())) == [first.id]
    assert await find(ctx, ada, "roadmap", kind="comment") == []
    assert await find(ctx, ada, "roadmap", has_attachment="true") == []


async def test_pages_are_full_and_ranked(ctx: Context) -> None:
    ada = await person(ctx, "ada")
    await community(ctx, ada, "big")
    for n in range(7):
        await write(ctx, ada, f"Budget line {n}" + (" budget budget" if n == 3 else ""), places=["big"])
    async with ctx.sessions() as session:
        first = await service.search(session, ctx.settings, ada, q="budget", limit=5)
        assert len(first["items"]) == 5 and first["next_cursor"]
        assert "budget budget" in first["items"][0]["snippet_html"].replace("<mark>", "").replace(
            "</mark>", ""
        )
        rest = await service.search(
            session, ctx.settings, ada, q="budget", limit=5, cursor=first["next_cursor"]
        )
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None


async def test_a_page_is_full_even_when_the_best_matches_are_hidden(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.storage import search as store

    monkeypatch.setattr(store, "FIRST_WINDOW", 2)
    ada, eve = await person(ctx, "ada"), await person(ctx, "eve")
    await community(ctx, ada, "vault", visibility="secret")
    await community(ctx, ada, "lobby")
    for n in range(6):
        await write(ctx, ada, f"Salary salary salary review {n}", places=["vault"], title="Salary")
    visible = [
        (await write(ctx, ada, f"Salary survey invitation {n}", places=["lobby"])).id for n in range(3)
    ]
    found = await find(ctx, eve, "salary", limit=2)
    assert [i["post_id"] for i in found] == [i for i in visible if i in {x["post_id"] for x in found}]
    assert len(found) == 2
    assert sorted(i["post_id"] for i in await find(ctx, eve, "salary")) == visible
