"""Remote people are shown only to those who may know them: the directory (page and API), "who knows
about X", the person results and author filter of search, and profile pages.

Bertrand (munich) is known here only as a member of the secret community `board`; Bill (lyon) is
followed by Charlie (and by no one else); Bart (munich) only wrote in the open community `welding`;
Bruno (munich) asked to join `welding` but is still pending. All four declare the same expertise as
the local Lena.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from server.context import Context
from server.services import indexing
from server.storage import profiles as profile_store
from server.storage.social import Actor, Follow, Post, PostCommunity, Profile
from tests.social.helpers import community, person
from tests.web.test_accounts_web import sign_in
from tests.web.test_mentions_web import add_member, remote_person, user_with_password

MUNICH = "munich.example.com"
LYON = "lyon.example.com"
TOPIC = "kubernetes"
BERTRAND = f"bertrand@{MUNICH}"
BILL = f"bill@{LYON}"
BART = f"bart@{MUNICH}"
BRUNO = f"bruno@{MUNICH}"


@pytest.fixture
async def insider(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser on the same app, for Olga (the first is Charlie's)."""
    async with httpx.AsyncClient(transport=client._transport, base_url="http://localhost:8000") as http:
        yield http


async def remote_with_profile(ctx: Context, username: str, display_name: str, domain: str) -> Actor:
    actor = await remote_person(ctx, username, display_name, domain=domain)
    async with ctx.transaction() as session:
        profile = Profile(
            actor_id=actor.id,
            job_title="Platform engineer",
            expertise=[TOPIC, "helm"],
            updated_at=ctx.clock.now(),
        )
        session.add(profile)
        await session.flush()
        await profile_store.replace_profile_tags(session, actor.id, "expertise", [TOPIC, "helm"])
        await indexing.index_profile(session, actor, profile)
    return actor


async def write_in(ctx: Context, author: Actor, community_id: int) -> None:
    now = ctx.clock.now()
    async with ctx.transaction() as session:
        post = Post(
            uri=f"https://{author.domain}/notes/{author.username}",
            author_id=author.id,
            kind="post",
            source="welds",
            content_html="<p>welds</p>",
            local=False,
            created_at=now,
        )
        session.add(post)
        await session.flush()
        session.add(PostCommunity(post_id=post.id, community_id=community_id, created_at=now))


async def build(ctx: Context, outsider: httpx.AsyncClient, insider: httpx.AsyncClient) -> None:
    """Charlie (signed in on `outsider`) is in no community and follows Bill; Olga (on `insider`)
    owns the secret community."""
    olga = await user_with_password(ctx, "olga")
    charlie = await user_with_password(ctx, "charlie")
    lena = await person(ctx, "lena")
    async with ctx.transaction() as session:
        local_profile = await session.get(Profile, lena.actor_id)
        local_actor = await session.get(Actor, lena.actor_id)
        assert local_profile is not None and local_actor is not None
        local_profile.expertise = [TOPIC]
        await profile_store.replace_profile_tags(session, local_actor.id, "expertise", [TOPIC])
        await indexing.index_profile(session, local_actor, local_profile)
    board = await community(ctx, olga, "board", visibility="secret")
    welding = await community(ctx, olga, "welding", visibility="open")
    bertrand = await remote_with_profile(ctx, "bertrand", "Bertrand Secret", MUNICH)
    bill = await remote_with_profile(ctx, "bill", "Bill Followed", LYON)
    bart = await remote_with_profile(ctx, "bart", "Bart Writer", MUNICH)
    bruno = await remote_with_profile(ctx, "bruno", "Bruno Pending", MUNICH)
    await add_member(ctx, board.id, bertrand.id)
    await add_member(ctx, welding.id, bruno.id, state="pending")
    await write_in(ctx, bart, welding.id)
    async with ctx.transaction() as session:
        session.add(
            Follow(
                follower_id=charlie.actor_id,
                followed_id=bill.id,
                state="accepted",
                created_at=ctx.clock.now(),
            )
        )
    await sign_in(outsider, "charlie")
    await sign_in(insider, "olga")


def handle(card: dict[str, Any]) -> str:
    return card["username"] if card["local"] else f"{card['username']}@{card['domain']}"


async def directory(http: httpx.AsyncClient, **params: Any) -> list[str]:
    """Every page of `/api/v1/people`, followed by cursor."""
    found: list[str] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await http.get("/api/v1/people", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        found += [handle(card) for card in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return found


async def who_knows(http: httpx.AsyncClient) -> list[str]:
    response = await http.get("/api/v1/search/people", params={"q": TOPIC})
    assert response.status_code == 200, response.text
    return [handle(item["person"]) for item in response.json()["items"]]


async def person_results(http: httpx.AsyncClient) -> list[str]:
    response = await http.get("/api/v1/search", params={"q": TOPIC, "kind": "person"})
    assert response.status_code == 200, response.text
    return sorted(handle(item["person"]) for item in response.json()["items"])


async def test_the_directory_lists_remote_people_only_to_those_who_may_know_them(
    ctx: Context, client: httpx.AsyncClient, insider: httpx.AsyncClient
) -> None:
    await build(ctx, client, insider)
    everyone = ["olga", "charlie", "lena", BERTRAND, BILL, BART, BRUNO]
    outsider_sees = ["charlie", "lena", BILL, BART, "olga"]
    assert sorted(await directory(client)) == sorted(outsider_sees)
    # One person a page: the hidden ones take no page and no cursor skips anyone.
    assert sorted(await directory(client, limit=1)) == sorted(outsider_sees)
    assert sorted(await directory(client, q=TOPIC)) == sorted(["lena", BILL, BART])
    assert sorted(await directory(client, expertise="helm")) == sorted([BILL, BART])
    # Olga lists the members of her secret community, but not Bill, whom she does not follow; a
    # pending request to join shows no one.
    assert sorted(await directory(insider, limit=2)) == sorted(set(everyone) - {BRUNO, BILL})
    assert sorted(await directory(insider, expertise="helm")) == sorted([BERTRAND, BART])

    page = await client.get("/people", params={"q": TOPIC})
    assert page.status_code == 200
    assert "Bill Followed" in page.text and "Bart Writer" in page.text
    assert "Bertrand" not in page.text and "Bruno" not in page.text
    page = await insider.get("/people", params={"q": TOPIC})
    assert "Bertrand Secret" in page.text


async def test_who_knows_and_search_find_remote_people_only_for_those_who_may_know_them(
    ctx: Context, client: httpx.AsyncClient, insider: httpx.AsyncClient
) -> None:
    await build(ctx, client, insider)
    ranked = await who_knows(client)
    assert sorted(ranked) == sorted(["lena", BILL, BART])
    assert sorted(await who_knows(insider)) == sorted(["lena", BERTRAND, BART])

    assert await person_results(client) == sorted(["lena", BILL, BART])
    assert await person_results(insider) == sorted(["lena", BERTRAND, BART])
    everything = await client.get("/api/v1/search", params={"q": "bertrand"})
    assert everything.status_code == 200 and everything.json()["items"] == []

    # Naming the hidden person as an author answers as if there were no such person.
    for name in (BERTRAND, "nobody@munich.example.com"):
        by = await client.get("/api/v1/search", params={"q": "welds", "author": name})
        assert by.status_code == 404, by.text
    assert (await insider.get("/api/v1/search", params={"q": "x", "author": BERTRAND})).status_code == 200
    assert (await client.get("/api/v1/search", params={"q": "welds", "author": BART})).status_code == 200


async def test_a_remote_profile_is_not_found_by_those_who_may_not_know_the_person(
    ctx: Context, client: httpx.AsyncClient, insider: httpx.AsyncClient
) -> None:
    await build(ctx, client, insider)
    for name in (BERTRAND, BRUNO, f"nobody@{MUNICH}"):
        assert (await client.get(f"/people/{name}")).status_code == 404, name
        assert (await client.get(f"/api/v1/people/{name}")).status_code == 404, name
    api = await client.get(f"/api/v1/people/{BERTRAND}")
    assert "Secret" not in api.text and "Platform" not in api.text

    shown = await insider.get(f"/api/v1/people/{BERTRAND}")
    assert shown.status_code == 200 and shown.json()["display_name"] == "Bertrand Secret"
    assert (await insider.get(f"/people/{BERTRAND}")).status_code == 200
    for name in (BILL, BART):
        assert (await client.get(f"/people/{name}")).status_code == 200
        body = (await client.get(f"/api/v1/people/{name}")).json()
        assert body["expertise"] == [TOPIC, "helm"]
    assert (await client.get("/api/v1/people/olga")).status_code == 200
