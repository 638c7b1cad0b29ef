"""Relays of closed and secret communities to a third instance: the Group's Announce vouches for what it
embeds (FEP-1b12), within its own community only."""

from __future__ import annotations

from typing import Any

import pytest

from server.storage.social import Post, Reaction
from tests.federation import test_reach
from tests.federation.conftest import Instance, activity_doc
from tests.federation.test_communities import community, settle, token
from tests.federation.test_moderation import deliver_as, outcome_of
from tests.federation.test_reach import feed, join, post, rows

trio = test_reach.trio
ALICE = "https://munich.example/users/alice"
PIERRE = "https://paris.example/users/pierre"
BOARD = "https://paris.example/c/board"
OPS = "https://paris.example/c/ops"


@pytest.fixture(params=["sqlite", "postgresql"])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def approve(paris: Instance, pierre: dict[str, str], slug: str, handle: str) -> None:
    approved = await paris.http.post(f"/api/v1/communities/{slug}/requests/{handle}/approve", headers=pierre)
    assert approved.status_code == 200, approved.text


async def invite_and_accept(
    paris: Instance, pierre: dict[str, str], slug: str, guest: Instance, headers: dict[str, str], name: str
) -> None:
    invited = await paris.http.post(
        f"/api/v1/communities/{slug}/invitations",
        json={"username": f"{name}@{guest.domain}"},
        headers=pierre,
    )
    assert invited.status_code == 201, invited.text
    await settle(paris, guest)
    accepted = await guest.http.post(f"/api/v1/communities/{slug}@paris.example/join", headers=headers)
    assert accepted.status_code in (200, 201, 202), accepted.text


Tokens = tuple[dict[str, str], dict[str, str], dict[str, str]]


async def people(trio: dict[str, Instance]) -> Tokens:
    """Pierre of Paris, Alice of Munich, Luc of Lyon."""
    paris, munich, lyon = trio["paris"], trio["munich"], trio["lyon"]
    return await token(paris, "pierre"), await token(munich, "alice"), await token(lyon, "luc")


async def private_community(trio: dict[str, Instance], tokens: Tokens, slug: str, visibility: str) -> None:
    """Pierre's closed or secret community on Paris, with Alice of Munich and Luc of Lyon as members."""
    paris, munich, lyon = trio["paris"], trio["munich"], trio["lyon"]
    pierre, alice, luc = tokens
    await community(paris, pierre, slug, visibility)
    if visibility == "secret":
        await invite_and_accept(paris, pierre, slug, munich, alice, "alice")
        await invite_and_accept(paris, pierre, slug, lyon, luc, "luc")
    else:
        await join(munich, alice, f"{slug}@paris.example")
        await join(lyon, luc, f"{slug}@paris.example")
        await settle(paris, munich, lyon)
        await approve(paris, pierre, slug, "alice@munich.example")
        await approve(paris, pierre, slug, "luc@lyon.example")
    await settle(paris, munich, lyon)
    for instance, headers in ((munich, alice), (lyon, luc)):
        mine = await instance.http.get(f"/api/v1/communities/{slug}@paris.example", headers=headers)
        assert mine.json()["my_membership"] == {"role": "member", "state": "active"}, mine.text


@pytest.mark.parametrize("visibility", ["closed", "secret"])
async def test_a_post_its_edit_its_reaction_and_its_deletion_reach_the_third_instance(
    trio: dict[str, Instance], visibility: str
) -> None:
    paris, munich, lyon = trio["paris"], trio["munich"], trio["lyon"]
    tokens = await people(trio)
    await private_community(trio, tokens, "board", visibility)
    _, alice, luc = tokens
    handle = "board@paris.example"

    written = await post(munich, alice, title="Q3", body="Figures", communities=[handle])
    await settle(paris, munich, lyon)
    seen = await feed(lyon, luc, handle)
    assert [(p["title"], p["source"], p["author"]["handle"]) for p in seen] == [
        ("Q3", "Figures", "@alice@munich.example")
    ]
    fetch_of_create = await lyon.ctx.http.get(
        f"{written['uri']}/create",
        headers={"Accept": "application/activity+json"},
        auth=await lyon.fed.instance_auth(),
    )
    assert fetch_of_create.status_code == 404  # the origin still does not serve it: the Group vouched

    edited = await munich.http.patch(
        f"/api/v1/posts/{written['id']}", json={"body": "Figures, revised"}, headers=alice
    )
    assert edited.status_code == 200, edited.text
    liked = await munich.http.put(f"/api/v1/posts/{written['id']}/reactions/like", headers=alice)
    assert liked.status_code in (200, 201, 204), liked.text
    await settle(paris, munich, lyon)
    [again] = await feed(lyon, luc, handle)
    assert again["source"] == "Figures, revised" and again["edited_at"] is not None
    assert [(r.kind, r.uri) for r in await rows(lyon, Reaction)] == [
        ("like", f"{ALICE}/likes/{written['id']}-like")
    ]

    deleted = await munich.http.delete(f"/api/v1/posts/{written['id']}", headers=alice)
    assert deleted.status_code == 204
    await settle(paris, munich, lyon)
    assert await feed(lyon, luc, handle) == []
    [tombstone] = await rows(lyon, Post, Post.uri == written["uri"])
    assert tombstone.deleted_at is not None and tombstone.source == ""
    outcomes = [r.outcome for r in await lyon.inbox_rows() if r.outcome and r.outcome.startswith("announce")]
    assert sorted(outcomes) == [
        "announce of Create: post stored",
        "announce of Delete: post deleted",
        "announce of Like: reaction",
        "announce of Update: post updated",
    ]


# --- hostile relays --------------------------------------------------------------------------------------


def create_by_alice(number: int, group: str, **changes: Any) -> dict[str, Any]:
    """A `Create` of a post by Alice of Munich for `group`, as a Group could embed it."""
    note = {
        "id": f"{ALICE}/posts/forged-{number}",
        "type": "Note",
        "attributedTo": ALICE,
        "content": f"<p>forged {number}</p>",
        "to": [group],
        "cc": [],
        "audience": group,
    }
    note.update(changes.pop("note", {}))
    create = activity_doc(ALICE, "Create", note, id=f"{ALICE}/activities/create-forged-{number}", to=[group])
    create["audience"] = group
    create.update(changes)
    return create


async def relay(paris: Instance, lyon: Instance, by: str, inner: dict[str, Any], number: int) -> str | None:
    announce = activity_doc(
        by, "Announce", inner, id=f"{by}/activities/announce-{number}", to=[f"{by}/followers"]
    )
    response = await deliver_as(paris, by, lyon, announce)
    assert response.status_code == 202, response.text
    return await outcome_of(lyon, announce["id"])


async def stored_uris(lyon: Instance) -> list[str]:
    return sorted(p.uri for p in await rows(lyon, Post))


async def test_a_group_vouches_only_for_its_own_community_and_for_ids_of_one_origin(
    trio: dict[str, Instance],
) -> None:
    paris, lyon = trio["paris"], trio["lyon"]
    tokens = await people(trio)
    await private_community(trio, tokens, "board", "closed")
    await private_community(trio, tokens, "ops", "closed")
    baseline = await relay(paris, lyon, BOARD, create_by_alice(1, BOARD), 1)
    assert baseline == "announce of Create: post stored"  # the trust that stays: Paris could forge it
    assert await stored_uris(lyon) == [f"{ALICE}/posts/forged-1"]

    for_ops = await relay(paris, lyon, BOARD, create_by_alice(2, OPS), 2)
    edit_of_ops = activity_doc(
        ALICE,
        "Update",
        {
            **create_by_alice(3, BOARD)["object"],
            "id": f"{ALICE}/posts/forged-0",
            "content": "<p>rewritten</p>",
        },
        id=f"{ALICE}/activities/update-forged-3",
        to=[BOARD],
    )
    await relay(paris, lyon, OPS, create_by_alice(0, OPS), 30)  # a post of ops, by its own Group
    rewritten = await relay(paris, lyon, BOARD, edit_of_ops, 3)
    pierre_as_munich = await relay(
        paris, lyon, BOARD, create_by_alice(4, BOARD, actor=PIERRE, note={"attributedTo": PIERRE}), 4
    )
    note_of_paris = await relay(
        paris, lyon, BOARD, create_by_alice(5, BOARD, note={"id": f"{PIERRE}/posts/forged-5"}), 5
    )
    for outcome in (for_ops, rewritten, pierre_as_munich, note_of_paris):
        assert outcome is not None and outcome.startswith("refused: "), outcome
    assert "not fetched from its origin: HTTP 404" in str(for_ops)
    assert await stored_uris(lyon) == [f"{ALICE}/posts/forged-0", f"{ALICE}/posts/forged-1"]
    [ops_post] = await rows(lyon, Post, Post.uri == f"{ALICE}/posts/forged-0")
    assert ops_post.content_html == "<p>forged 0</p>" and ops_post.edited_at is None


async def test_a_group_without_members_here_and_a_person_are_not_trusted(trio: dict[str, Instance]) -> None:
    paris, munich, lyon = trio["paris"], trio["munich"], trio["lyon"]
    pierre, alice, luc = await people(trio)
    await private_community(trio, (pierre, alice, luc), "board", "closed")
    await community(paris, pierre, "ops", "closed")
    await join(lyon, luc, "ops@paris.example")  # asked, never approved: Lyon knows ops, has no member
    await settle(paris, munich, lyon)

    from_ops = await relay(paris, lyon, OPS, create_by_alice(1, OPS), 1)
    mallory = await paris.add_user("mallory")  # a person of the Group's own instance
    from_mallory = await relay(paris, lyon, mallory.uri, create_by_alice(2, BOARD), 2)
    for outcome in (from_ops, from_mallory):
        assert outcome is not None and outcome.startswith("refused: "), outcome
    assert "not fetched from its origin" in str(from_ops)
    assert await stored_uris(lyon) == []

    control = await relay(paris, lyon, BOARD, create_by_alice(3, BOARD), 3)
    assert control == "announce of Create: post stored"
