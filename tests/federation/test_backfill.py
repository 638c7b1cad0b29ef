"""Backfill (FEP-7888): a newly joined instance fetches the community's recent threads, quietly and only
what the community's host vouches for; a thread's history answers only those who may read it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server import workers
from server.activitypub.keys import generate_rsa_key, public_key_to_pem
from server.activitypub.vocabulary import AS_CONTEXT, AS_PUBLIC, group_actor, person_actor
from server.federation import backfill
from server.storage import backfill as backfill_store
from server.storage.delivery_models import Delivery
from server.storage.social import Actor, Community, Membership, Notification, Post
from server.workers import Background
from tests.federation.conftest import Instance, Router
from tests.federation.test_communities import community, settle, token

AS_JSON = {"Accept": "application/activity+json"}


@pytest.fixture(params=["sqlite", "postgresql"])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _post(instance: Instance, headers: dict[str, str], body: str, slug: str) -> int:
    response = await instance.http.post(
        "/api/v1/posts", json={"body": body, "communities": [slug]}, headers=headers
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _comment(instance: Instance, headers: dict[str, str], post_id: int, body: str) -> int:
    response = await instance.http.post(
        f"/api/v1/posts/{post_id}/comments", json={"body": body}, headers=headers
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _join(munich: Instance, headers: dict[str, str], handle: str) -> None:
    response = await munich.http.post("/api/v1/communities/remote", json={"handle": handle}, headers=headers)
    assert response.status_code == 202, response.text


async def _sources(instance: Instance) -> set[str]:
    async with instance.ctx.sessions() as session:
        return set((await session.execute(select(Post.source).where(Post.local.is_(False)))).scalars())


async def _mirror_backfill(instance: Instance, group_uri: str) -> backfill_store.Backfill | None:
    async with instance.ctx.sessions() as session:
        community_id = (
            await session.execute(
                select(Community.id).join(Actor, Actor.id == Community.actor_id).where(Actor.uri == group_uri)
            )
        ).scalar_one()
        return await backfill_store.get_backfill(session, community_id)


async def _count(instance: Instance, model: Any) -> int:
    async with instance.ctx.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_newly_joined_instance_fetches_recent_threads_without_notifying_or_announcing(
    paris: Instance, munich: Instance
) -> None:
    pierre, bob = await token(paris, "pierre"), await token(munich, "bob")
    await community(paris, pierre, "lean", "open")
    await _join(munich, bob, "lean@paris.example")
    await settle(paris, munich)
    await backfill.run_due(munich.fed)  # bob is the first member: nothing to fetch yet

    first = await _post(paris, pierre, "Kaizen week", "lean")
    await settle(paris, munich)
    bobs_comment = (
        await munich.http.post(
            f"/api/v1/posts/{await _remote_id(munich, f'{paris.base}/posts/{first}')}/comments",
            json={"body": "Count me in"},
            headers=bob,
        )
    ).json()["id"]
    await settle(paris, munich)
    left = await munich.http.post("/api/v1/communities/lean@paris.example/leave", headers=bob)
    assert left.status_code == 204
    await settle(paris, munich)

    bobs_comment_at_paris = await _remote_id(paris, f"{munich.base}/posts/{bobs_comment}")
    await _comment(paris, pierre, bobs_comment_at_paris, "Welcome aboard, Bob")
    second = await _post(paris, pierre, "Gemba walk on Tuesday", "lean")
    await _comment(paris, pierre, second, "Meet at gate 3")
    held = await _post(paris, pierre, "strictly confidential figures", "lean")  # held for review: not served
    await settle(paris, munich)
    assert "Gemba walk on Tuesday" not in await _sources(munich)  # nobody from munich was a member

    alice = await token(munich, "alice")
    await _join(munich, alice, "lean@paris.example")
    await settle(paris, munich)
    row = await _mirror_backfill(munich, f"{paris.base}/c/lean")
    assert row is not None and row.state == "pending"
    notifications, deliveries = await _count(munich, Notification), await _count(munich, Delivery)

    assert await backfill.run_due(munich.fed) == 1
    assert {"Gemba walk on Tuesday", "Meet at gate 3", "Welcome aboard, Bob"} <= await _sources(munich)
    assert "strictly confidential figures" not in await _sources(munich)
    assert held
    row = await _mirror_backfill(munich, f"{paris.base}/c/lean")
    assert row is not None and row.state == "done" and row.stored == 3, row.outcome
    assert await _count(munich, Notification) == notifications  # bob is not told of the old reply
    assert await _count(munich, Delivery) == deliveries  # nothing announced or sent again

    feed = (await munich.http.get("/api/v1/communities/lean@paris.example/feed", headers=alice)).json()
    assert [p["source"] for p in feed["items"]] == ["Gemba walk on Tuesday", "Kaizen week"]

    assert await backfill.run_due(munich.fed) == 0  # done: not run again
    again = await backfill.backfill_community(munich.fed, row.community_id)
    assert (again.stored, again.refused) == (0, 0) and again.known >= 3  # idempotent


async def _remote_id(instance: Instance, uri: str) -> int:
    async with instance.ctx.sessions() as session:
        return int((await session.execute(select(Post.id).where(Post.uri == uri))).scalar_one())


async def test_only_the_latest_threads_up_to_the_setting_are_fetched(
    paris: Instance, munich: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")
    await community(paris, pierre, "lean", "open")
    for n in range(1, 5):
        await _post(paris, pierre, f"Thread {n}", "lean")
        paris.clock.advance(timedelta(minutes=1))
    monkeypatch.setattr(munich.settings, "backfill_threads", 2)
    await _join(munich, alice, "lean@paris.example")
    await settle(paris, munich)

    monkeypatch.setattr(workers, "BACKFILL_POLL_SECONDS", 0.05)
    background = Background(munich.ctx, munich.fed)  # the work `cercle run` and `cercle worker` do
    await background.start()
    try:
        for _ in range(200):
            row = await _mirror_backfill(munich, f"{paris.base}/c/lean")
            if row is not None and row.state == "done":
                break
            await asyncio.sleep(0.05)
    finally:
        await background.stop()
    assert row is not None and row.state == "done", row.outcome if row else None
    assert await _sources(munich) == {"Thread 3", "Thread 4"}


async def test_a_closed_communitys_history_answers_only_member_instances(
    paris: Instance, munich: Instance
) -> None:
    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")
    await community(paris, pierre, "atlas", "closed")
    plan = await _post(paris, pierre, "The cut-over plan", "atlas")
    await _comment(paris, pierre, plan, "Rollback at 02:00")
    signed = await munich.fed.instance_auth()

    async def fetch(path: str, *, sign: bool) -> Any:
        return await munich.ctx.http.get(
            f"{paris.base}{path}", headers=AS_JSON, auth=signed if sign else None
        )

    for path in ("/c/atlas/outbox", "/c/atlas/outbox?page=1", f"/posts/{plan}/context?page=1"):
        assert (await fetch(path, sign=False)).status_code == 404
        assert (await fetch(path, sign=True)).status_code == 404  # no member lives on munich yet

    await _join(munich, alice, "atlas@paris.example")
    await settle(paris, munich)
    approved = await paris.http.post(
        "/api/v1/communities/atlas/requests/alice@munich.example/approve", headers=pierre
    )
    assert approved.status_code == 200
    await settle(paris, munich)

    outbox = (await fetch("/c/atlas/outbox?page=1", sign=True)).json()
    [item] = outbox["orderedItems"]
    assert item["type"] == "Announce" and item["actor"] == f"{paris.base}/c/atlas"
    assert item["object"]["object"]["content"] == "<p>The cut-over plan</p>\n"
    assert AS_PUBLIC not in str(item)
    context_url = item["object"]["object"]["context"]
    assert context_url == f"{paris.base}/posts/{plan}/context"
    context = (await fetch(f"/posts/{plan}/context?page=1", sign=True)).json()
    assert [n["source"]["content"] for n in context["orderedItems"]] == [
        "The cut-over plan",
        "Rollback at 02:00",
    ]
    assert all(n["context"] == context_url for n in context["orderedItems"])
    assert (await fetch(f"/posts/{plan}/context?page=1", sign=False)).status_code == 404
    assert (await fetch("/c/atlas/outbox?page=0", sign=True)).status_code == 404

    await backfill.run_due(munich.fed)
    assert {"The cut-over plan", "Rollback at 02:00"} <= await _sources(munich)


async def test_an_open_community_outbox_names_posts_by_id_for_unsigned_readers(paris: Instance) -> None:
    pierre = await token(paris, "pierre")
    await community(paris, pierre, "lean", "open")
    post = await _post(paris, pierre, "Kaizen week", "lean")
    outbox = (await paris.http.get("/c/lean/outbox", headers=AS_JSON)).json()
    assert outbox["totalItems"] == 1 and outbox["first"] == f"{paris.base}/c/lean/outbox?page=1"
    page = (await paris.http.get("/c/lean/outbox?page=1", headers=AS_JSON)).json()
    assert [i["object"] for i in page["orderedItems"]] == [f"{paris.base}/posts/{post}"]
    assert "Kaizen" not in str(page)


# --- a hostile host ----------------------------------------------------------------------------------------

LYON = "https://lyon.example"
GROUP = f"{LYON}/c/town"


def _lyon(documents: dict[str, Any]) -> Starlette:
    """An honest fake peer at the HTTP layer: serves the documents it is given, 404 otherwise."""

    async def serve(request: Request) -> Response:
        key = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        found = documents.get(key)
        if found is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(found, media_type="application/activity+json")

    return Starlette(routes=[Route("/{path:path}", serve)])


def _note(id: str, author: str, content: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": id,
        "type": "Note",
        "attributedTo": author,
        "content": content,
        "to": [GROUP],
        "cc": [],
        "audience": GROUP,
        "published": "2026-01-05T10:00:00+00:00",
        **extra,
    }


def _announce(n: int, obj: Any, *, id: str | None = None) -> dict[str, Any]:
    return {
        "id": id or f"{GROUP}/announces/{n}",
        "type": "Announce",
        "actor": GROUP,
        "object": obj,
        "to": [GROUP],
    }


def _create(note: dict[str, Any], *, id: str | None = None) -> dict[str, Any]:
    return {
        "id": id or f"{note['id']}/create",
        "type": "Create",
        "actor": note["attributedTo"],
        "object": note,
    }


def _collection(url: str, items: list[Any]) -> dict[str, dict[str, Any]]:
    path = url.removeprefix(LYON)
    return {
        path: {
            "@context": AS_CONTEXT,
            "id": url,
            "type": "OrderedCollection",
            "totalItems": len(items),
            "first": f"{url}?page=1",
        },
        f"{path}?page=1": {
            "@context": AS_CONTEXT,
            "id": f"{url}?page=1",
            "type": "OrderedCollectionPage",
            "partOf": url,
            "orderedItems": items,
        },
    }


async def _mirror(munich: Instance, member: Actor) -> int:
    """munich's copy of lyon's community `town`, with `member` accepted (as after a Follow/Accept)."""
    now = munich.clock.now()
    async with munich.ctx.transaction() as session:
        group = Actor(
            uri=GROUP,
            kind="Group",
            local=False,
            domain="lyon.example",
            username="town",
            display_name="Town",
            summary="",
            inbox_url=f"{GROUP}/inbox",
            outbox_url=f"{GROUP}/outbox",
            jurisdiction="FR",
            created_at=now,
        )
        session.add(group)
        await session.flush()
        mirror = Community(
            actor_id=group.id,
            slug="town@lyon.example",
            name="Town",
            kind="practice",
            tags=[],
            visibility="closed",
            local=False,
            created_at=now,
        )
        session.add(mirror)
        await session.flush()
        session.add(
            Membership(
                community_id=mirror.id,
                actor_id=member.id,
                role="member",
                state="active",
                created_at=now,
                updated_at=now,
            )
        )
        await backfill_store.request_backfill(session, mirror.id, now)
        return mirror.id


async def test_a_hostile_outbox_gets_nothing_in_but_what_its_origin_vouches_for(
    paris: Instance, munich: Instance, router: Router
) -> None:
    pierre = await token(paris, "pierre")
    await community(paris, pierre, "board", "secret")
    secret = await _post(paris, pierre, "Board minutes", "board")
    key = generate_rsa_key()
    carol = f"{LYON}/users/carol"
    genuine = _note(
        f"{LYON}/notes/1",
        carol,
        "<p>Market day<script>alert(1)</script></p>",
        context=f"{LYON}/notes/1/context",
    )
    reply = _note(f"{LYON}/notes/2", carol, "<p>See you there</p>", inReplyTo=genuine["id"])
    elsewhere = _note(
        f"{LYON}/notes/3",
        carol,
        "<p>For another community</p>",
        inReplyTo=f"{paris.base}/posts/1",
        audience=f"{paris.base}/c/board",
        to=[f"{paris.base}/c/board"],
    )
    spoofed = _note(f"{paris.base}/posts/{secret}", f"{paris.base}/users/pierre", "<p>Forged minutes</p>")
    public_private = _note(f"{LYON}/notes/4", carol, "<p>To the world</p>", cc=[AS_PUBLIC])
    documents: dict[str, Any] = {
        "/users/carol": person_actor(
            id=carol,
            username="carol",
            inbox=f"{carol}/inbox",
            outbox=f"{carol}/outbox",
            followers=f"{carol}/followers",
            following=f"{carol}/following",
            shared_inbox=f"{LYON}/inbox",
            public_key_pem=public_key_to_pem(key.public_key()),
        ),
        **_collection(
            f"{GROUP}/outbox",
            [
                _announce(1, _create(genuine)),
                # embedded content of another host; an item id of another host; a closed community's post
                # addressed to the world; an item not announced by the community
                _announce(2, _create(spoofed, id=f"{paris.base}/posts/{secret}/create")),
                _announce(3, _create(genuine), id=f"{paris.base}/announces/3"),
                _announce(4, _create(public_private)),
                {**_announce(5, _create(genuine)), "actor": carol},
            ],
        ),
        **_collection(
            f"{LYON}/notes/1/context",
            [
                genuine,
                reply,
                elsewhere,
                f"{paris.base}/posts/{secret}",  # a secret community's post, by id
            ],
        ),
    }
    documents["/c/town"] = group_actor(
        id=GROUP,
        username="town",
        inbox=f"{GROUP}/inbox",
        outbox=f"{GROUP}/outbox",
        followers=f"{GROUP}/followers",
        following=f"{GROUP}/following",
        shared_inbox=f"{LYON}/inbox",
        moderators=f"{GROUP}/moderators",
        public_key_pem=public_key_to_pem(key.public_key()),
    )
    router.add("lyon.example", _lyon(documents))
    member = await munich.add_user("alice")
    mirror_id = await _mirror(munich, member)

    assert await backfill.run_due(munich.fed) == 1
    async with munich.ctx.sessions() as session:
        stored = {
            p.uri: p for p in (await session.execute(select(Post).where(Post.local.is_(False)))).scalars()
        }
        row = await backfill_store.get_backfill(session, mirror_id)
    assert set(stored) == {genuine["id"], reply["id"]}
    assert "<script>" not in stored[genuine["id"]].content_html
    assert stored[reply["id"]].parent_id == stored[genuine["id"]].id
    assert row is not None and row.state == "done" and row.stored == 2
    assert row.outcome.startswith("2 stored, 0 already known, 6 refused"), row.outcome
    secret_fetches = [
        r for r in router.seen if r.url.path == f"/posts/{secret}" and r.url.host == "paris.example"
    ]
    assert secret_fetches  # asked for where it lives, signed, and refused there (404)
    assert all("signature" in r.headers or "signature-input" in r.headers for r in secret_fetches)
