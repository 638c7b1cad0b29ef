"""Verification of signed inbound requests, in two phases.

Phase one, :func:`parse_request_signature`, is pure and cheap: it finds which scheme signed the request
(RFC 9421 when ``Signature-Input`` is present, else draft-cavage from ``Signature`` or
``Authorization: Signature``), and returns the ``key_id`` with what the signature covers. The caller then
fetches the key, which may mean an async network fetch of the actor; that is why there are two phases.

Phase two, :func:`verify_parsed`, decides with the key in hand. Checks run cheapest first, and the first
failure is the reason returned:

1. the request line is covered (``(request-target)``; or ``@method`` with ``@target-uri``, ``@path`` or
   ``@request-target``), so a signature cannot be replayed onto another endpoint;
2. a timestamp is covered and fresh: ``created`` (or, for cavage, ``(created)``) or the ``Date`` header
   must lie within ``max_skew`` of ``now``, and ``expires`` must not have passed. Stale requests are
   rejected, which bounds replays to the skew window (deduplication by activity id does the rest);
3. a request with a body (or a POST/PUT/PATCH) carries ``Digest`` or ``Content-Digest``, the signature
   covers it, and it matches the body;
4. the signature verifies with the key.

Nothing here parses JSON, touches JSON-LD or the network. Results are small frozen dataclasses; only
programming errors raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

from server.activitypub import cavage, rfc9421
from server.activitypub.digest import check_body_digest
from server.activitypub.keys import PublicKey
from server.activitypub.results import Failure

Scheme = Literal["cavage", "rfc9421"]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True, slots=True)
class SignatureFailure:
    """Phase one found no usable signature."""

    reason: str


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    scheme: Scheme
    key_id: str
    covered: tuple[str, ...]
    created: datetime | None
    expires: datetime | None
    method: str
    url: str
    headers: Mapping[str, str]
    detail: cavage.CavageSignature | rfc9421.Rfc9421Signature


@dataclass(frozen=True, slots=True)
class VerificationResult:
    valid: bool
    key_id: str | None = None
    reason: str | None = None
    scheme: Scheme | None = None


def _stamp(value: int | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return datetime.max.replace(tzinfo=UTC) if value > 0 else datetime.min.replace(tzinfo=UTC)


def parse_request_signature(
    method: str, url: str, headers: Mapping[str, str]
) -> ParsedSignature | SignatureFailure:
    lowered = {k.lower(): v for k, v in headers.items()}
    method = method.upper()
    if "signature-input" in lowered:
        sig = rfc9421.parse_signature(lowered)
        if isinstance(sig, Failure):
            return SignatureFailure(sig.reason)
        assert sig.key_id is not None  # parse_signature picks a label that has one
        return ParsedSignature(
            "rfc9421",
            sig.key_id,
            sig.covered,
            _stamp(sig.created),
            _stamp(sig.expires),
            method,
            url,
            lowered,
            sig,
        )
    raw = lowered.get("signature")
    if raw is None:
        auth = lowered.get("authorization", "")
        raw = auth if auth[:10].lower() == "signature " else None
    if raw is None:
        return SignatureFailure("missing signature")
    parsed = cavage.parse_signature_header(raw)
    if isinstance(parsed, Failure):
        return SignatureFailure(parsed.reason)
    return ParsedSignature(
        "cavage",
        parsed.key_id,
        parsed.headers,
        _stamp(parsed.created),
        _stamp(parsed.expires),
        method,
        url,
        lowered,
        parsed,
    )


def _covers_request_line(parsed: ParsedSignature) -> bool:
    if parsed.scheme == "cavage":
        return "(request-target)" in parsed.covered
    covered = set(parsed.covered)
    return "@request-target" in covered or ("@method" in covered and bool(covered & {"@target-uri", "@path"}))


def _check_time(parsed: ParsedSignature, now: datetime, max_skew: timedelta) -> str | None:
    if parsed.expires is not None and parsed.expires < now - max_skew:
        return "signature expired"
    created_covered = parsed.scheme == "rfc9421" or "(created)" in parsed.covered
    moments = []
    if parsed.created is not None and created_covered:
        moments.append(parsed.created)
    if "date" in parsed.covered:
        raw = parsed.headers.get("date", "")
        try:
            moments.append(parsedate_to_datetime(raw))
        except (TypeError, ValueError):
            return "malformed Date header"
    if not moments:
        return "no signed timestamp (date or created)"
    for moment in moments:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if moment > now + max_skew:
            return "signature date is in the future"
        if moment < now - max_skew:
            return "signature date is stale"
    return None


def _check_digest(parsed: ParsedSignature, body: bytes) -> str | None:
    if not body and parsed.method not in _BODY_METHODS:
        return None
    present = [name for name in ("content-digest", "digest") if name in parsed.headers]
    if not present:
        return "missing digest"
    if not any(name in parsed.covered for name in present):
        return "digest not covered by signature"
    result = check_body_digest(parsed.headers, body)
    return None if result.ok else result.reason


def verify_parsed(
    parsed: ParsedSignature, public_key: PublicKey, *, body: bytes, now: datetime, max_skew: timedelta
) -> VerificationResult:
    def invalid(reason: str) -> VerificationResult:
        return VerificationResult(False, parsed.key_id, reason, parsed.scheme)

    if not _covers_request_line(parsed):
        return invalid("request target not covered by signature")
    reason = _check_time(parsed, now, max_skew) or _check_digest(parsed, body)
    if reason is not None:
        return invalid(reason)
    if isinstance(parsed.detail, cavage.CavageSignature):
        check = cavage.verify(parsed.detail, parsed.method, parsed.url, parsed.headers, public_key)
    else:
        check = rfc9421.verify(parsed.detail, parsed.method, parsed.url, parsed.headers, public_key)
    if not check.ok:
        return invalid(check.reason or "invalid signature")
    return VerificationResult(True, parsed.key_id, None, parsed.scheme)
