"""ActivityStreams constants, builders of the documents we serve, and helpers to read what peers send."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_V1_CONTEXT = "https://w3id.org/security/v1"
MULTIKEY_V1_CONTEXT = "https://w3id.org/security/multikey/v1"
DATA_INTEGRITY_V1_CONTEXT = "https://w3id.org/security/data-integrity/v1"
AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"

ACTIVITY_JSON = "application/activity+json"
LD_JSON_PROFILE = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
ACTIVITY_CONTENT_TYPES = frozenset({ACTIVITY_JSON, "application/ld+json"})
JRD_JSON = "application/jrd+json"

EXTENSION_TERMS: dict[str, Any] = {
    "sec": "https://w3id.org/security#",
    "schema": "http://schema.org#",
    "toot": "http://joinmastodon.org/ns#",
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "sensitive": "as:sensitive",
    "Hashtag": "as:Hashtag",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
    "discoverable": "toot:discoverable",
    "assertionMethod": {"@id": "sec:assertionMethod", "@type": "@id", "@container": "@set"},
}


def default_context() -> list[Any]:
    """Our standard ``@context``: a fresh list each call, so callers may extend it."""
    return [AS_CONTEXT, SECURITY_V1_CONTEXT, MULTIKEY_V1_CONTEXT, copy.deepcopy(EXTENSION_TERMS)]


def _actor(
    actor_type: str,
    *,
    id: str,
    username: str,
    inbox: str,
    outbox: str,
    followers: str,
    following: str,
    shared_inbox: str,
    public_key_pem: str,
    ed25519_multibase: str | None,
    name: str | None,
    summary: str | None,
    url: str | None,
    fields: Sequence[tuple[str, str]],
    manually_approves_followers: bool,
) -> dict[str, Any]:
    actor: dict[str, Any] = {
        "@context": default_context(),
        "id": id,
        "type": actor_type,
        "preferredUsername": username,
        "inbox": inbox,
        "outbox": outbox,
        "followers": followers,
        "following": following,
        "endpoints": {"sharedInbox": shared_inbox},
        "manuallyApprovesFollowers": manually_approves_followers,
        "publicKey": {"id": f"{id}#main-key", "owner": id, "publicKeyPem": public_key_pem},
    }
    if ed25519_multibase is not None:
        actor["assertionMethod"] = [
            {
                "id": f"{id}#ed25519-key",
                "type": "Multikey",
                "controller": id,
                "publicKeyMultibase": ed25519_multibase,
            }
        ]
    for key, value in (("name", name), ("summary", summary), ("url", url)):
        if value is not None:
            actor[key] = value
    if fields:
        actor["attachment"] = [{"type": "PropertyValue", "name": n, "value": v} for n, v in fields]
    return actor


def person_actor(
    *,
    id: str,
    username: str,
    inbox: str,
    outbox: str,
    followers: str,
    following: str,
    shared_inbox: str,
    public_key_pem: str,
    ed25519_multibase: str | None = None,
    name: str | None = None,
    summary: str | None = None,
    url: str | None = None,
    fields: Sequence[tuple[str, str]] = (),
    manually_approves_followers: bool = False,
) -> dict[str, Any]:
    return _actor(
        "Person",
        id=id,
        username=username,
        inbox=inbox,
        outbox=outbox,
        followers=followers,
        following=following,
        shared_inbox=shared_inbox,
        public_key_pem=public_key_pem,
        ed25519_multibase=ed25519_multibase,
        name=name,
        summary=summary,
        url=url,
        fields=fields,
        manually_approves_followers=manually_approves_followers,
    )


def group_actor(
    *,
    id: str,
    username: str,
    inbox: str,
    outbox: str,
    followers: str,
    following: str,
    shared_inbox: str,
    moderators: str,
    public_key_pem: str,
    ed25519_multibase: str | None = None,
    name: str | None = None,
    summary: str | None = None,
    url: str | None = None,
    manually_approves_followers: bool = False,
) -> dict[str, Any]:
    """A FEP-1b12 community: ``attributedTo`` names the moderators collection; it is its own audience."""
    actor = _actor(
        "Group",
        id=id,
        username=username,
        inbox=inbox,
        outbox=outbox,
        followers=followers,
        following=following,
        shared_inbox=shared_inbox,
        public_key_pem=public_key_pem,
        ed25519_multibase=ed25519_multibase,
        name=name,
        summary=summary,
        url=url,
        fields=(),
        manually_approves_followers=manually_approves_followers,
    )
    actor["attributedTo"] = moderators
    return actor


def application_actor(
    *,
    id: str,
    username: str,
    inbox: str,
    outbox: str,
    followers: str,
    following: str,
    shared_inbox: str,
    public_key_pem: str,
    ed25519_multibase: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The instance actor, used to sign fetches made on behalf of the server itself."""
    return _actor(
        "Application",
        id=id,
        username=username,
        inbox=inbox,
        outbox=outbox,
        followers=followers,
        following=following,
        shared_inbox=shared_inbox,
        public_key_pem=public_key_pem,
        ed25519_multibase=ed25519_multibase,
        name=name,
        summary=None,
        url=None,
        fields=(),
        manually_approves_followers=True,
    )


def activity(
    type: str,
    actor: str,
    object: str | dict[str, Any],
    *,
    id: str,
    to: Sequence[str] = (),
    cc: Sequence[str] = (),
    audience: str | None = None,
    published: str | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": default_context(),
        "id": id,
        "type": type,
        "actor": actor,
        "object": object,
    }
    if to:
        doc["to"] = list(to)
    if cc:
        doc["cc"] = list(cc)
    if audience is not None:
        doc["audience"] = audience
    if published is not None:
        doc["published"] = published
    return doc


def ordered_collection(
    id: str,
    *,
    total_items: int,
    first: str | None = None,
    last: str | None = None,
    ordered_items: Sequence[str | dict[str, Any]] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": default_context(),
        "id": id,
        "type": "OrderedCollection",
        "totalItems": total_items,
    }
    if first is not None:
        doc["first"] = first
    if last is not None:
        doc["last"] = last
    if ordered_items is not None:
        doc["orderedItems"] = list(ordered_items)
    return doc


def ordered_collection_page(
    id: str,
    *,
    part_of: str,
    ordered_items: Sequence[str | dict[str, Any]],
    next: str | None = None,
    prev: str | None = None,
    total_items: int | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": default_context(),
        "id": id,
        "type": "OrderedCollectionPage",
        "partOf": part_of,
        "orderedItems": list(ordered_items),
    }
    for key, value in (("next", next), ("prev", prev), ("totalItems", total_items)):
        if value is not None:
            doc[key] = value
    return doc


def id_of(value: object) -> str | None:
    """The id of a reference: a string, or an object with a string ``id``."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        inner = value.get("id")
        return inner if isinstance(inner, str) and inner else None
    return None


def ids_of(value: object) -> list[str]:
    """Ids of an addressing field (``to``, ``cc``...): a string, an object, or a list of those."""
    items = value if isinstance(value, list) else [value]
    return [i for i in (id_of(item) for item in items) if i is not None]


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` (lowercase, default port omitted), or None for a URL without one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def same_origin(a: str, b: str) -> bool:
    first = origin(a)
    return first is not None and first == origin(b)
