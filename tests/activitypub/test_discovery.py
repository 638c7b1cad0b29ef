from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from server.activitypub.discovery import (
    NODEINFO_21_SCHEMA,
    WebFingerFailure,
    WebFingerResource,
    host_meta,
    jrd,
    nodeinfo_21,
    nodeinfo_links,
    parse_webfinger_resource,
)

DOMAINS = {"a.example", "localhost:8000"}


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("acct:alice@a.example", WebFingerResource("acct", "a.example", "alice")),
        ("acct:alice@A.Example", WebFingerResource("acct", "a.example", "alice")),
        ("alice@a.example", WebFingerResource("acct", "a.example", "alice")),
        ("acct:bob@localhost:8000", WebFingerResource("acct", "localhost:8000", "bob")),
        (
            "https://a.example/users/alice",
            WebFingerResource("url", "a.example", None, "https://a.example/users/alice"),
        ),
    ],
)
def test_resources_of_ours_parse(resource: str, expected: WebFingerResource) -> None:
    assert parse_webfinger_resource(resource, local_domains=DOMAINS) == expected


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (None, WebFingerFailure("missing resource", 400)),
        ("", WebFingerFailure("missing resource", 400)),
        ("acct:alice", WebFingerFailure("malformed resource", 400)),
        ("acct:@a.example", WebFingerFailure("malformed resource", 400)),
        ("acct:alice@", WebFingerFailure("malformed resource", 400)),
        ("acct:a/b@a.example", WebFingerFailure("malformed resource", 400)),
        ("acct:a@b@a.example", WebFingerFailure("malformed resource", 400)),
        ("https://a.example:bad/x", WebFingerFailure("malformed resource", 400)),
        ("acct:alice@b.example", WebFingerFailure("resource is not on this server", 404)),
        ("https://b.example/users/alice", WebFingerFailure("resource is not on this server", 404)),
    ],
)
def test_bad_resources_give_reason_and_status(resource: str | None, expected: WebFingerFailure) -> None:
    assert parse_webfinger_resource(resource, local_domains=DOMAINS) == expected


def test_jrd_links_self_and_profile_page() -> None:
    doc = jrd(
        "acct:alice@a.example",
        actor_url="https://a.example/users/alice",
        profile_url="https://a.example/@alice",
        aliases=["https://a.example/users/alice"],
    )
    assert doc["subject"] == "acct:alice@a.example"
    assert doc["aliases"] == ["https://a.example/users/alice"]
    assert doc["links"] == [
        {"rel": "self", "type": "application/activity+json", "href": "https://a.example/users/alice"},
        {
            "rel": "http://webfinger.net/rel/profile-page",
            "type": "text/html",
            "href": "https://a.example/@alice",
        },
    ]


def test_nodeinfo_21_document() -> None:
    doc = nodeinfo_21(
        version="0.1.0",
        open_registrations=False,
        users_total=10,
        users_active_month=4,
        users_active_halfyear=7,
        local_posts=99,
        metadata={"jurisdiction": "FR", "charterVersion": "2025-01"},
    )
    assert doc["version"] == "2.1"
    assert doc["software"] == {"name": "cercle", "version": "0.1.0"}
    assert doc["protocols"] == ["activitypub"]
    assert doc["services"] == {"inbound": [], "outbound": []}
    assert doc["usage"] == {"users": {"total": 10, "activeMonth": 4, "activeHalfyear": 7}, "localPosts": 99}
    assert doc["metadata"]["jurisdiction"] == "FR"
    assert doc["openRegistrations"] is False


def test_nodeinfo_links_and_host_meta() -> None:
    assert nodeinfo_links("https://a.example/nodeinfo/2.1") == {
        "links": [{"rel": NODEINFO_21_SCHEMA, "href": "https://a.example/nodeinfo/2.1"}]
    }
    root = ET.fromstring(host_meta("https://a.example/"))
    link = root.find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link is not None
    assert link.get("rel") == "lrdd"
    assert link.get("template") == "https://a.example/.well-known/webfinger?resource={uri}"
