"""Actor documents, content negotiation, collections and authorized fetch of secret communities."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from server.activitypub.keys import load_public_key_pem, multibase_to_public_key
from server.storage.social import Profile
from tests.federation.conftest import Instance

AS_JSON = "application/activity+json"
LD_JSON = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


async def fetch_signed(sender: Instance, target: Instance, path: str) -> Any:
    """A GET signed as `sender`'s instance actor (the way peers fetch)."""
    auth = await sender.fed.instance_auth()
    request = target.http.build_request("GET", f"{target.base}{path}", headers={"Accept": AS_JSON})
    assert auth is not None
    flow = auth.auth_flow(request)
    signed = next(flow)
    return await target.http.send(signed)


@pytest.mark.parametrize("accept", [AS_JSON, LD_JSON, "application/json"])
async def test_a_person_as_activitystreams(paris: Instance, accept: str) -> None:
    await paris.add_user("bob", "Bob <b>Dupont</b>")
    response = await paris.http.get("/users/bob", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == AS_JSON and response.headers["vary"] == "Accept"
    doc = response.json()
    base = "https://paris.example/users/bob"
    assert doc["type"] == "Person" and doc["id"] == base and doc["preferredUsername"] == "bob"
    assert doc["name"] == "Bob <b>Dupont</b>"
    assert (doc["inbox"], doc["outbox"]) == (f"{base}/inbox", f"{base}/outbox")
    assert (doc["followers"], doc["following"]) == (f"{base}/followers", f"{base}/following")
    assert doc["endpoints"]["sharedInbox"] == "https://paris.example/inbox"
    assert doc["manuallyApprovesFollowers"] is False
    rsa_key = load_public_key_pem(doc["publicKey"]["publicKeyPem"])
    assert isinstance(rsa_key, rsa.RSAPublicKey) and rsa_key.key_size == 2048
    assert doc["publicKey"]["owner"] == base
    [method] = doc["assertionMethod"]
    assert method["type"] == "Multikey" and method["controller"] == base
    assert isinstance(multibase_to_public_key(method["publicKeyMultibase"]), ed25519.Ed25519PublicKey)


async def test_browsers_get_a_page_with_escaped_text(paris: Instance) -> None:
    await paris.add_user("bob", "Bob <script>x</script>")
    response = await paris.http.get("/users/bob", headers={"Accept": BROWSER})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "Bob &lt;script&gt;" in response.text and "<script>" not in response.text
    assert "@bob@paris.example" in response.text
    assert (await paris.http.get("/users/bob")).headers["content-type"].startswith("text/html")


async def test_unknown_actors_are_404(paris: Instance) -> None:
    for path in ("/users/nobody", "/c/nothing", "/users/nobody/followers"):
        assert (await paris.http.get(path, headers={"Accept": AS_JSON})).status_code == 404


async def test_a_closed_community_is_a_group_that_approves_followers(paris: Instance) -> None:
    bob = await paris.add_user("bob")
    await paris.add_community("jazz", "closed", members=[bob.uri])
    doc = (await paris.http.get("/c/jazz", headers={"Accept": AS_JSON})).json()
    assert doc["type"] == "Group" and doc["manuallyApprovesFollowers"] is True
    assert doc["attributedTo"] == "https://paris.example/c/jazz/moderators"
    assert doc["summary"] == "The jazz community"
    moderators = (await paris.http.get("/c/jazz/moderators", headers={"Accept": AS_JSON})).json()
    assert moderators["orderedItems"] == [bob.uri] and moderators["totalItems"] == 1
    followers = (await paris.http.get("/c/jazz/followers", headers={"Accept": AS_JSON})).json()
    assert followers["type"] == "OrderedCollection" and followers["totalItems"] == 1
    page = (await paris.http.get("/c/jazz/followers?page=1", headers={"Accept": AS_JSON})).json()
    assert page["type"] == "OrderedCollectionPage" and page["orderedItems"] == []
    assert page["partOf"] == "https://paris.example/c/jazz/followers"


async def test_the_instance_actor_is_an_application(paris: Instance) -> None:
    doc = (await paris.http.get("/actor", headers={"Accept": AS_JSON})).json()
    assert doc["type"] == "Application" and doc["id"] == "https://paris.example/actor"
    assert doc["publicKey"]["id"] == "https://paris.example/actor#main-key"
    outbox = (await paris.http.get("/actor/outbox", headers={"Accept": AS_JSON})).json()
    assert outbox["totalItems"] == 0 and outbox["first"] == "https://paris.example/actor/outbox?page=1"


async def test_a_secret_community_is_found_only_by_an_instance_with_a_member(
    paris: Instance, munich: Instance, alice: str
) -> None:
    await paris.add_community("board", "secret")
    assert (await paris.http.get("/c/board", headers={"Accept": AS_JSON})).status_code == 404
    assert (await fetch_signed(munich, paris, "/c/board")).status_code == 404
    # Paris learns about Alice, and Alice becomes a member of a second secret community.
    alice_doc = await fetch_signed(paris, munich, "/users/alice")
    assert alice_doc.status_code == 200
    await paris.fed.actors.store_actor(alice_doc.json(), alice)
    await paris.add_community("council", "secret", members=[alice])
    allowed = await fetch_signed(munich, paris, "/c/council")
    assert allowed.status_code == 200 and allowed.json()["type"] == "Group"
    assert (await fetch_signed(munich, paris, "/c/council/moderators")).status_code == 200
    assert (await paris.http.get("/c/council/followers", headers={"Accept": AS_JSON})).status_code == 404


async def test_a_bad_signature_on_a_get_is_refused(paris: Instance, munich: Instance) -> None:
    await paris.add_user("bob")
    response = await paris.http.get(
        "/users/bob",
        headers={
            "Accept": AS_JSON,
            "Signature": 'keyId="https://munich.example/actor#main-key",headers="(request-target) host date",'
            'signature="AAAA"',
            "Date": "Mon, 05 Jan 2026 09:00:00 GMT",
        },
    )
    assert response.status_code == 401
    stranger = await paris.http.get(
        "/users/bob",
        headers={"Accept": AS_JSON, "Signature": 'keyId="https://evil.example/a#k",signature="AAAA"'},
    )
    assert stranger.status_code == 403


async def test_profile_fields_are_published_only_when_visible_to_the_network(paris: Instance) -> None:
    bob = await paris.add_user("bob", "Bob")
    async with paris.ctx.transaction() as session:
        profile = await session.get(Profile, bob.id)
        assert profile is not None
        profile.job_title = "Welder"
        profile.department = "Hidden department"
        profile.expertise = ["arc welding", "tig"]
        profile.contact = {"phone": "+33 1 23 45 67 89"}
        profile.visibility = {"department": "instance", "phone": "instance"}
    doc = (await paris.http.get("/users/bob", headers={"Accept": AS_JSON})).json()
    fields = {item["name"]: item["value"] for item in doc["attachment"]}
    assert fields == {"Job title": "Welder", "Expertise": "arc welding, tig"}
    assert all(item["type"] == "PropertyValue" for item in doc["attachment"])
    page = await paris.http.get("/users/bob", headers={"Accept": BROWSER})
    assert "Welder" in page.text and "Hidden department" not in page.text and "+33" not in page.text
