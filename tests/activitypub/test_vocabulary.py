from __future__ import annotations

import pytest

from server.activitypub.vocabulary import (
    AS_CONTEXT,
    AS_PUBLIC,
    activity,
    application_actor,
    default_context,
    group_actor,
    id_of,
    ids_of,
    ordered_collection,
    ordered_collection_page,
    origin,
    person_actor,
    same_origin,
)

BASE = "https://a.example/users/alice"
URLS = {
    "inbox": f"{BASE}/inbox",
    "outbox": f"{BASE}/outbox",
    "followers": f"{BASE}/followers",
    "following": f"{BASE}/following",
    "shared_inbox": "https://a.example/inbox",
}


def test_person_actor_carries_both_keys_and_profile_fields() -> None:
    actor = person_actor(
        id=BASE,
        username="alice",
        public_key_pem="PEM",
        ed25519_multibase="z6Mkx",
        name="Alice",
        fields=[("Team", "Payments")],
        **URLS,
    )
    assert actor["type"] == "Person"
    assert actor["@context"][0] == AS_CONTEXT
    assert actor["publicKey"] == {"id": f"{BASE}#main-key", "owner": BASE, "publicKeyPem": "PEM"}
    assert actor["assertionMethod"] == [
        {"id": f"{BASE}#ed25519-key", "type": "Multikey", "controller": BASE, "publicKeyMultibase": "z6Mkx"}
    ]
    assert actor["endpoints"] == {"sharedInbox": "https://a.example/inbox"}
    assert actor["attachment"] == [{"type": "PropertyValue", "name": "Team", "value": "Payments"}]
    assert actor["inbox"] == f"{BASE}/inbox"


def test_group_actor_names_its_moderators_and_approval() -> None:
    group = group_actor(
        id=BASE,
        username="payments",
        public_key_pem="PEM",
        moderators=f"{BASE}/moderators",
        manually_approves_followers=True,
        **URLS,
    )
    assert (group["type"], group["attributedTo"], group["manuallyApprovesFollowers"]) == (
        "Group",
        f"{BASE}/moderators",
        True,
    )
    assert "assertionMethod" not in group


def test_application_actor() -> None:
    app = application_actor(id="https://a.example/actor", username="a.example", public_key_pem="PEM", **URLS)
    assert app["type"] == "Application"
    assert app["publicKey"]["owner"] == "https://a.example/actor"


def test_activity_and_collections() -> None:
    act = activity(
        "Create",
        BASE,
        {"id": "https://a.example/n/1", "type": "Note"},
        id="https://a.example/a/1",
        to=[AS_PUBLIC],
        cc=[f"{BASE}/followers"],
        audience="https://b.example/c/g",
    )
    assert (act["to"], act["cc"], act["audience"]) == (
        [AS_PUBLIC],
        [f"{BASE}/followers"],
        "https://b.example/c/g",
    )
    assert "bcc" not in act
    coll = ordered_collection(f"{BASE}/outbox", total_items=3, first=f"{BASE}/outbox?page=1")
    assert (coll["type"], coll["totalItems"], coll["first"]) == (
        "OrderedCollection",
        3,
        f"{BASE}/outbox?page=1",
    )
    page = ordered_collection_page(
        f"{BASE}/outbox?page=1", part_of=f"{BASE}/outbox", ordered_items=["x"], next=f"{BASE}/outbox?page=2"
    )
    assert (page["partOf"], page["orderedItems"], page["next"]) == (
        f"{BASE}/outbox",
        ["x"],
        f"{BASE}/outbox?page=2",
    )
    assert "prev" not in page


def test_default_context_is_a_fresh_copy() -> None:
    first = default_context()
    first[3]["sensitive"] = "mutated"
    assert default_context()[3]["sensitive"] == "as:sensitive"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://x/1", "https://x/1"),
        ({"id": "https://x/1", "type": "Note"}, "https://x/1"),
        ({"type": "Note"}, None),
        ("", None),
        (None, None),
        (3, None),
    ],
)
def test_id_of(value: object, expected: str | None) -> None:
    assert id_of(value) == expected


def test_ids_of_accepts_strings_objects_and_lists() -> None:
    assert ids_of(AS_PUBLIC) == [AS_PUBLIC]
    assert ids_of([AS_PUBLIC, {"id": "https://x/f"}, 7, None]) == [AS_PUBLIC, "https://x/f"]
    assert ids_of(None) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://A.Example/users/alice", "https://a.example"),
        ("https://a.example:443/x", "https://a.example"),
        ("http://a.example:8080/x", "http://a.example:8080"),
        ("ftp://a.example/x", None),
        ("not a url", None),
        ("https://a.example:99999/", None),
    ],
)
def test_origin(url: str, expected: str | None) -> None:
    assert origin(url) == expected


def test_same_origin() -> None:
    assert same_origin("https://a.example/users/alice", "https://A.EXAMPLE:443/notes/1")
    assert not same_origin("https://a.example/x", "https://a.example.evil/x")
    assert not same_origin("https://a.example/x", "http://a.example/x")
    assert not same_origin("junk", "junk")
