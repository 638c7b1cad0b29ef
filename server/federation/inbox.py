"""The inbox endpoints (per actor and shared): verify, persist, answer 202, process later.

Checks run in this order, each failure a 4xx problem+json with nothing stored:

1. the target actor exists (per-actor inboxes; 404), the content type is JSON (415);
2. the body fits ``inbox_max_bytes`` (413; read in chunks and cut off, never buffered past the limit);
3. the body is UTF-8 JSON, an object, nested at most ``inbox_max_depth`` deep (400);
4. the HTTP signature (see ``authentication``): present, key fetched, ``Date`` in the window, digest
   present, signed and matching, signature valid (401; 403 for a keyId outside the allowlist);
5. JSON-LD: usual contexts pass as they are, others are expanded and compacted, unknown remote contexts
   are refused (400);
6. the activity has a type, an id, an actor; the key's owner is the actor (401); the activity id and any
   embedded object's id share the actor's origin (400; ``Announce``, ``Accept`` and ``Reject`` may embed
   another origin's object, which is only ever read as a reference or fetched from its origin);
7. the actor's domain is a peer we federate with (403).

Then the activity, its HTML cleaned, is inserted once by id (a redelivery answers 202 and changes
nothing), the 202 goes out, and the row id is queued for processing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from server.activitypub.jsonld import normalize_document
from server.activitypub.limits import parse_json_body
from server.activitypub.vocabulary import id_of, same_origin
from server.federation.authentication import Refusal, Signer, authenticate_request
from server.federation.fetch import netloc_of, peer_allowed
from server.federation.negotiation import problem_response
from server.federation.processing import type_of
from server.federation.sanitize import sanitize_object
from server.federation.state import federation_of
from server.services.actors import GROUP, PERSON
from server.storage import federation as store

logger = logging.getLogger(__name__)

JSON_TYPES = frozenset({"application/activity+json", "application/ld+json", "application/json"})
FOREIGN_OBJECT_ALLOWED = frozenset({"Announce", "Accept", "Reject"})
MAX_URI = 2048


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def check_activity(activity: dict[str, Any], signer: Signer) -> Refusal | None:
    """The checks of step 6: shape, key owner, origins."""
    kind = type_of(activity)
    activity_id, actor = activity.get("id"), id_of(activity.get("actor"))
    if kind is None:
        return Refusal(400, "invalid-activity", "activity has no type")
    if not isinstance(activity_id, str) or len(activity_id) > MAX_URI or netloc_of(activity_id) is None:
        return Refusal(400, "invalid-activity", "activity has no usable id")
    if actor is None or isinstance(activity.get("actor"), list) or len(actor) > MAX_URI:
        return Refusal(400, "invalid-activity", "activity has no single actor")
    if actor != signer.actor_uri:
        return Refusal(401, "actor-mismatch", f"the signing key belongs to {signer.actor_uri}, not {actor}")
    if not same_origin(activity_id, actor):
        return Refusal(400, "spoofed-id", "activity id does not have the actor's origin")
    obj = activity.get("object")
    if isinstance(obj, dict) and kind not in FOREIGN_OBJECT_ALLOWED:
        object_id = id_of(obj)
        if object_id is not None and not same_origin(object_id, actor):
            return Refusal(400, "spoofed-id", "embedded object id does not have the actor's origin")
        author = id_of(obj.get("attributedTo"))
        if kind == "Create" and author is not None and author != actor:
            return Refusal(400, "spoofed-id", "created object is attributed to someone else")
    return None


async def _target_exists(request: Request) -> bool:
    fed = federation_of(request)
    params = request.path_params
    if "name" in params:
        kind, name = PERSON, params["name"]
    elif "slug" in params:
        kind, name = GROUP, params["slug"]
    else:
        return True
    async with fed.ctx.sessions() as session:
        return await store.get_local_actor(session, fed.ctx.settings.domain, name.lower(), kind) is not None


def _refuse(refusal: Refusal, peer: str | None = None) -> Response:
    logger.info("inbox refused from %s: %s", peer or "unknown peer", refusal.detail)
    return problem_response(refusal.status, refusal.code, refusal.detail)


async def inbox(request: Request) -> Response:
    """The inbox endpoint; every refusal is also counted by reason for `/metrics`."""
    response = await _inbox(request)
    if response.status_code >= 400:
        try:
            reason = str(json.loads(bytes(response.body)).get("type", "")).rsplit("/", 1)[-1]
        except ValueError:
            reason = str(response.status_code)
        request.app.state.metrics.count_inbox_reject(reason or str(response.status_code))
    return response


async def _inbox(request: Request) -> Response:
    fed = federation_of(request)
    settings = fed.ctx.settings
    if not await _target_exists(request):
        return problem_response(404, "not-found", "no such inbox")
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES:
        return problem_response(415, "unsupported-media-type", "send application/activity+json")
    try:
        body = await read_body(request, settings.inbox_max_bytes)
    except ClientDisconnect:
        return problem_response(400, "bad-request", "the request body was not received")
    if body is None:
        return problem_response(413, "too-large", f"body larger than {settings.inbox_max_bytes} bytes")
    parsed = parse_json_body(body, max_bytes=settings.inbox_max_bytes, max_depth=settings.inbox_max_depth)
    if not parsed.ok or parsed.value is None:
        return problem_response(400, "invalid-json", parsed.reason or "invalid JSON")
    signer = await authenticate_request(fed, request, body)
    if isinstance(signer, Refusal):
        return _refuse(signer)
    normalized = normalize_document(parsed.value)
    if not normalized.ok or normalized.document is None:
        return _refuse(Refusal(400, "invalid-json-ld", normalized.reason or "invalid JSON-LD"), signer.domain)
    activity = normalized.document
    refusal = check_activity(activity, signer)
    if refusal is not None:
        return _refuse(refusal, signer.domain)
    actor = signer.actor_uri
    domain = netloc_of(actor) or ""
    if not peer_allowed(settings, domain):
        return _refuse(Refusal(403, "peer-not-allowed", f"{domain} is not a peer of this instance"), domain)
    clean = sanitize_object(activity)
    async with fed.ctx.transaction() as session:
        row_id = await store.insert_inbox_activity(
            session,
            activity_uri=activity["id"],
            actor_uri=actor,
            peer_domain=domain[:255],
            raw=clean,
            received_at=fed.ctx.clock.now(),
        )
    if row_id is not None and fed.ctx.settings.run_workers_in_process:
        fed.submit(row_id, clean, domain)  # else a `cercle worker` process picks it up from the table
    return Response(status_code=202)
