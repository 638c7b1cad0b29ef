"""Reach across instances, in process: relays to a third instance, invitations to secret communities,
following people elsewhere, votes in polls, and attachments fetched from their origin."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from server.clock import FakeClock
from server.storage.delivery_models import Delivery
from server.storage.social import Attachment, Follow, Membership, Notification, PollVote, Post
from tests.federation.conftest import Instance, Router, activity_doc, deliver, running
from tests.federation.test_communities import community, settle, token

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


@pytest.fixture
async def trio(
    request: pytest.FixtureRequest, dialect: str, tmp_path: Path, router: Router, clock: FakeClock
) -> AsyncIterator[dict[str, Instance]]:
    """Paris, Munich and Lyon, each with its own fresh database (Lyon keeps files of at most 4 KiB)."""
    settings = {"paris.example": {}, "munich.example": {}, "lyon.example": {"remote_media_max_bytes": 4096}}
    async for made in running(request, dialect, tmp_path, router, clock, settings):
        yield made


async def rows(instance: Instance, model: Any, *where: Any) -> list[Any]:
    async with instance.ctx.sessions() as session:
        return list((await session.execute(select(model).where(*where))).scalars())


async def join(instance: Instance, headers: dict[str, str], handle: str) -> None:
    response = await instance.http.post(
        "/api/v1/communities/remote", json={"handle": handle}, headers=headers
    )
    assert response.status_code == 202, response.text


async def post(instance: Instance, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await instance.http.post("/api/v1/posts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def closed_community_with_alice(
    paris: Instance, munich: Instance, slug: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Pierre's closed community on Paris, with Munich's Alice an approved member: their API headers."""
    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")
    await community(paris, pierre, slug, "closed")
    await join(munich, alice, f"{slug}@paris.example")
    await settle(paris, munich)
    approved = await paris.http.post(
        f"/api/v1/communities/{slug}/requests/alice@munich.example/approve", headers=pierre
    )
    assert approved.status_code == 200
    await settle(paris, munich)
    return pierre, alice


async def feed(instance: Instance, headers: dict[str, str], slug: str) -> list[dict[str, Any]]:
    response = await instance.http.get(f"/api/v1/communities/{slug}/feed", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


# --- relay to a third instance ---------------------------------------------------------------------------


async def test_a_remote_authors_edit_and_deletion_are_relayed_to_the_other_member_instances(
    trio: dict[str, Instance],
) -> None:
    paris, munich, lyon = trio["paris"], trio["munich"], trio["lyon"]
    pierre, alice, luc = await token(paris, "pierre"), await token(munich, "alice"), await token(lyon, "luc")
    await community(paris, pierre, "lean", "open")
    await join(munich, alice, "lean@paris.example")
    await join(lyon, luc, "lean@paris.example")
    await settle(paris, munich, lyon)

    written = await post(munich, alice, title="5S", body="Before/after", communities=["lean@paris.example"])
    await settle(paris, munich, lyon)
    seen = await feed(lyon, luc, "lean@paris.example")
    assert [(p["title"], p["source"], p["author"]["handle"]) for p in seen] == [
        ("5S", "Before/after", "@alice@munich.example")
    ]

    edited = await munich.http.patch(
        f"/api/v1/posts/{written['id']}", json={"body": "Before/after, with photos"}, headers=alice
    )
    assert edited.status_code == 200, edited.text
    await settle(paris, munich, lyon)
    [again] = await feed(lyon, luc, "lean@paris.example")
    assert again["source"] == "Before/after, with photos" and again["edited_at"] is not None
    outcomes = [r.outcome for r in await lyon.inbox_rows()]
    assert "announce of Update: post updated" in outcomes

    deleted = await munich.http.delete(f"/api/v1/posts/{written['id']}", headers=alice)
    assert deleted.status_code == 204
    await settle(paris, munich, lyon)
    assert await feed(lyon, luc, "lean@paris.example") == []
    [tombstone] = await rows(lyon, Post, Post.uri == written["uri"])
    assert tombstone.deleted_at is not None and tombstone.source == ""


async def test_a_relayed_activity_is_not_served_to_an_instance_that_may_not_read_it(
    trio: dict[str, Instance],
) -> None:
    paris, munich, lyon = trio["paris"], trio["munich"], trio["lyon"]
    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")
    await community(paris, pierre, "board", "closed")
    await join(munich, alice, "board@paris.example")
    await settle(paris, munich, lyon)
    approved = await paris.http.post(
        "/api/v1/communities/board/requests/alice@munich.example/approve", headers=pierre
    )
    assert approved.status_code == 200
    await settle(paris, munich, lyon)
    written = await post(munich, alice, body="Figures", communities=["board@paris.example"])
    await settle(paris, munich, lyon)
    url = f"{written['uri']}/create"
    as_lyon = await lyon.ctx.http.get(
        url, headers={"Accept": "application/activity+json"}, auth=await lyon.fed.instance_auth()
    )
    as_paris = await paris.ctx.http.get(
        url, headers={"Accept": "application/activity+json"}, auth=await paris.fed.instance_auth()
    )
    unsigned = await munich.http.get(url, headers={"Accept": "application/activity+json"})
    assert (as_lyon.status_code, unsigned.status_code) == (404, 404)
    assert as_paris.status_code == 200 and as_paris.json()["object"]["source"]["content"] == "Figures"


# --- invitations to secret communities -------------------------------------------------------------------


async def test_a_manager_invites_a_person_elsewhere_into_a_secret_community(
    trio: dict[str, Instance],
) -> None:
    paris, munich = trio["paris"], trio["munich"]
    pierre, alice, bob = (
        await token(paris, "pierre"),
        await token(munich, "alice"),
        await token(munich, "bob"),
    )
    await community(paris, pierre, "merger", "secret")

    invited = await paris.http.post(
        "/api/v1/communities/merger/invitations", json={"username": "alice@munich.example"}, headers=pierre
    )
    assert invited.status_code == 201, invited.text
    await settle(paris, munich)
    notes = (await munich.http.get("/api/v1/notifications", headers=alice)).json()["items"]
    assert [n["kind"] for n in notes] == ["invitation"]
    mine = await munich.http.get("/api/v1/communities/merger@paris.example", headers=alice)
    assert mine.status_code == 200 and mine.json()["my_membership"]["state"] == "invited"
    assert mine.json()["visibility"] == "secret"
    hidden = await munich.http.get("/api/v1/communities/merger@paris.example", headers=bob)
    assert hidden.status_code == 404  # the secret community stays invisible to everyone else here

    accepted = await munich.http.post("/api/v1/communities/merger@paris.example/join", headers=alice)
    assert accepted.status_code in (200, 201, 202), accepted.text
    await settle(paris, munich)
    mine = await munich.http.get("/api/v1/communities/merger@paris.example", headers=alice)
    assert mine.json()["my_membership"] == {"role": "member", "state": "active"}
    members = (await paris.http.get("/api/v1/communities/merger/members", headers=pierre)).json()["items"]
    assert {m["person"]["handle"] for m in members} == {"@pierre@paris.example", "@alice@munich.example"}

    await post(paris, pierre, body="The plan", communities=["merger"])
    await settle(paris, munich)
    assert [p["source"] for p in await feed(munich, alice, "merger@paris.example")] == ["The plan"]


async def test_a_follow_of_a_secret_community_without_an_invitation_stays_refused(
    trio: dict[str, Instance],
) -> None:
    paris, munich = trio["paris"], trio["munich"]
    pierre = await token(paris, "pierre")
    bob = await munich.add_user("bob")
    await community(paris, pierre, "merger", "secret")
    follow = activity_doc(bob.uri, "Follow", f"{paris.base}/c/merger", id=f"{bob.uri}/follows/x/1")
    assert (await deliver(munich, "bob", paris, follow)).status_code == 202
    await settle(paris, munich)
    assert [r.outcome for r in await paris.inbox_rows()] == ["follow of a community"]
    assert [(m.state, m.role) for m in await rows(paris, Membership)] == [("active", "owner")]
    [answer] = await rows(paris, Delivery)
    assert answer.payload["type"] == "Reject" and answer.payload["object"]["id"] == follow["id"]
    # Munich fetched the Group's key to verify the Reject (the Group wrote to it), so it was delivered.
    assert answer.state == "delivered"
    assert [(r.raw["type"], r.outcome) for r in await munich.inbox_rows()] == [
        ("Reject", "reject of a follow")
    ]


async def test_an_invite_from_someone_who_does_not_moderate_the_community_is_refused(
    trio: dict[str, Instance],
) -> None:
    paris, munich = trio["paris"], trio["munich"]
    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")
    mallory = await paris.add_user("mallory")
    await community(paris, pierre, "merger", "closed")
    [owner] = await rows(paris, Membership)
    async with paris.ctx.transaction() as session:  # mallory is a plain member, not a moderator
        session.add(
            Membership(
                community_id=owner.community_id,
                actor_id=mallory.id,
                role="member",
                state="active",
                created_at=paris.clock.now(),
                updated_at=paris.clock.now(),
            )
        )
    target = f"{munich.base}/users/alice"
    invite = activity_doc(mallory.uri, "Invite", f"{paris.base}/c/merger", target=target, to=[target])
    assert (await deliver(paris, "mallory", munich, invite)).status_code == 202
    forged = activity_doc(
        mallory.uri,
        "Invite",
        "https://lyon.example/c/other",
        id=f"{mallory.uri}/activities/invite-2",
        target=target,
    )
    assert (await deliver(paris, "mallory", munich, forged)).status_code == 202
    await settle(paris, munich)
    assert [r.outcome for r in await munich.inbox_rows()] == [
        "refused: Invite from someone who does not moderate the community",
        "refused: Invite to a community of another origin",
    ]
    assert await rows(munich, Membership) == []
    assert (await munich.http.get("/api/v1/notifications", headers=alice)).json()["items"] == []


# --- following people elsewhere --------------------------------------------------------------------------


async def test_following_a_person_elsewhere_brings_their_profile_posts_home(
    trio: dict[str, Instance],
) -> None:
    paris, munich = trio["paris"], trio["munich"]
    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")

    followed = await munich.http.put("/api/v1/people/pierre@paris.example/follow", headers=alice)
    assert followed.status_code == 204, followed.text
    [pending] = await rows(munich, Follow)
    assert pending.state == "pending"
    await settle(paris, munich)
    [accepted] = await rows(munich, Follow)
    assert accepted.state == "accepted"
    [theirs] = await rows(paris, Follow)
    assert theirs.state == "accepted" and theirs.activity_uri == accepted.activity_uri

    written = await post(paris, pierre, title="Hello", body="From **Paris**", on_profile=True)
    await settle(paris, munich)
    home = (await munich.http.get("/api/v1/feed/home", headers=alice)).json()["items"]
    assert [(p["title"], p["author"]["handle"], p["on_profile"]) for p in home] == [
        ("Hello", "@pierre@paris.example", True)
    ]
    assert "<strong>Paris</strong>" in home[0]["content_html"]

    edited = await paris.http.patch(
        f"/api/v1/posts/{written['id']}", json={"body": "From Paris, edited"}, headers=pierre
    )
    assert edited.status_code == 200
    await settle(paris, munich)
    home = (await munich.http.get("/api/v1/feed/home", headers=alice)).json()["items"]
    assert [p["source"] for p in home] == ["From Paris, edited"]

    unfollowed = await munich.http.delete("/api/v1/people/pierre@paris.example/follow", headers=alice)
    assert unfollowed.status_code == 204
    await settle(paris, munich)
    assert await rows(paris, Follow) == [] and await rows(munich, Follow) == []
    await post(paris, pierre, body="After the unfollow", on_profile=True)
    await settle(paris, munich)
    assert [p.source for p in await rows(munich, Post)] == ["From Paris, edited"]


async def test_a_profile_post_nobody_here_follows_is_not_kept(trio: dict[str, Instance]) -> None:
    paris, munich = trio["paris"], trio["munich"]
    pierre = await paris.add_user("pierre")
    await token(munich, "alice")
    note = {
        "id": f"{pierre.uri}/notes/1",
        "type": "Note",
        "attributedTo": pierre.uri,
        "content": "<p>unsolicited</p>",
        "to": [f"{pierre.uri}/followers"],
        "cc": [PUBLIC],
    }
    create = activity_doc(pierre.uri, "Create", note)
    assert (await deliver(paris, "pierre", munich, create)).status_code == 202
    await settle(paris, munich)
    assert await rows(munich, Post) == []
    assert [r.outcome for r in await munich.inbox_rows()] == ["ignored: not for a community known here"]


# --- votes -----------------------------------------------------------------------------------------------


async def _poll(trio: dict[str, Instance]) -> tuple[dict[str, str], dict[str, str], dict[str, Any]]:
    paris, munich = trio["paris"], trio["munich"]
    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")
    await community(paris, pierre, "lean", "open")
    await join(munich, alice, "lean@paris.example")
    await settle(paris, munich)
    poll = await post(
        paris, pierre, body="Where do we meet?", communities=["lean"], poll_options=["North gate", "Car park"]
    )
    await settle(paris, munich)
    return pierre, alice, poll


async def test_a_vote_elsewhere_is_counted_once_by_the_polls_instance_and_the_counts_come_back(
    trio: dict[str, Instance],
) -> None:
    paris, munich = trio["paris"], trio["munich"]
    pierre, alice, poll = await _poll(trio)
    [mirror] = await feed(munich, alice, "lean@paris.example")
    assert [o["text"] for o in mirror["poll"]["options"]] == ["North gate", "Car park"]

    voted = await munich.http.post(f"/api/v1/posts/{mirror['id']}/votes", json={"option": 1}, headers=alice)
    assert voted.status_code == 204, voted.text
    await settle(paris, munich)
    [vote] = await rows(paris, PollVote)
    assert vote.option == 1
    here = (await paris.http.get(f"/api/v1/posts/{poll['id']}", headers=pierre)).json()
    assert [o["votes"] for o in here["poll"]["options"]] == [0, 1]

    mine = await paris.http.post(f"/api/v1/posts/{poll['id']}/votes", json={"option": 0}, headers=pierre)
    assert mine.status_code == 204
    await settle(paris, munich)
    there = (await munich.http.get(f"/api/v1/posts/{mirror['id']}", headers=alice)).json()
    assert [o["votes"] for o in there["poll"]["options"]] == [1, 1]
    assert there["poll"]["my_vote"] == 1 and there["edited_at"] is None

    twice = await munich.http.post(f"/api/v1/posts/{mirror['id']}/votes", json={"option": 0}, headers=alice)
    assert twice.status_code == 409
    assert twice.json()["errors"][0]["field"] == "option"


async def test_hostile_votes_are_refused_and_count_nothing(trio: dict[str, Instance]) -> None:
    paris, munich = trio["paris"], trio["munich"]
    _, _, poll = await _poll(trio)
    outsider = await munich.add_user("olga")
    alice_uri, pierre_uri = f"{munich.base}/users/alice", f"{paris.base}/users/pierre"

    def ballot(voter: str, number: int, option: str) -> dict[str, Any]:
        note = {
            "id": f"{voter}/activities/vote-{number}",
            "type": "Note",
            "attributedTo": voter,
            "name": option,
            "inReplyTo": poll["uri"],
            "to": [pierre_uri],
        }
        return activity_doc(voter, "Create", note, id=f"{voter}/activities/vote-{number}-create")

    assert (await deliver(munich, "alice", paris, ballot(alice_uri, 1, "Helipad"))).status_code == 202
    assert (await deliver(munich, "olga", paris, ballot(outsider.uri, 2, "Car park"))).status_code == 202
    assert (await deliver(munich, "alice", paris, ballot(alice_uri, 3, "Car park"))).status_code == 202
    assert (await deliver(munich, "alice", paris, ballot(alice_uri, 3, "Car park"))).status_code == 202
    await settle(paris, munich)  # the redelivery above was not even stored again
    assert (await deliver(munich, "alice", paris, ballot(alice_uri, 4, "North gate"))).status_code == 202
    await settle(paris, munich)
    assert [r.outcome for r in await paris.inbox_rows()][-4:] == [
        "refused: a vote for an option the poll does not have",
        "refused: the voter may not vote in this poll",
        "vote counted",
        "refused: this person already voted in this poll",
    ]
    assert [(v.option) for v in await rows(paris, PollVote)] == [1]

    async with paris.ctx.transaction() as session:
        row = await session.get(Post, poll["id"])
        assert row is not None
        row.poll_closes_at = paris.clock.now()
    late = await munich.add_user("late")
    assert (await deliver(munich, "late", paris, ballot(late.uri, 5, "Car park"))).status_code == 202
    await settle(paris, munich)
    assert [r.outcome for r in await paris.inbox_rows()][-1] == "refused: the poll is closed or deleted"
    assert len(await rows(paris, PollVote)) == 1


# --- attachments -----------------------------------------------------------------------------------------


def image(size: tuple[int, int], noisy: bool = False) -> bytes:
    picture = (
        Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)) if noisy else Image.new("RGB", size)
    )
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


async def upload(instance: Instance, headers: dict[str, str], data: bytes, name: str) -> int:
    response = await instance.http.post(
        "/api/v1/media",
        files={"file": (name, data, "image/png")},
        data={"description": name},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_attachments_are_fetched_from_their_origin_and_served_here(trio: dict[str, Instance]) -> None:
    paris, munich, lyon = trio["paris"], trio["munich"], trio["lyon"]
    pierre, alice, luc = await token(paris, "pierre"), await token(munich, "alice"), await token(lyon, "luc")
    await community(paris, pierre, "lean", "open")
    await join(munich, alice, "lean@paris.example")
    await join(lyon, luc, "lean@paris.example")
    await settle(paris, munich, lyon)
    small, large = (
        await upload(munich, alice, image((8, 8)), "small.png"),
        await upload(munich, alice, image((96, 96), noisy=True), "large.png"),
    )
    await post(
        munich, alice, body="Photos", communities=["lean@paris.example"], attachment_ids=[small, large]
    )
    await settle(paris, munich, lyon)

    [here] = await feed(paris, pierre, "lean")
    assert [(a["description"], a["available"]) for a in here["attachments"]] == [
        ("small.png", True),
        ("large.png", True),
    ]
    served = await paris.http.get(here["attachments"][0]["url"], headers=pierre)
    assert served.status_code == 200 and served.content.startswith(b"\x89PNG")
    stored = await rows(paris, Attachment)
    assert all(a.path is not None and a.remote_url and a.remote_url.startswith(munich.base) for a in stored)

    [there] = await feed(lyon, luc, "lean@paris.example")  # Lyon keeps files of at most 4 KiB
    assert [(a["description"], a["available"]) for a in there["attachments"]] == [
        ("small.png", True),
        ("large.png", False),
    ]
    assert there["attachments"][1]["url"].startswith(munich.base)

    unsigned = await munich.http.get(f"/media/{small}/small.png")
    assert unsigned.status_code == 404


async def test_the_host_of_a_closed_community_fetches_the_files_of_a_post_written_elsewhere(
    trio: dict[str, Instance],
) -> None:
    paris, munich = trio["paris"], trio["munich"]
    pierre, alice = await closed_community_with_alice(paris, munich, "board")
    photo = await upload(munich, alice, image((8, 8)), "board.png")
    await post(munich, alice, body="Figures", communities=["board@paris.example"], attachment_ids=[photo])
    await settle(paris, munich)
    # Munich knows no member of Paris: Paris reads the post (and its files) as the community's host.
    [here] = await feed(paris, pierre, "board")
    assert [(a["description"], a["available"]) for a in here["attachments"]] == [("board.png", True)]


async def test_an_attachment_on_a_private_address_or_another_origin_is_never_fetched(
    trio: dict[str, Instance], router: Router
) -> None:
    paris, munich = trio["paris"], trio["munich"]
    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")
    await community(paris, pierre, "lean", "open")
    await join(munich, alice, "lean@paris.example")
    await settle(paris, munich)
    alice_uri = f"{munich.base}/users/alice"
    urls = [
        "https://10.0.0.7/secret.png",
        "http://127.0.0.1:8080/x.png",
        "https://lyon.example/media/1/x.png",
    ]
    note = {
        "id": f"{alice_uri}/notes/1",
        "type": "Note",
        "attributedTo": alice_uri,
        "content": "<p>look</p>",
        "audience": f"{paris.base}/c/lean",
        "to": [f"{paris.base}/c/lean"],
        "cc": [PUBLIC],
        "attachment": [
            {"type": "Document", "mediaType": "image/png", "url": url, "name": "x"} for url in urls
        ],
    }
    before = len(router.seen)
    create = activity_doc(alice_uri, "Create", note)
    assert (await deliver(munich, "alice", paris, create)).status_code == 202
    await settle(paris, munich)
    [kept] = await rows(paris, Post)
    assert kept.source == "" and kept.content_html == "<p>look</p>"
    files = await rows(paris, Attachment)
    assert [(a.remote_url, a.path) for a in files] == [(url, None) for url in urls]
    asked = {r.url.host for r in router.seen[before:]}
    assert asked.isdisjoint({"10.0.0.7", "127.0.0.1", "lyon.example"})
    [page] = await feed(paris, pierre, "lean")
    assert [a["available"] for a in page["attachments"]] == [False, False, False]
    html = await paris.http.get(f"/posts/{page['id']}", headers=pierre)
    assert html.status_code == 200 and html.text.count("could not be fetched from its instance") == 3
    notes = await rows(paris, Notification)
    assert notes == []
