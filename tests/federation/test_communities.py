"""Communities across instances (FEP-1b12), in process: join, post, announce, comment, delete, leaks."""

from __future__ import annotations

from sqlalchemy import select

from server.delivery.worker import DeliveryWorker
from server.federation.sender import DeliverySender
from server.services import accounts
from server.storage.delivery_models import Delivery
from server.storage.social import Post
from tests.federation.conftest import Instance
from tests.social.helpers import person


async def settle(*instances: Instance, rounds: int = 12) -> None:
    """Run every instance's delivery worker and inbox processing until nothing moves."""
    workers = [DeliveryWorker(i.ctx, DeliverySender(i.fed)) for i in instances]
    quiet = 0
    for _ in range(rounds):
        attempts = sum([await worker.run_once() for worker in workers])
        for instance in instances:
            await instance.settle()
        quiet = quiet + 1 if attempts == 0 else 0
        if quiet == 2:
            return
    raise AssertionError("deliveries still moving after many rounds")


async def token(instance: Instance, name: str) -> dict[str, str]:
    user = await person(instance.ctx, name)
    async with instance.ctx.transaction() as session:
        created = await accounts.create_api_token(session, instance.clock.now(), user, "tests")
    return {"Authorization": f"Bearer {created.secret}"}


async def community(instance: Instance, headers: dict[str, str], slug: str, visibility: str) -> None:
    response = await instance.http.post(
        "/api/v1/communities",
        json={"slug": slug, "name": slug.title(), "kind": "practice", "visibility": visibility},
        headers=headers,
    )
    assert response.status_code == 201, response.text


async def test_join_post_comment_and_delete_across_two_instances(paris: Instance, munich: Instance) -> None:
    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")
    await community(paris, pierre, "lean", "open")

    joined = await munich.http.post(
        "/api/v1/communities/remote", json={"handle": "lean@paris.example"}, headers=alice
    )
    assert joined.status_code == 202, joined.text
    assert joined.json()["state"] == "pending"
    await settle(paris, munich)
    mirror = (await munich.http.get("/api/v1/communities/lean@paris.example", headers=alice)).json()
    assert mirror["my_membership"] == {"role": "member", "state": "active"}
    members = (await paris.http.get("/api/v1/communities/lean/members", headers=pierre)).json()["items"]
    assert {m["person"]["handle"] for m in members} == {"@pierre@paris.example", "@alice@munich.example"}

    posted = await munich.http.post(
        "/api/v1/posts",
        json={
            "title": "5S",
            "body": "Before/after of our **5S** week",
            "communities": ["lean@paris.example"],
        },
        headers=alice,
    )
    assert posted.status_code == 201, posted.text
    await settle(paris, munich)
    feed = (await paris.http.get("/api/v1/communities/lean/feed", headers=pierre)).json()["items"]
    assert [(p["title"], p["author"]["handle"]) for p in feed] == [("5S", "@alice@munich.example")]
    lineage = (await munich.http.get(f"/api/v1/posts/{posted.json()['id']}/deliveries", headers=alice)).json()
    assert [(d["instance"], d["state"], d["attempts"]) for d in lineage["items"]] == [
        ("paris.example", "delivered", 1)
    ]
    assert "<strong>5S</strong>" in feed[0]["content_html"]
    remote_post_id = feed[0]["id"]

    comment = await paris.http.post(
        f"/api/v1/posts/{remote_post_id}/comments", json={"body": "Impressive, can we visit?"}, headers=pierre
    )
    assert comment.status_code == 201
    await settle(paris, munich)
    thread = (await munich.http.get(f"/api/v1/posts/{posted.json()['id']}/thread", headers=alice)).json()
    assert [(c["source"], c["author"]["handle"]) for c in thread["comments"]] == [
        ("Impressive, can we visit?", "@pierre@paris.example")
    ]
    assert thread["post"]["comment_count"] == 1
    kinds = [
        n["kind"] for n in (await munich.http.get("/api/v1/notifications", headers=alice)).json()["items"]
    ]
    assert "reply" in kinds

    deleted = await paris.http.delete(f"/api/v1/posts/{comment.json()['id']}", headers=pierre)
    assert deleted.status_code == 204
    await settle(paris, munich)
    thread = (await munich.http.get(f"/api/v1/posts/{posted.json()['id']}/thread", headers=alice)).json()
    assert [c["deleted"] for c in thread["comments"]] == [True]

    await settle(paris, munich)
    async with paris.ctx.sessions() as session:
        again = (await session.execute(select(Post).where(Post.local.is_(False)))).scalars().all()
    assert len(again) == 1  # the announce of alice's own post back to munich created nothing twice


async def test_closed_community_join_needs_the_manager_and_private_posts_stay_with_members(
    paris: Instance, munich: Instance
) -> None:
    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")
    await community(paris, pierre, "atlas", "closed")
    await munich.http.post(
        "/api/v1/communities/remote", json={"handle": "atlas@paris.example"}, headers=alice
    )
    await settle(paris, munich)
    pending = (await paris.http.get("/api/v1/communities/atlas/members?state=pending", headers=pierre)).json()
    assert [m["person"]["handle"] for m in pending["items"]] == ["@alice@munich.example"]
    notes = (await paris.http.get("/api/v1/notifications", headers=pierre)).json()["items"]
    assert notes[0]["kind"] == "join_request"
    mine = (await munich.http.get("/api/v1/communities/atlas@paris.example", headers=alice)).json()
    assert mine["my_membership"]["state"] == "pending"

    early = await paris.http.post(
        "/api/v1/posts", json={"body": "Before alice is in", "communities": ["atlas"]}, headers=pierre
    )
    assert early.status_code == 201
    await settle(paris, munich)
    async with paris.ctx.sessions() as session:
        early_rows = (
            await session.execute(select(Delivery).where(Delivery.post_id == early.json()["id"]))
        ).scalars()
        assert list(early_rows) == []  # no accepted member elsewhere yet: nothing leaves

    approved = await paris.http.post(
        "/api/v1/communities/atlas/requests/alice@munich.example/approve", headers=pierre
    )
    assert approved.status_code == 200, approved.text
    await settle(paris, munich)
    mine = (await munich.http.get("/api/v1/communities/atlas@paris.example", headers=alice)).json()
    assert mine["my_membership"]["state"] == "active"

    secret_plan = await paris.http.post(
        "/api/v1/posts", json={"body": "The cut-over plan", "communities": ["atlas"]}, headers=pierre
    )
    await settle(paris, munich)
    feed = (await munich.http.get("/api/v1/communities/atlas@paris.example/feed", headers=alice)).json()[
        "items"
    ]
    assert [p["source"] for p in feed] == [""] or [p["content_html"] for p in feed] == [
        "<p>The cut-over plan</p>\n"
    ]
    async with paris.ctx.sessions() as session:
        rows = (
            await session.execute(select(Delivery).where(Delivery.post_id == secret_plan.json()["id"]))
        ).scalars()
        payloads = [r.payload for r in rows]
    assert payloads and all("https://www.w3.org/ns/activitystreams#Public" not in str(p) for p in payloads)

    object_url = f"/posts/{secret_plan.json()['id']}"
    unsigned = await paris.http.get(object_url, headers={"Accept": "application/activity+json"})
    assert unsigned.status_code == 404
    signed = await munich.ctx.http.get(
        f"https://paris.example{object_url}",
        headers={"Accept": "application/activity+json"},
        auth=await munich.fed.instance_auth(),
    )
    assert signed.status_code == 200 and signed.json()["content"] == "<p>The cut-over plan</p>\n"


async def test_a_non_member_instance_never_receives_a_closed_communitys_post(
    paris: Instance, munich: Instance
) -> None:
    pierre = await token(paris, "pierre")
    await community(paris, pierre, "board", "closed")
    await paris.http.post("/api/v1/posts", json={"body": "Numbers", "communities": ["board"]}, headers=pierre)
    await settle(paris, munich)
    async with paris.ctx.sessions() as session:
        assert (await session.execute(select(Delivery))).scalars().all() == []
    async with munich.ctx.sessions() as session:
        assert (await session.execute(select(Post))).scalars().all() == []


async def test_a_deactivated_account_is_dropped_by_the_instances_that_knew_it(
    paris: Instance, munich: Instance
) -> None:
    from server.services import accounts, outbox

    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")
    await community(paris, pierre, "lean", "open")
    await munich.http.post("/api/v1/communities/remote", json={"handle": "lean@paris.example"}, headers=alice)
    await settle(paris, munich)
    assert (await paris.remote_actor("https://munich.example/users/alice")) is not None
    async with munich.ctx.transaction() as session:
        user = await accounts.disable_user(session, munich.clock.now(), "alice")
        assert await outbox.person_deactivated(session, munich.clock.now(), user) == 1
    await settle(paris, munich)
    gone = await paris.remote_actor("https://munich.example/users/alice")
    assert gone is not None and gone.deleted_at is not None
