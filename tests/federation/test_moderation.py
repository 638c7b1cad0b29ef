"""Moderation across instances: reports as Flag, moderators as Add/Remove, bans as Block, hostile cases."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select

from server.federation.processing import dispatch
from server.storage.moderation import GroupModerator, Report
from server.storage.social import Actor, Membership, Post
from tests.federation.conftest import Instance, activity_doc, deliver
from tests.federation.test_communities import community, settle, token

LEAN = "https://paris.example/c/lean"
ALICE = "https://munich.example/users/alice"


async def deliver_as(
    sender: Instance, uri: str, target: Instance, activity: dict[str, Any]
) -> httpx.Response:
    auth = await sender.signer_for(uri)
    request = target.http.build_request(
        "POST",
        f"{target.base}/inbox",
        content=json.dumps(activity).encode(),
        headers={"Content-Type": "application/activity+json"},
    )
    auth.sign(request, "cavage")
    return await target.http.send(request)


async def outcome_of(instance: Instance, activity_id: str) -> str | None:
    await instance.settle()
    rows = {row.activity_uri: row.outcome for row in await instance.inbox_rows()}
    return rows.get(activity_id)


async def lean_with_alice(paris: Instance, munich: Instance) -> tuple[dict[str, str], dict[str, str]]:
    """Pierre's open community `lean` on Paris, with Alice of Munich as a member."""
    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")
    await community(paris, pierre, "lean", "open")
    joined = await munich.http.post(
        "/api/v1/communities/remote", json={"handle": "lean@paris.example"}, headers=alice
    )
    assert joined.status_code == 202, joined.text
    await settle(paris, munich)
    return pierre, alice


async def reports(instance: Instance) -> list[Report]:
    async with instance.ctx.sessions() as session:
        return list((await session.execute(select(Report).order_by(Report.id))).scalars())


async def group_moderators(instance: Instance) -> set[str]:
    async with instance.ctx.sessions() as session:
        query = select(Actor.uri).join(GroupModerator, GroupModerator.actor_id == Actor.id)
        return set((await session.execute(query)).scalars())


async def test_a_report_from_munich_reaches_the_queue_of_the_community_in_paris(
    paris: Instance, munich: Instance
) -> None:
    pierre, alice = await lean_with_alice(paris, munich)
    posted = await paris.http.post(
        "/api/v1/posts", json={"body": "Only 3 days to sign up", "communities": ["lean"]}, headers=pierre
    )
    assert posted.status_code == 201
    await settle(paris, munich)
    feed = (await munich.http.get("/api/v1/communities/lean@paris.example/feed", headers=alice)).json()
    remote_id = feed["items"][0]["id"]

    sent = await munich.http.post(
        f"/api/v1/posts/{remote_id}/reports",
        json={"category": "spam", "comment": "Posted in five communities"},
        headers=alice,
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["items"][0]["state"] == "forwarded"
    await settle(paris, munich)

    queue = (await paris.http.get("/api/v1/communities/lean/moderation", headers=pierre)).json()
    assert [
        (r["category"], r["comment"], r["reporter"]["handle"], r["origin"], r["post"]["id"])
        for r in queue["reports"]
    ] == [
        ("spam", "Posted in five communities", "@alice@munich.example", "munich.example", posted.json()["id"])
    ]
    notes = (await paris.http.get("/api/v1/notifications", headers=pierre)).json()["items"]
    assert notes[0]["kind"] == "report"
    flag = [r for r in await paris.inbox_rows() if r.raw.get("type") == "Flag"]
    assert [(f.raw["actor"], f.raw["object"], f.raw["to"]) for f in flag] == [
        (ALICE, [posted.json()["uri"]], [LEAN])
    ]
    assert flag[0].raw["summary"] == "[spam] Posted in five communities"

    await deliver_as(munich, ALICE, paris, flag[0].raw)  # a redelivery stores nothing twice
    await settle(paris, munich)
    assert len(await reports(paris)) == 1


async def test_flags_from_strangers_or_about_foreign_content_store_nothing(
    paris: Instance, munich: Instance
) -> None:
    pierre, _ = await lean_with_alice(paris, munich)
    await munich.add_user("carol")
    posted = await paris.http.post(
        "/api/v1/posts", json={"body": "Kaizen week", "communities": ["lean"]}, headers=pierre
    )
    post_uri = posted.json()["uri"]
    carol = "https://munich.example/users/carol"
    stranger = activity_doc(carol, "Flag", [post_uri], id=f"{carol}/flags/1", to=[LEAN], summary="[spam] x")
    assert (await deliver(munich, "carol", paris, stranger)).status_code == 202
    assert (
        await outcome_of(paris, stranger["id"])
        == "refused: Flag from someone who is not a member of the community"
    )

    foreign = activity_doc(
        ALICE, "Flag", ["https://munich.example/posts/1"], id=f"{ALICE}/flags/2", to=[LEAN], summary="spam"
    )
    assert (await deliver(munich, "alice", paris, foreign)).status_code == 202
    assert (await outcome_of(paris, foreign["id"])) == (
        "refused: Flag about nothing held here in a community hosted here"
    )
    empty = activity_doc(ALICE, "Flag", [], id=f"{ALICE}/flags/3", to=[LEAN])
    await deliver(munich, "alice", paris, empty)
    assert (await outcome_of(paris, empty["id"])) == "refused: Flag without actor, id or object"
    assert await reports(paris) == []


async def test_moderators_travel_as_add_and_remove_from_the_group(paris: Instance, munich: Instance) -> None:
    pierre, alice = await lean_with_alice(paris, munich)
    paul = await token(paris, "paul")
    assert (await paris.http.post("/api/v1/communities/lean/join", headers=paul)).status_code == 201

    for name in ("alice@munich.example", "paul"):
        made = await paris.http.post(
            f"/api/v1/communities/lean/members/{name}/role", json={"role": "moderator"}, headers=pierre
        )
        assert made.status_code == 200, made.text
    await settle(paris, munich)
    assert await group_moderators(munich) == {ALICE, "https://paris.example/users/paul"}
    adds = [r.raw for r in await munich.inbox_rows() if r.raw.get("type") == "Add"]
    assert {(a["actor"], a["target"]) for a in adds} == {(LEAN, f"{LEAN}/moderators")}
    published = await paris.http.get(f"{LEAN}/moderators", headers={"Accept": "application/activity+json"})
    assert ALICE in published.json()["orderedItems"]

    demoted = await paris.http.post(
        "/api/v1/communities/lean/members/alice@munich.example/role", json={"role": "member"}, headers=pierre
    )
    assert demoted.status_code == 200
    await settle(paris, munich)
    assert await group_moderators(munich) == {"https://paris.example/users/paul"}

    removed = await paris.http.post("/api/v1/communities/lean/members/paul/remove", headers=pierre)
    assert removed.status_code == 204
    await settle(paris, munich)
    assert await group_moderators(munich) == set()

    await paris.http.post(
        "/api/v1/communities/lean/members/alice@munich.example/role",
        json={"role": "moderator"},
        headers=pierre,
    )
    await settle(paris, munich)
    assert await group_moderators(munich) == {ALICE}
    gone = await paris.http.post(
        "/api/v1/communities/lean/members/alice@munich.example/remove", headers=pierre
    )
    assert gone.status_code == 204
    await settle(paris, munich)  # Munich has no member left, and still hears of both
    assert await group_moderators(munich) == set()
    mine = (await munich.http.get("/api/v1/communities/lean@paris.example", headers=alice)).json()
    assert mine["my_membership"] is None


async def test_an_add_not_sent_by_the_group_changes_nothing(paris: Instance, munich: Instance) -> None:
    await lean_with_alice(paris, munich)
    await paris.add_user("mallory")
    mallory = "https://paris.example/users/mallory"
    forged = activity_doc(mallory, "Add", ALICE, id=f"{mallory}/add-1", target=f"{LEAN}/moderators")
    assert (await deliver(paris, "mallory", munich, forged)).status_code == 202
    assert (await outcome_of(munich, forged["id"])) == (
        "refused: Add of a moderator by an actor that is not the community's Group"
    )
    elsewhere = activity_doc(LEAN, "Add", ALICE, id=f"{LEAN}/activities/add-2", target=f"{LEAN}/featured")
    assert (await deliver_as(paris, LEAN, munich, elsewhere)).status_code == 202
    assert (await outcome_of(munich, elsewhere["id"])) == (
        "ignored: Add to a collection other than the Group's moderators"
    )
    assert await group_moderators(munich) == set()


async def test_a_ban_is_a_block_and_an_unban_its_undo(paris: Instance, munich: Instance) -> None:
    pierre, alice = await lean_with_alice(paris, munich)
    banned = await paris.http.post(
        "/api/v1/communities/lean/members/alice@munich.example/ban", headers=pierre
    )
    assert banned.status_code == 204
    await settle(paris, munich)
    mine = (await munich.http.get("/api/v1/communities/lean@paris.example", headers=alice)).json()
    assert mine["my_membership"] == {"role": "member", "state": "banned"}
    notes = (await munich.http.get("/api/v1/notifications", headers=alice)).json()["items"]
    assert notes[0]["kind"] == "banned"
    blocks = [r.raw for r in await munich.inbox_rows() if r.raw.get("type") == "Block"]
    assert [(b["actor"], b["object"], b["target"]) for b in blocks] == [(LEAN, ALICE, LEAN)]

    follow = activity_doc(ALICE, "Follow", LEAN, id=f"{ALICE}/follows/again")
    assert (await deliver(munich, "alice", paris, follow)).status_code == 202
    await settle(paris, munich)
    async with paris.ctx.sessions() as session:
        states = (
            await session.execute(
                select(Membership.state)
                .join(Actor, Actor.id == Membership.actor_id)
                .where(Actor.uri == ALICE)
            )
        ).scalars()
        assert list(states) == ["banned"]
    rejects = [r.raw for r in await munich.inbox_rows() if r.raw.get("type") == "Reject"]
    assert [r["object"]["id"] for r in rejects] == [follow["id"]]

    lifted = await paris.http.delete("/api/v1/communities/lean/bans/alice@munich.example", headers=pierre)
    assert lifted.status_code == 204
    await settle(paris, munich)
    mine = (await munich.http.get("/api/v1/communities/lean@paris.example", headers=alice)).json()
    assert mine["my_membership"] is None
    follow_again = activity_doc(ALICE, "Follow", LEAN, id=f"{ALICE}/follows/after-the-ban")
    assert (await deliver(munich, "alice", paris, follow_again)).status_code == 202
    assert await outcome_of(paris, follow_again["id"]) == "follow of a community"
    members = (await paris.http.get("/api/v1/communities/lean/members", headers=pierre)).json()["items"]
    assert {m["person"]["handle"]: m["state"] for m in members}["@alice@munich.example"] == "active"


async def test_blocks_about_someone_else_or_from_someone_else_change_nothing(
    paris: Instance, munich: Instance
) -> None:
    _, alice = await lean_with_alice(paris, munich)
    lyon_person = "https://lyon.example/users/leon"
    third = activity_doc(LEAN, "Block", lyon_person, id=f"{LEAN}/activities/block-1", target=LEAN)
    assert (await deliver_as(paris, LEAN, munich, third)).status_code == 202
    assert (
        await outcome_of(munich, third["id"]) == "refused: Block about a person who is not of this instance"
    )

    await paris.add_user("mallory")
    mallory = "https://paris.example/users/mallory"
    by_person = activity_doc(mallory, "Block", ALICE, id=f"{mallory}/block-2", target=LEAN)
    await deliver(paris, "mallory", munich, by_person)
    assert await outcome_of(munich, by_person["id"]) == (
        "ignored: Block by an actor that is not a community followed here"
    )
    other_target = activity_doc(LEAN, "Block", ALICE, id=f"{LEAN}/activities/block-3", target=f"{LEAN}-x")
    await deliver_as(paris, LEAN, munich, other_target)
    assert await outcome_of(munich, other_target["id"]) == (
        "refused: a community's Block must have the community as target"
    )
    undo = activity_doc(
        mallory, "Undo", {"type": "Block", "actor": LEAN, "object": ALICE}, id=f"{mallory}/undo-4"
    )
    await deliver(paris, "mallory", munich, undo)
    assert (await outcome_of(munich, undo["id"]) or "").startswith("refused: Undo(Block) whose actor")
    mine = (await munich.http.get("/api/v1/communities/lean@paris.example", headers=alice)).json()
    assert mine["my_membership"] == {"role": "member", "state": "active"}


async def test_a_moderators_deletion_counts_only_when_the_group_announces_it(
    paris: Instance, munich: Instance
) -> None:
    pierre, _ = await lean_with_alice(paris, munich)
    await paris.http.post(
        "/api/v1/communities/lean/members/alice@munich.example/role",
        json={"role": "moderator"},
        headers=pierre,
    )
    posted = await paris.http.post(
        "/api/v1/posts", json={"body": "Wrong figures", "communities": ["lean"]}, headers=pierre
    )
    await settle(paris, munich)
    assert await group_moderators(munich) == {ALICE}
    note_uri = posted.json()["uri"]
    delete = activity_doc(ALICE, "Delete", {"id": note_uri, "type": "Tombstone"}, id=f"{ALICE}/delete-1")

    alone = await dispatch(munich.fed, delete)
    assert alone.label == "refused: only the author or the community's moderators delete a post"
    announced = await dispatch(munich.fed, delete, 1, via=LEAN)
    assert announced.label == "post deleted"

    await munich.add_user("bob")
    bob = "https://munich.example/users/bob"
    by_bob = activity_doc(bob, "Delete", {"id": note_uri, "type": "Tombstone"}, id=f"{bob}/delete-2")
    assert (await dispatch(munich.fed, by_bob, 1, via=LEAN)).label.startswith("refused")
    assert announced.apply is not None
    async with munich.ctx.transaction() as session:
        await announced.apply(session)
    async with munich.ctx.sessions() as session:
        post = (await session.execute(select(Post).where(Post.uri == note_uri))).scalar_one()
    assert post.deleted_at is not None and post.content_html == ""
