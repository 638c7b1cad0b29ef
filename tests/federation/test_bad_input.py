"""Bad input at the inbox gets a clear 4xx and changes nothing; unknown types are accepted and ignored.

Every test first lets Paris learn Alice's key from one good delivery, takes a snapshot of what Paris
stores, sends the bad request, and compares.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from server.activitypub import cavage
from server.activitypub.digest import digest_header
from server.activitypub.keys import generate_rsa_key
from server.activitypub.vocabulary import AS_CONTEXT
from tests.federation.conftest import Instance, activity_doc, deliver

Snapshot = dict[str, Any]


@pytest.fixture
async def known(paris: Instance, munich: Instance, alice: str) -> AsyncIterator[dict[str, Any]]:
    """Paris knows Alice and Mallory (one good activity each); yields the snapshot to compare with."""
    mallory = (await munich.add_user("mallory")).uri
    for name, uri in (("alice", alice), ("mallory", mallory)):
        hello = activity_doc(uri, "Follow", f"{paris.base}/users/bob", id=f"{uri}/follows/0")
        assert (await deliver(munich, name, paris, hello)).status_code == 202
    await paris.settle()
    yield await paris.snapshot()


async def refused(paris: Instance, snapshot: dict[str, Any], response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    await paris.settle()
    assert await paris.snapshot() == snapshot
    detail: str = response.json()["detail"]
    return detail


def follow(alice: str, n: int = 1) -> dict[str, Any]:
    return activity_doc(alice, "Follow", "https://paris.example/users/bob", id=f"{alice}/follows/{n}")


def _replace_signature(request: httpx.Request) -> None:
    forged = base64.b64encode(b"\x01" * 256).decode()
    header = request.headers["signature"]
    start = header.index('signature="') + len('signature="')
    request.headers["signature"] = header[:start] + forged + header[header.index('"', start) :]


async def test_forged_signature(paris: Instance, munich: Instance, alice: str, known: Snapshot) -> None:
    response = await deliver(munich, "alice", paris, follow(alice), tamper=_replace_signature)
    assert "invalid" in await refused(paris, known, response, 401)


async def test_forged_rfc9421_signature(
    paris: Instance, munich: Instance, alice: str, known: Snapshot
) -> None:
    def forge(request: httpx.Request) -> None:
        request.headers["signature"] = "sig1=:" + base64.b64encode(b"\x02" * 64).decode() + ":"

    response = await deliver(munich, "alice", paris, follow(alice), fmt="rfc9421", tamper=forge)
    await refused(paris, known, response, 401)


async def test_signed_with_the_wrong_key(
    paris: Instance, munich: Instance, alice: str, known: Snapshot
) -> None:
    other = generate_rsa_key()

    def resign(request: httpx.Request) -> None:
        request.headers["signature"] = cavage.sign(
            method="POST",
            url=str(request.url),
            headers=request.headers,
            key=other,
            key_id=f"{alice}#main-key",
            covered=cavage.POST_HEADERS,
        )

    response = await deliver(munich, "alice", paris, follow(alice), tamper=resign)
    await refused(paris, known, response, 401)


@pytest.mark.parametrize("fmt", ["cavage", "rfc9421"])
async def test_replayed_old_date(
    paris: Instance, munich: Instance, alice: str, known: Snapshot, fmt: str
) -> None:
    an_hour_ago = paris.clock.now() - timedelta(hours=1)
    response = await deliver(munich, "alice", paris, follow(alice), fmt=fmt, sign_at=an_hour_ago)  # type: ignore[arg-type]
    assert "stale" in await refused(paris, known, response, 401)


async def test_date_in_the_future(paris: Instance, munich: Instance, alice: str, known: Snapshot) -> None:
    later = paris.clock.now() + timedelta(hours=1)
    response = await deliver(munich, "alice", paris, follow(alice), sign_at=later)
    assert "future" in await refused(paris, known, response, 401)


async def test_missing_digest(paris: Instance, munich: Instance, alice: str, known: Snapshot) -> None:
    auth = await munich.signer("alice")

    def without_digest(request: httpx.Request) -> None:
        del request.headers["digest"]
        request.headers["signature"] = cavage.sign(
            method="POST",
            url=str(request.url),
            headers=request.headers,
            key=auth._rsa_key,
            key_id=f"{alice}#main-key",
            covered=cavage.GET_HEADERS,
        )

    response = await deliver(munich, "alice", paris, follow(alice), tamper=without_digest)
    assert "missing digest" in await refused(paris, known, response, 401)


async def test_wrong_digest(paris: Instance, munich: Instance, alice: str, known: Snapshot) -> None:
    def other_body(request: httpx.Request) -> None:
        body = json.dumps(follow(alice, 2)).encode()
        request.stream = httpx.ByteStream(body)
        request._content = body
        request.headers["content-length"] = str(len(body))

    response = await deliver(munich, "alice", paris, follow(alice), tamper=other_body)
    assert "digest mismatch" in await refused(paris, known, response, 401)


async def test_wrong_content_digest(paris: Instance, munich: Instance, alice: str, known: Snapshot) -> None:
    def other_digest(request: httpx.Request) -> None:
        request.headers["content-digest"] = "sha-256=:" + base64.b64encode(b"\0" * 32).decode() + ":"

    response = await deliver(munich, "alice", paris, follow(alice), fmt="rfc9421", tamper=other_digest)
    await refused(paris, known, response, 401)


async def test_unsigned_digest(paris: Instance, munich: Instance, alice: str, known: Snapshot) -> None:
    auth = await munich.signer("alice")

    def digest_not_covered(request: httpx.Request) -> None:
        request.headers["digest"] = digest_header(request.content)
        request.headers["signature"] = cavage.sign(
            method="POST",
            url=str(request.url),
            headers=request.headers,
            key=auth._rsa_key,
            key_id=f"{alice}#main-key",
            covered=cavage.GET_HEADERS,
        )

    response = await deliver(munich, "alice", paris, follow(alice), tamper=digest_not_covered)
    assert "not covered" in await refused(paris, known, response, 401)


async def test_missing_signature(paris: Instance, munich: Instance, alice: str, known: Snapshot) -> None:
    def unsigned(request: httpx.Request) -> None:
        del request.headers["signature"]

    response = await deliver(munich, "alice", paris, follow(alice), tamper=unsigned)
    assert "missing signature" in await refused(paris, known, response, 401)


async def test_actor_and_key_mismatch(paris: Instance, munich: Instance, alice: str, known: Snapshot) -> None:
    response = await deliver(munich, "mallory", paris, follow(alice))
    assert "not https://munich.example/users/alice" in await refused(paris, known, response, 401)


async def test_spoofed_object_id(paris: Instance, munich: Instance, alice: str, known: Snapshot) -> None:
    note = {"id": "https://paris.example/notes/1", "type": "Note", "attributedTo": alice, "content": "hi"}
    create = activity_doc(alice, "Create", note, id=f"{alice}/creates/1")
    response = await deliver(munich, "alice", paris, create)
    assert "origin" in await refused(paris, known, response, 400)


async def test_spoofed_activity_id(paris: Instance, munich: Instance, alice: str, known: Snapshot) -> None:
    spoofed = follow(alice) | {"id": "https://lyon.example/activities/1"}
    response = await deliver(munich, "alice", paris, spoofed)
    await refused(paris, known, response, 400)


async def test_created_object_attributed_to_someone_else(
    paris: Instance, munich: Instance, alice: str, known: Snapshot
) -> None:
    note = {"id": f"{alice}/notes/1", "type": "Note", "attributedTo": "https://munich.example/users/bob"}
    response = await deliver(munich, "alice", paris, activity_doc(alice, "Create", note))
    await refused(paris, known, response, 400)


async def test_oversized_body(paris: Instance, munich: Instance, alice: str, known: Snapshot) -> None:
    big = follow(alice) | {"padding": "x" * (1024 * 1024)}
    response = await deliver(munich, "alice", paris, big)
    await refused(paris, known, response, 413)


async def test_deeply_nested_body(paris: Instance, munich: Instance, alice: str, known: Snapshot) -> None:
    body = b'{"a":' * 5000 + b"1" + b"}" * 5000
    response = await deliver(munich, "alice", paris, {}, body=body)
    assert "deeper" in await refused(paris, known, response, 400)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'{"x": NaN}', b"\xff\xfe{}", b""],
    ids=["syntax", "array", "nan", "utf8", "empty"],
)
async def test_invalid_json(
    paris: Instance, munich: Instance, alice: str, known: Snapshot, body: bytes
) -> None:
    response = await deliver(munich, "alice", paris, {}, body=body)
    await refused(paris, known, response, 400)


async def test_unknown_context(paris: Instance, munich: Instance, alice: str, known: Snapshot) -> None:
    strange = follow(alice) | {"@context": [AS_CONTEXT, "https://evil.example/context.jsonld"]}
    response = await deliver(munich, "alice", paris, strange)
    assert "unknown @context" in await refused(paris, known, response, 400)


async def test_malformed_json_ld(paris: Instance, munich: Instance, alice: str, known: Snapshot) -> None:
    strange = follow(alice) | {"@context": [AS_CONTEXT, {"@version": 99}]}
    response = await deliver(munich, "alice", paris, strange)
    await refused(paris, known, response, 400)


async def test_activity_without_id_or_type(
    paris: Instance, munich: Instance, alice: str, known: Snapshot
) -> None:
    no_id = {k: v for k, v in follow(alice).items() if k != "id"}
    await refused(paris, known, await deliver(munich, "alice", paris, no_id), 400)
    no_type = {k: v for k, v in follow(alice).items() if k != "type"}
    await refused(paris, known, await deliver(munich, "alice", paris, no_type), 400)


async def test_wrong_content_type(paris: Instance, munich: Instance, alice: str, known: Snapshot) -> None:
    def as_form(request: httpx.Request) -> None:
        request.headers["content-type"] = "application/x-www-form-urlencoded"

    response = await deliver(munich, "alice", paris, follow(alice), tamper=as_form)
    await refused(paris, known, response, 415)


async def test_a_key_on_a_host_that_is_not_a_peer(
    paris: Instance, munich: Instance, alice: str, known: Snapshot
) -> None:
    auth = await munich.signer("alice")
    stranger = "https://stranger.example/users/eve"

    def stranger_key(request: httpx.Request) -> None:
        request.headers["signature"] = cavage.sign(
            method="POST",
            url=str(request.url),
            headers=request.headers,
            key=auth._rsa_key,
            key_id=f"{stranger}#main-key",
            covered=cavage.POST_HEADERS,
        )

    response = await deliver(munich, "alice", paris, follow(stranger), tamper=stranger_key)
    assert "not a peer" in await refused(paris, known, response, 403)


async def test_a_key_that_cannot_be_found(
    paris: Instance, munich: Instance, alice: str, known: Snapshot
) -> None:
    auth = await munich.signer("alice")

    def ghost_key(request: httpx.Request) -> None:
        request.headers["signature"] = cavage.sign(
            method="POST",
            url=str(request.url),
            headers=request.headers,
            key=auth._rsa_key,
            key_id="https://munich.example/users/ghost#main-key",
            covered=cavage.POST_HEADERS,
        )

    response = await deliver(munich, "alice", paris, follow(alice), tamper=ghost_key)
    assert "could not be fetched" in await refused(paris, known, response, 401)


async def test_unknown_types_are_accepted_and_ignored(
    paris: Instance, munich: Instance, alice: str, known: Snapshot
) -> None:
    odd = activity_doc(alice, "Dance", {"type": "Tango"}, id=f"{alice}/dances/1")
    response = await deliver(munich, "alice", paris, odd)
    assert response.status_code == 202
    await paris.settle()
    rows = await paris.inbox_rows()
    assert len(rows) == 3 and all((r.outcome or "").startswith("ignored") for r in rows)
    assert rows[-1].raw["type"] == "Dance" and rows[-1].outcome == "ignored"
    after = await paris.snapshot()
    assert after["actors"] == known["actors"] and after["keys"] == known["keys"]


async def test_html_with_scripts_is_stored_sanitised(paris: Instance, munich: Instance, alice: str) -> None:
    note = {
        "id": f"{alice}/notes/1",
        "type": "Note",
        "attributedTo": alice,
        "content": '<p onclick="steal()">Hi<script>alert(1)</script> <a href="javascript:x()">there</a></p>',
        "contentMap": {"en": "<p>Hi<script>alert(2)</script></p>"},
        "summary": "<img src=x onerror=alert(3)>",
    }
    response = await deliver(munich, "alice", paris, activity_doc(alice, "Create", note))
    assert response.status_code == 202
    [row] = await paris.inbox_rows()
    stored = json.dumps(row.raw)
    for bad in ("script", "alert", "onclick", "onerror", "javascript"):
        assert bad not in stored
    assert row.raw["object"]["content"].startswith("<p>Hi")
