"""Remote actors and their public keys: read from peers' documents, cached in the database and in memory.

A key is found by its ``keyId``. The memory cache (bounded, with a short lifetime so that an ``Update`` or a
``Delete`` handled by another process is seen soon) answers the hot path of the inbox with no database
query; then the ``actor_keys`` table; then a signed GET of the key's document, which is the actor itself
(``#main-key`` fragments) or a key object naming its ``owner``/``controller``. Concurrent lookups of the
same unknown key share one fetch. A refetch (key rotation) is allowed once per key per minute, so forged
signatures cannot make us hammer a peer.

An actor document is accepted only when its ``id`` has the origin it was fetched from and every key it
lists is owned by it and has its origin.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.exc import IntegrityError

from server.activitypub import keys
from server.activitypub.vocabulary import id_of, same_origin
from server.context import Context
from server.federation.fetch import Fetcher, netloc_of
from server.federation.sanitize import clean_html
from server.storage import federation as store

logger = logging.getLogger(__name__)

ACTOR_TYPES = frozenset({"Person", "Group", "Application", "Service", "Organization"})
_CACHE_SECONDS = 300.0
_CACHE_SIZE = 10_000
_REFRESH_INTERVAL = 60.0


@dataclass(frozen=True, slots=True)
class KeyFound:
    key_id: str
    actor_uri: str
    domain: str
    public_key: keys.PublicKey


@dataclass(frozen=True, slots=True)
class KeyMissing:
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedActor:
    fields: store.RemoteActorFields
    keys: tuple[store.RemoteKey, ...]


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _url(value: Any) -> str | None:
    found = id_of(value) if not isinstance(value, list) else (id_of(value[0]) if value else None)
    if isinstance(value, dict) and value.get("type") == "Link":
        found = value.get("href") if isinstance(value.get("href"), str) else None
    return found if found is not None and len(found) <= 2048 and netloc_of(found) else None


def _keys_of(doc: dict[str, Any], actor_id: str) -> list[store.RemoteKey] | str:
    found: list[store.RemoteKey] = []
    public = doc.get("publicKey")
    for entry in public if isinstance(public, list) else [public]:
        if not isinstance(entry, dict) or not isinstance(entry.get("publicKeyPem"), str):
            continue
        key_id, owner = entry.get("id"), id_of(entry.get("owner"))
        if not isinstance(key_id, str) or owner != actor_id or not same_origin(key_id, actor_id):
            return f"key {key_id!r} is not owned by {actor_id}"
        try:
            key = keys.load_public_key_pem(entry["publicKeyPem"])
        except keys.InvalidKeyError as exc:
            return str(exc)
        algorithm = "rsa" if not isinstance(key, ed25519.Ed25519PublicKey) else "ed25519"
        found.append(store.RemoteKey(key_id, algorithm, keys.public_key_to_pem(key)))
    methods = doc.get("assertionMethod")
    for entry in methods if isinstance(methods, list) else [methods]:
        if not isinstance(entry, dict) or not isinstance(entry.get("publicKeyMultibase"), str):
            continue
        key_id, owner = entry.get("id"), id_of(entry.get("controller"))
        if not isinstance(key_id, str) or owner != actor_id or not same_origin(key_id, actor_id):
            return f"key {key_id!r} is not controlled by {actor_id}"
        try:
            key = keys.multibase_to_public_key(entry["publicKeyMultibase"])
        except keys.InvalidKeyError as exc:
            return str(exc)
        algorithm = "rsa" if not isinstance(key, ed25519.Ed25519PublicKey) else "ed25519"
        found.append(store.RemoteKey(key_id, algorithm, keys.public_key_to_pem(key)))
    if any(len(k.key_id) > 2048 for k in found):
        return "key id too long"
    return found


def parse_actor(doc: dict[str, Any], fetched_from: str, jurisdiction: str | None) -> ParsedActor | str:
    """An actor document fetched from `fetched_from`, checked; a reason string when refused."""
    actor_id = doc.get("id")
    if not isinstance(actor_id, str) or len(actor_id) > 2048 or not same_origin(actor_id, fetched_from):
        return "actor id missing or not of the origin it was fetched from"
    if doc.get("type") not in ACTOR_TYPES:
        return f"not an actor: {doc.get('type')!r}"
    domain = netloc_of(actor_id)
    inbox = _url(doc.get("inbox"))
    if domain is None or inbox is None:
        return "actor without a usable inbox"
    found = _keys_of(doc, actor_id)
    if isinstance(found, str):
        return found
    endpoints = doc.get("endpoints")
    shared = _url(endpoints.get("sharedInbox")) if isinstance(endpoints, dict) else None
    username = _text(doc.get("preferredUsername"), 255) or actor_id.rstrip("/").rsplit("/", 1)[-1][:255]
    fields = store.RemoteActorFields(
        uri=actor_id,
        kind=str(doc["type"]),
        domain=domain,
        username=username,
        display_name=_text(doc.get("name"), 200) or username[:200],
        summary=clean_html(_text(doc.get("summary"), 20_000)),
        url=_url(doc.get("url")),
        inbox_url=inbox,
        outbox_url=_url(doc.get("outbox")),
        shared_inbox_url=shared,
        followers_url=_url(doc.get("followers")),
        avatar_url=_url(doc.get("icon")),
        manually_approves=doc.get("manuallyApprovesFollowers") is True,
        jurisdiction=jurisdiction,
        raw=doc,
    )
    return ParsedActor(fields, tuple(found))


class RemoteActors:
    def __init__(self, ctx: Context, fetcher: Fetcher) -> None:
        self._ctx = ctx
        self._fetcher = fetcher
        self._cache: OrderedDict[str, tuple[KeyFound, float]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[KeyFound | KeyMissing]] = {}
        self._refreshed: dict[str, float] = {}

    def forget(self, actor_uri: str) -> None:
        for key_id in [k for k, (found, _) in self._cache.items() if found.actor_uri == actor_uri]:
            del self._cache[key_id]

    def may_refresh(self, key_id: str) -> bool:
        last = self._refreshed.get(key_id)
        return last is None or time.monotonic() - last > _REFRESH_INTERVAL

    async def key(self, key_id: str, *, refresh: bool = False) -> KeyFound | KeyMissing:
        if not refresh:
            cached = self._cache.get(key_id)
            if cached is not None and cached[1] > time.monotonic():
                return cached[0]
            async with self._ctx.sessions() as session:
                stored = await store.get_key(session, key_id)
            if stored is not None:
                return self._remember(
                    KeyFound(
                        key_id,
                        stored.actor_uri,
                        stored.actor_domain,
                        keys.load_public_key_pem(stored.public_pem),
                    )
                )
        else:
            self._refreshed[key_id] = time.monotonic()
            self._cache.pop(key_id, None)
        task = self._inflight.get(key_id)
        if task is None:
            task = asyncio.create_task(self._fetch_key(key_id))
            self._inflight[key_id] = task
            task.add_done_callback(lambda _: self._inflight.pop(key_id, None))
        return await asyncio.shield(task)

    def _remember(self, found: KeyFound) -> KeyFound:
        self._cache[found.key_id] = (found, time.monotonic() + _CACHE_SECONDS)
        self._cache.move_to_end(found.key_id)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return found

    async def _fetch_key(self, key_id: str) -> KeyFound | KeyMissing:
        document_url = key_id.split("#", 1)[0]
        fetched = await self._fetcher.get_document(document_url)
        if not fetched.ok or fetched.document is None:
            return KeyMissing(f"key {key_id} could not be fetched: {fetched.reason}")
        doc = fetched.document
        if doc.get("type") not in ACTOR_TYPES:
            owner = id_of(doc.get("owner")) or id_of(doc.get("controller"))
            if owner is None or not same_origin(owner, key_id):
                return KeyMissing(f"key {key_id} names no owner of its origin")
            document_url = owner
            fetched = await self._fetcher.get_document(owner)
            if not fetched.ok or fetched.document is None:
                return KeyMissing(f"owner of {key_id} could not be fetched: {fetched.reason}")
            doc = fetched.document
        stored = await self.store_actor(doc, document_url)
        if isinstance(stored, str):
            return KeyMissing(stored)
        for key in stored.keys:
            if key.key_id == key_id:
                public = keys.load_public_key_pem(key.public_pem)
                return self._remember(KeyFound(key_id, stored.fields.uri, stored.fields.domain, public))
        return KeyMissing(f"actor {stored.fields.uri} does not list key {key_id}")

    async def store_actor(self, doc: dict[str, Any], fetched_from: str) -> ParsedActor | str:
        """Check and save an actor document; a reason string when refused."""
        domain = netloc_of(fetched_from) or ""
        peer = self._ctx.settings.peer(domain)
        parsed = parse_actor(doc, fetched_from, peer.jurisdiction if peer else None)
        if isinstance(parsed, str):
            logger.info("actor from %s refused: %s", domain, parsed)
            return parsed
        now = self._ctx.clock.now()
        try:
            async with self._ctx.transaction() as session:
                existing = await store.get_actor_by_uri(session, parsed.fields.uri)
                if existing is not None and existing.local:
                    return "actor id is a local actor"
                await store.upsert_remote_actor(session, parsed.fields, parsed.keys, now)
        except IntegrityError:
            logger.info("actor %s was stored concurrently; keeping that copy", parsed.fields.uri)
        self.forget(parsed.fields.uri)
        return parsed

    async def refresh_actor(self, uri: str) -> ParsedActor | str:
        fetched = await self._fetcher.get_document(uri)
        if not fetched.ok or fetched.document is None:
            return f"actor {uri} could not be fetched: {fetched.reason}"
        return await self.store_actor(fetched.document, uri)
