"""Mention suggestions (`GET /api/v1/mentions`): local people by name, remote people only where the
viewer may already see them, hostile input refused with the field named."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from server.context import Context
from server.services import mentions as mention_service
from server.storage.accounts import get_user_by_username
from server.storage.models import User
from server.storage.social import Actor, Follow, Membership, Post, PostCommunity
from tests.social.helpers import community, person
from tests.web.test_accounts_web import make_user, sign_in

MUNICH = "munich.example.com"


async def remote_person(ctx: Context, username: str, display_name: str, domain: str = MUNICH) -> Actor:
    now = ctx.clock.now()
    async with ctx.transaction() as session:
        actor = Actor(
            uri=f"https://{domain}/users/{username}",
            kind="Person",
            local=False,
            domain=domain,
            username=username,
            display_name=display_name,
            summary="",
            inbox_url=f"https://{domain}/users/{username}/inbox",
            created_at=now,
        )
        session.add(actor)
        await session.flush()
        return actor


async def add_member(ctx: Context, community_id: int, actor_id: int, state: str = "active") -> None:
    now = ctx.clock.now()
    async with ctx.transaction() as session:
        session.add(
            Membership(
                community_id=community_id,
                actor_id=actor_id,
                role="member",
                state=state,
                created_at=now,
                updated_at=now,
            )
        )


async def user_with_password(ctx: Context, name: str) -> User:
    await make_user(ctx, name)
    async with ctx.sessions() as session:
        user = await get_user_by_username(session, name)
    assert user is not None
    return user


async def suggestions(client: httpx.AsyncClient, typed: str) -> list[str]:
    response = await client.get("/api/v1/mentions", params={"q": typed})
    assert response.status_code == 200, response.text
    return [item["handle"] for item in response.json()["items"]]


async def test_local_people_by_user_name_or_name_exact_name_first(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await make_user(ctx, "alice")
    for name in ("brigitte", "bruno", "br"):
        await person(ctx, name)
    await sign_in(client, "alice")
    assert await suggestions(client, "br") == ["@br", "@brigitte", "@bruno"]
    assert await suggestions(client, "@BRU") == ["@bruno"]
    assert await suggestions(client, "zed") == []
    body = (await client.get("/api/v1/mentions", params={"q": "bruno"})).json()
    assert body == {
        "items": [
            {
                "username": "bruno",
                "domain": "localhost:8000",
                "local": True,
                "display_name": "Bruno",
                "handle": "@bruno",
            }
        ]
    }


async def test_a_word_of_the_display_name_matches_too(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx, "alice")
    welder = await person(ctx, "bw")
    async with ctx.transaction() as session:
        actor = await session.get(Actor, welder.actor_id)
        assert actor is not None
        actor.display_name = "Bruno Weld"
    await sign_in(client, "alice")
    assert await suggestions(client, "weld") == ["@bw"]
    assert await suggestions(client, "eld") == []


async def test_a_remote_member_of_a_secret_community_is_never_suggested_to_an_outsider(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    owner = await user_with_password(ctx, "olga")
    await make_user(ctx, "charlie")
    secret = await community(ctx, owner, "board", visibility="secret")
    hidden = await remote_person(ctx, "bertrand", "Bertrand Secret")
    await add_member(ctx, secret.id, hidden.id)
    await sign_in(client, "charlie")
    assert await suggestions(client, "ber") == []
    assert await suggestions(client, "bertrand@munich") == []

    insider = httpx.AsyncClient(transport=client._transport, base_url="http://localhost:8000")
    async with insider:
        await sign_in(insider, "olga")
        assert await suggestions(insider, "ber") == [f"@bertrand@{MUNICH}"]


async def test_remote_people_in_open_communities_and_followed_people_are_suggested(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    owner = await person(ctx, "olga")
    await make_user(ctx, "charlie")
    open_one = await community(ctx, owner, "welding", visibility="open")
    closed = await community(ctx, owner, "payroll", visibility="closed")
    member = await remote_person(ctx, "bea", "Bea Open")
    pending = await remote_person(ctx, "ben", "Ben Pending")
    writer = await remote_person(ctx, "bob", "Bob Closed Writer", domain="lyon.example.com")
    followed = await remote_person(ctx, "bill", "Bill Followed", domain="lyon.example.com")
    await remote_person(ctx, "bart", "Bart Stranger")
    await add_member(ctx, open_one.id, member.id)
    await add_member(ctx, open_one.id, pending.id, state="pending")
    now = ctx.clock.now()
    async with ctx.transaction() as session:
        charlie = await session.get(User, 2)
        assert charlie is not None and charlie.username == "charlie"
        post = Post(
            uri="https://lyon.example.com/notes/1",
            author_id=writer.id,
            kind="post",
            source="pay",
            content_html="<p>pay</p>",
            local=False,
            created_at=now,
        )
        session.add(post)
        await session.flush()
        session.add(PostCommunity(post_id=post.id, community_id=closed.id, created_at=now))
        session.add(
            Follow(follower_id=charlie.actor_id, followed_id=followed.id, state="accepted", created_at=now)
        )
    await sign_in(client, "charlie")
    assert await suggestions(client, "b") == [
        f"@bea@{MUNICH}",
        "@bill@lyon.example.com",
    ]
    assert await suggestions(client, "b@lyon") == ["@bill@lyon.example.com"]


async def test_the_author_of_a_readable_post_is_suggested_but_not_of_a_held_one(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    owner = await person(ctx, "olga")
    await make_user(ctx, "charlie")
    open_one = await community(ctx, owner, "welding", visibility="open")
    writer = await remote_person(ctx, "bob", "Bob Writer")
    held_writer = await remote_person(ctx, "bao", "Bao Held")
    now = ctx.clock.now()
    async with ctx.transaction() as session:
        for n, (author, held) in enumerate(((writer, False), (held_writer, True))):
            post = Post(
                uri=f"https://{MUNICH}/notes/{n}",
                author_id=author.id,
                kind="post",
                source="x",
                content_html="<p>x</p>",
                local=False,
                held=held,
                created_at=now,
            )
            session.add(post)
            await session.flush()
            session.add(PostCommunity(post_id=post.id, community_id=open_one.id, created_at=now))
            comment = Post(
                uri=f"https://{MUNICH}/notes/{n}/reply",
                author_id=author.id,
                kind="comment",
                parent_id=post.id,
                root_id=post.id,
                source="y",
                content_html="<p>y</p>",
                local=False,
                created_at=now,
            )
            session.add(comment)
    await sign_in(client, "charlie")
    assert await suggestions(client, "b") == [f"@bob@{MUNICH}"]


async def test_disabled_accounts_and_imported_authors_are_not_suggested(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await make_user(ctx, "alice")
    gone = await person(ctx, "bruno")
    owner = await person(ctx, "olga")
    open_one = await community(ctx, owner, "archive", visibility="open")
    imported = await remote_person(ctx, "bernard", "Bernard Imported", domain="imported.invalid")
    await add_member(ctx, open_one.id, imported.id)
    async with ctx.transaction() as session:
        user = await session.get(User, gone.id)
        assert user is not None
        user.disabled_at = ctx.clock.now()
    await sign_in(client, "alice")
    assert await suggestions(client, "b") == []


async def test_bad_input_is_refused_naming_the_field(ctx: Context, client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/mentions", params={"q": "al"})).status_code == 401
    await make_user(ctx, "alice")
    await sign_in(client, "alice")
    for params, field in (
        ({}, "q"),
        ({"q": "@"}, "q"),
        ({"q": "two words"}, "q"),
        ({"q": "a" * 101}, "q"),
        ({"q": "al@bad/domain"}, "q"),
        ({"q": "al", "limit": "0"}, "limit"),
        ({"q": "al", "limit": "many"}, "limit"),
    ):
        response = await client.get("/api/v1/mentions", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] == field
    percent = await client.get("/api/v1/mentions", params={"q": "%"})
    assert percent.status_code == 200 and percent.json()["items"] == []


async def test_the_composer_and_comment_boxes_ask_for_suggestions(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await make_user(ctx, "alice")
    await sign_in(client, "alice")
    composer = await client.get("/compose")
    assert (
        'required data-mentions="/api/v1/mentions" data-mentions-label="People to mention"' in composer.text
    )
    assert '<script src="/static/mentions.js" defer></script>' in composer.text
    script = await client.get("/static/mentions.js")
    assert script.status_code == 200 and "aria-activedescendant" in script.text


async def test_on_postgresql_the_statement_is_planned_for_the_name_typed(ctx: Context) -> None:
    """A kept (generic) plan of the suggestion statement read every readable post (140 ms on the
    benchmark's data); each suggestion is planned for its own name, for its transaction only."""
    if ctx.engine.dialect.name != "postgresql":
        return
    alice = await user_with_password(ctx, "alice")
    async with ctx.sessions() as session:
        await mention_service.suggest(session, alice, "al")
        mode = (await session.execute(text("SHOW plan_cache_mode"))).scalar_one()
    assert mode == "force_custom_plan"
    async with ctx.sessions() as session:
        assert (await session.execute(text("SHOW plan_cache_mode"))).scalar_one() == "auto"
