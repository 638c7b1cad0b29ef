"""The sending charter's `redact` action, per destination: profile fields left out of the `Person` a peer
of another country fetches, media metadata left out of what a Group relays; each decision audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server.clock import FakeClock
from server.storage.compliance import AuditEntry
from server.storage.delivery_models import Delivery
from server.storage.social import Post
from tests.conftest import fresh_sqlite_url
from tests.federation.conftest import Instance, Router, _instance, activity_doc, deliver
from tests.federation.test_communities import community, settle, token

AS_JSON = {"Accept": "application/activity+json"}


@pytest.fixture(params=["sqlite", "postgresql"])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def lyon(
    request: pytest.FixtureRequest, tmp_path: Path, router: Router, clock: FakeClock, paris: Instance
) -> AsyncIterator[Instance]:
    """A third instance, in France like Paris."""
    url = fresh_sqlite_url(request.getfixturevalue("sqlite_template"), tmp_path)
    instance = await _instance("lyon.example", url, tmp_path, router, clock)
    yield instance
    await instance.fed.close()
    await instance.http.aclose()
    await instance.ctx.close()


def _fields(document: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in document.get("attachment", []) if f.get("type") == "PropertyValue"}


async def _audit(instance: Instance, action: str) -> list[AuditEntry]:
    async with instance.ctx.sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await session.execute(query)).scalars())


async def test_a_peer_abroad_gets_the_profile_without_the_fields_the_charter_redacts(
    paris: Instance, munich: Instance, lyon: Instance
) -> None:
    pierre = await token(paris, "pierre")
    profile = {
        "job_title": "Plant manager",
        "contact": {"phone": "+33 1 23 45 67 89", "email": "pierre@corp.example"},
        "visibility": {"phone": "network", "email": "network"},
    }
    changed = await paris.http.patch("/api/v1/profile", json=profile, headers=pierre)
    assert changed.status_code == 200, changed.text
    url = f"{paris.base}/users/pierre"

    from_munich = (
        await munich.ctx.http.get(url, headers=AS_JSON, auth=await munich.fed.instance_auth())
    ).json()
    assert _fields(from_munich) == {"Job title": "Plant manager", "Email": "pierre@corp.example"}
    assert from_munich["publicKey"]["owner"] == url  # keys are always there: signatures still verify

    from_lyon = (await lyon.ctx.http.get(url, headers=AS_JSON, auth=await lyon.fed.instance_auth())).json()
    assert _fields(from_lyon)["Phone"] == "+33 1 23 45 67 89"  # same country: no transfer, nothing removed
    unsigned = (await paris.http.get("/users/pierre", headers=AS_JSON)).json()
    assert _fields(unsigned)["Phone"] == "+33 1 23 45 67 89"  # what the network may see, as before

    [entry] = await _audit(paris, "redact")
    assert (entry.peer_domain, entry.article_id, entry.subject_kind, entry.subject) == (
        "munich.example",
        "6.1",
        "profile",
        url,
    )
    assert entry.details["redacted_fields"] == ["phone"]


async def test_a_relayed_post_leaves_without_its_location(paris: Instance, munich: Instance) -> None:
    pierre, alice_token = await token(paris, "pierre"), await token(munich, "alice")
    alice = f"{munich.base}/users/alice"
    await community(paris, pierre, "lean", "open")
    joined = await munich.http.post(
        "/api/v1/communities/remote", json={"handle": "lean@paris.example"}, headers=alice_token
    )
    assert joined.status_code == 202
    await settle(paris, munich)
    group = f"{paris.base}/c/lean"
    place = {"type": "Place", "name": "Werk 3", "latitude": 48.177, "longitude": 11.556}
    note = {
        "id": f"{alice}/notes/1",
        "type": "Note",
        "attributedTo": alice,
        "content": "<p>New press line</p>",
        "to": [group],
        "cc": [],
        "audience": group,
        "location": place,
        "attachment": [{"type": "Image", "url": f"{alice}/photo.jpg", "location": place}],
    }
    create = activity_doc(alice, "Create", note, id=f"{alice}/notes/1/create", to=[group], audience=group)
    assert (await deliver(munich, "alice", paris, create)).status_code == 202
    await paris.settle()

    async with paris.ctx.sessions() as session:
        stored = (await session.execute(select(Post).where(Post.uri == note["id"]))).scalar_one()
        [relayed] = (await session.execute(select(Delivery).where(Delivery.post_id == stored.id))).scalars()
    assert "location" not in str(relayed.payload) and "Werk 3" not in str(relayed.payload)
    inner = relayed.payload["object"]
    assert inner["object"]["content"] == "<p>New press line</p>"
    assert inner["object"]["attachment"] == [{"type": "Image", "url": f"{alice}/photo.jpg"}]
    [entry] = await _audit(paris, "redact")
    assert (entry.peer_domain, entry.article_id, entry.subject) == ("munich.example", "4.2", note["id"])
    assert entry.details["redacted_fields"] == ["location"]
