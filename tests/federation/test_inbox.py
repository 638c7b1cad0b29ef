"""The inbox: a peer's signed activity is verified, stored once, answered 202 and processed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.activitypub.auth import SignatureFormat
from server.activitypub.vocabulary import AS_CONTEXT
from server.federation.state import Federation
from server.storage import federation as store
from tests.federation.conftest import Instance, Router, activity_doc, deliver


async def _actor_document(munich: Instance, username: str) -> dict[str, Any]:
    response = await munich.http.get(f"/users/{username}", headers={"Accept": "application/activity+json"})
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


@pytest.fixture(params=["sqlite", "postgresql"])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("fmt", ["cavage", "rfc9421"])
async def test_a_signed_update_is_stored_answered_202_and_processed(
    paris: Instance, munich: Instance, alice: str, fmt: SignatureFormat
) -> None:
    person = await _actor_document(munich, "alice")
    person["name"] = "Alice M."
    update = activity_doc(alice, "Update", person, id=f"{alice}#updates/1")

    response = await deliver(munich, "alice", paris, update, fmt=fmt)

    assert response.status_code == 202, response.text
    await paris.settle()
    [row] = await paris.inbox_rows()
    assert row.activity_uri == f"{alice}#updates/1" and row.peer_domain == "munich.example"
    assert row.processed_at is not None and row.outcome == "updated actor"
    stored = await paris.remote_actor(alice)
    assert stored is not None and not stored.local
    assert stored.display_name == "Alice M." and stored.jurisdiction == "DE"
    assert stored.inbox_url == f"{alice}/inbox"


async def test_the_key_is_fetched_with_a_signed_get_as_the_instance_actor(
    paris: Instance, munich: Instance, alice: str, router: Router
) -> None:
    follow = activity_doc(alice, "Follow", f"{paris.base}/users/nobody")
    assert (await deliver(munich, "alice", paris, follow)).status_code == 202
    [fetch] = [r for r in router.seen if r.url.path == "/users/alice"]
    assert fetch.method == "GET"
    assert 'keyid="https://paris.example/actor#ed25519-key"' in fetch.headers["signature-input"]
    assert fetch.headers["accept"].startswith("application/activity+json")


async def test_a_redelivered_activity_answers_202_and_changes_nothing(
    paris: Instance, munich: Instance, alice: str
) -> None:
    follow = activity_doc(alice, "Follow", f"{paris.base}/users/bob")
    assert (await deliver(munich, "alice", paris, follow)).status_code == 202
    await paris.settle()
    before = await paris.snapshot()
    again = await deliver(munich, "alice", paris, follow, fmt="rfc9421")
    assert again.status_code == 202
    await paris.settle()
    assert await paris.snapshot() == before
    [row] = await paris.inbox_rows()
    assert (row.outcome or "").startswith("ignored") and row.attempts == 1


async def test_per_actor_inboxes(paris: Instance, munich: Instance, alice: str) -> None:
    await paris.add_user("bob")
    await paris.add_community("jazz", "open")
    follow = activity_doc(alice, "Follow", f"{paris.base}/users/bob", id=f"{alice}/follows/1")
    assert (await deliver(munich, "alice", paris, follow, path="/users/bob/inbox")).status_code == 202
    join = activity_doc(alice, "Follow", f"{paris.base}/c/jazz", id=f"{alice}/follows/2")
    assert (await deliver(munich, "alice", paris, join, path="/c/jazz/inbox")).status_code == 202
    nowhere = activity_doc(alice, "Follow", f"{paris.base}/users/x", id=f"{alice}/follows/3")
    missing = await deliver(munich, "alice", paris, nowhere, path="/users/nobody/inbox")
    assert missing.status_code == 404
    assert len(await paris.inbox_rows()) == 2


async def test_delete_of_an_actor_marks_it_deleted_and_drops_its_keys(
    paris: Instance, munich: Instance, alice: str
) -> None:
    hello = activity_doc(alice, "Follow", f"{paris.base}/users/bob", id=f"{alice}/follows/1")
    assert (await deliver(munich, "alice", paris, hello)).status_code == 202
    delete = activity_doc(alice, "Delete", alice, id=f"{alice}#delete", to=[f"{AS_CONTEXT}#Public"])
    assert (await deliver(munich, "alice", paris, delete)).status_code == 202
    await paris.settle()
    stored = await paris.remote_actor(alice)
    assert stored is not None and stored.deleted_at is not None
    async with paris.ctx.sessions() as session:
        assert await store.get_key(session, f"{alice}#main-key") is None
    outcomes = [r.outcome or "" for r in await paris.inbox_rows()]
    assert outcomes[0].startswith("ignored") and outcomes[1] == "deleted actor"


def _lyon_app(documents: dict[str, Any]) -> Starlette:
    """An honest fake peer at the HTTP layer: serves the activities it is given, 404 otherwise."""

    async def serve(request: Request) -> Response:
        found = documents.get(request.url.path)
        if found is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(found, media_type="application/activity+json")

    return Starlette(routes=[Route("/{path:path}", serve)])


async def test_an_announced_activity_from_another_origin_is_trusted_only_as_fetched_there(
    paris: Instance, munich: Instance, alice: str, router: Router
) -> None:
    original = {
        "@context": AS_CONTEXT,
        "id": "https://lyon.example/activities/1",
        "type": "Create",
        "actor": "https://lyon.example/users/carol",
        "object": {"id": "https://lyon.example/notes/1", "type": "Note", "content": "<p>the real text</p>"},
    }
    router.add("lyon.example", _lyon_app({"/activities/1": original}))
    forged = dict(original, object={"id": "https://lyon.example/notes/1", "type": "Note", "content": "lies"})
    announce = activity_doc(alice, "Announce", forged, id=f"{alice}/announces/1")
    missing = activity_doc(alice, "Announce", "https://lyon.example/activities/2", id=f"{alice}/announces/2")
    assert (await deliver(munich, "alice", paris, announce)).status_code == 202
    assert (await deliver(munich, "alice", paris, missing)).status_code == 202
    await paris.settle()
    first, second = await paris.inbox_rows()
    assert (first.outcome or "").startswith("announce of Create: ignored")
    assert any(r.url.path == "/activities/1" and r.method == "GET" for r in router.seen)
    assert second.outcome is not None and second.outcome.startswith("refused: announced")
    assert "HTTP 404" in second.outcome


async def test_unprocessed_rows_are_resumed_at_start_up(paris: Instance) -> None:
    async with paris.ctx.transaction() as session:
        row_id = await store.insert_inbox_activity(
            session,
            activity_uri="https://munich.example/activities/left-over",
            actor_uri="https://munich.example/users/alice",
            peer_domain="munich.example",
            raw={"id": "https://munich.example/activities/left-over", "type": "Like"},
            received_at=paris.clock.now(),
        )
    assert row_id is not None
    fed = Federation(paris.ctx)
    fed.queue.start()
    await fed.queue.join()
    await fed.close()
    [row] = await paris.inbox_rows()
    assert row.processed_at is not None and (row.outcome or "").startswith(("ignored", "refused"))


async def test_a_peer_that_is_down_means_no_key_and_a_401(
    paris: Instance, munich: Instance, alice: str, router: Router
) -> None:
    follow = activity_doc(alice, "Follow", f"{paris.base}/users/bob")
    del router.apps["munich.example"]
    response = await deliver(munich, "alice", paris, follow)
    assert response.status_code == 401
    assert "could not be fetched" in response.json()["detail"]
    assert await paris.inbox_rows() == []


async def test_the_body_of_a_stored_activity_is_the_normalized_json(
    paris: Instance, munich: Instance, alice: str
) -> None:
    like = activity_doc(alice, "Like", f"{paris.base}/notes/1", id=f"{alice}/likes/1")
    like["@context"] = [AS_CONTEXT, {"Hashtag": "as:Hashtag"}]
    assert (await deliver(munich, "alice", paris, like)).status_code == 202
    [row] = await paris.inbox_rows()
    assert json.loads(json.dumps(row.raw))["type"] == "Like"


async def test_open_mode_accepts_a_peer_outside_the_list(
    paris: Instance, munich: Instance, alice: str
) -> None:
    paris.settings.federation_mode = "open"
    paris.settings.peers = []
    paris.settings.allow_private_addresses = True
    follow = activity_doc(alice, "Follow", f"{paris.base}/users/bob")
    assert (await deliver(munich, "alice", paris, follow)).status_code == 202
    stored = await paris.remote_actor(alice)
    assert stored is not None and stored.jurisdiction is None  # unknown peer: strictest at policy time
