"""Who signed an inbound request: HTTP signature verification with the key fetched and cached.

Steps, each failure a :class:`Refusal` the endpoint answers as problem+json:

1. a signature is present and parses (401);
2. the ``keyId`` is an http(s) URL of a host we federate with (403 for a host outside the allowlist;
   no fetch is ever made toward it);
3. the key is found (memory, then database, then a signed GET of its document; 401 when it cannot be);
4. :func:`~server.activitypub.signatures.verify_parsed` checks, in its order, the request line, the
   ``Date``/``created`` window, the digest (present, signed, matching) and the signature itself (401).
   When only the cryptographic check fails, the key is fetched again once (the peer may have rotated it;
   at most once a minute per key) and the check repeated.

The URL verified is the one the peer signed: our public base URL plus the raw path and query, so a proxy in
front of us does not break RFC 9421's ``@target-uri``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from starlette.requests import Request

from server.activitypub.signatures import (
    ParsedSignature,
    SignatureFailure,
    VerificationResult,
    parse_request_signature,
    verify_parsed,
)
from server.federation.fetch import netloc_of, peer_allowed
from server.federation.remote import KeyFound

if TYPE_CHECKING:
    from server.federation.state import Federation

_NOT_CRYPTOGRAPHIC = (
    "request target not covered",
    "signature expired",
    "malformed Date",
    "no signed timestamp",
    "signature date",
    "missing digest",
    "digest not covered",
    "digest mismatch",
    "malformed digest",
    "unsupported digest",
)


@dataclass(frozen=True, slots=True)
class Signer:
    key_id: str
    actor_uri: str
    domain: str


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    code: str
    detail: str


def signed_url(request: Request, base_url: str) -> str:
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else request.url.path
    query = request.scope.get("query_string", b"")
    return f"{base_url}{path}" + (f"?{query.decode('latin-1')}" if query else "")


def has_signature(headers: Mapping[str, str]) -> bool:
    return (
        "signature" in headers
        or "signature-input" in headers
        or headers.get("authorization", "")[:10].lower() == "signature "
    )


def _verify(parsed: ParsedSignature, key: KeyFound, body: bytes, fed: Federation) -> VerificationResult:
    skew = timedelta(seconds=fed.ctx.settings.signature_max_skew_seconds)
    return verify_parsed(parsed, key.public_key, body=body, now=fed.ctx.clock.now(), max_skew=skew)


async def authenticate(
    fed: Federation, method: str, url: str, headers: Mapping[str, str], body: bytes
) -> Signer | Refusal:
    parsed = parse_request_signature(method, url, headers)
    if isinstance(parsed, SignatureFailure):
        return Refusal(401, "signature-missing", f"HTTP signature: {parsed.reason}")
    if len(parsed.key_id) > 2048:
        return Refusal(401, "signature-invalid", "HTTP signature: keyId too long")
    domain = netloc_of(parsed.key_id)
    if domain is None:
        return Refusal(401, "signature-invalid", "HTTP signature: keyId is not an http(s) URL")
    if not peer_allowed(fed.ctx.settings, domain):
        return Refusal(403, "peer-not-allowed", f"{domain} is not a peer of this instance")
    key = await fed.actors.key(parsed.key_id)
    if not isinstance(key, KeyFound):
        return Refusal(401, "signature-key-unavailable", f"HTTP signature: {key.reason}")
    result = _verify(parsed, key, body, fed)
    reason = result.reason or ""
    if (
        not result.valid
        and not reason.startswith(_NOT_CRYPTOGRAPHIC)
        and fed.actors.may_refresh(parsed.key_id)
    ):
        key = await fed.actors.key(parsed.key_id, refresh=True)
        if not isinstance(key, KeyFound):
            return Refusal(401, "signature-key-unavailable", f"HTTP signature: {key.reason}")
        result = _verify(parsed, key, body, fed)
    if not result.valid:
        return Refusal(401, "signature-invalid", f"HTTP signature: {result.reason}")
    return Signer(key.key_id, key.actor_uri, key.domain)


async def authenticate_request(fed: Federation, request: Request, body: bytes) -> Signer | Refusal:
    headers = {k: v for k, v in request.headers.items()}
    url = signed_url(request, fed.ctx.settings.base_url)
    return await authenticate(fed, request.method, url, headers, body)
