"""Comments and reactions in the thread of a person's profile post, across instances: the thread lives
on the person's instance, which takes them from anyone (profile posts are public) and passes on those
of its own people to its followers' instances; a copy elsewhere takes them only from that instance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.clock import FakeClock
from server.storage.social import Notification, Post, Reaction
from tests.federation.conftest import Instance, Router, activity_doc, deliver, running
from tests.federation.test_communities import settle, token
from tests.federation.test_reach import post, rows


@pytest.fixture
async def trio(
    request: pytest.FixtureRequest, dialect: str, tmp_path: Path, router: Router, clock: FakeClock
) -> AsyncIterator[dict[str, Instance]]:
    settings: dict[str, dict[str, Any]] = {"paris.example": {}, "munich.example": {}, "lyon.example": {}}
    async for made in running(request, dialect, tmp_path, router, clock, settings):
        yield made


async def thread(instance: Instance, headers: dict[str, str], post_id: int) -> dict[str, Any]:
    response = await instance.http.get(f"/api/v1/posts/{post_id}/thread", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def local_id(instance: Instance, uri: str) -> int:
    [found] = await rows(instance, Post, Post.uri == uri)
    return int(found.id)


async def test_comments_and_reactions_on_a_profile_post_cross_both_ways(trio: dict[str, Instance]) -> None:
    paris, munich = trio["paris"], trio["munich"]
    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")
    followed = await munich.http.put("/api/v1/people/pierre@paris.example/follow", headers=alice)
    assert followed.status_code == 204
    await settle(paris, munich)
    written = await post(paris, pierre, title="Field notes", body="Site visit today", on_profile=True)
    await settle(paris, munich)
    copy = await local_id(munich, written["uri"])

    said = await munich.http.post(f"/api/v1/posts/{copy}/comments", json={"body": "Nice!"}, headers=alice)
    assert said.status_code == 201, said.text
    liked = await munich.http.put(f"/api/v1/posts/{copy}/reactions/like", headers=alice)
    assert liked.status_code in (201, 204), liked.text
    await settle(paris, munich)

    home = await thread(paris, pierre, written["id"])
    assert [(c["author"]["handle"], c["source"]) for c in home["comments"]] == [
        ("@alice@munich.example", "Nice!")
    ]
    assert home["post"]["reactions"] == {"like": 1}
    kinds = {n.kind for n in await rows(paris, Notification)}
    assert "reply" in kinds

    answer = await paris.http.post(
        f"/api/v1/posts/{home['comments'][0]['id']}/comments", json={"body": "Thanks Alice"}, headers=pierre
    )
    assert answer.status_code == 201, answer.text
    await settle(paris, munich)
    there = await thread(munich, alice, copy)
    assert [(c["author"]["handle"], c["source"]) for c in there["comments"]] == [
        ("@alice@munich.example", "Nice!"),
        ("@pierre@paris.example", "Thanks Alice"),
    ]
    assert "reply" in {n.kind for n in await rows(munich, Notification)}


async def test_a_copy_takes_comments_only_from_the_thread_s_own_instance(trio: dict[str, Instance]) -> None:
    paris, munich, lyon = trio["paris"], trio["munich"], trio["lyon"]
    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")
    await lyon.add_user("mallory")
    await munich.http.put("/api/v1/people/pierre@paris.example/follow", headers=alice)
    await settle(paris, munich)
    written = await post(paris, pierre, body="Profile post", on_profile=True)
    await settle(paris, munich)

    mallory = f"{lyon.base}/users/mallory"
    note = {
        "id": f"{mallory}/notes/1",
        "type": "Note",
        "attributedTo": mallory,
        "inReplyTo": written["uri"],
        "content": "<p>injected</p>",
        "to": [f"{mallory}/followers"],
        "cc": ["https://www.w3.org/ns/activitystreams#Public"],
    }
    create = activity_doc(mallory, "Create", note, id=f"{mallory}/notes/1/create")
    like = activity_doc(mallory, "Like", written["uri"], id=f"{mallory}/likes/1")
    for activity in (create, like):
        assert (await deliver(lyon, "mallory", munich, activity)).status_code == 202
    await settle(munich)
    outcomes = [r.outcome for r in await munich.inbox_rows()]
    assert "refused: a comment on a profile post written elsewhere comes from its own instance" in outcomes
    assert "refused: reaction outside a community or a profile post's thread" in outcomes
    assert [p.source for p in await rows(munich, Post, Post.root_id.is_not(None))] == []
    assert await rows(munich, Reaction) == []

    # The thread's own instance takes them from anyone: its post is public.
    for activity in (create, like):
        assert (await deliver(lyon, "mallory", paris, activity)).status_code == 202
    await settle(paris)
    assert [p.content_html for p in await rows(paris, Post, Post.root_id.is_not(None))] == ["<p>injected</p>"]
    assert len(await rows(paris, Reaction)) == 1
