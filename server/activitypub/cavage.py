"""draft-cavage-http-signatures-12, the ``Signature`` header most fediverse servers still send.

The header is ``keyId="...",algorithm="...",headers="...",signature="..."`` (optionally ``created`` and
``expires`` as bare integers), also accepted after ``Authorization: Signature``. The signing string is one
``name: value`` line per entry of ``headers``, joined by ``\\n``: ``(request-target)`` is
``<lowercase method> <path>[?query]``, ``(created)``/``(expires)`` are the parameters, anything else a
lowercase header whose value is trimmed.

When ``headers`` is absent the draft says ``(created)``; its own Appendix C, and every server in the wild,
sign ``date``. We follow the wild: ``(created)`` when a ``created`` parameter exists, else ``date``.

Algorithms: ``rsa-sha256`` is RSA PKCS#1 v1.5 with SHA-256. ``hs2019`` takes its algorithm from the key:
Ed25519, or RSA as v1.5-SHA-256 (what Mastodon and others send) with RSA-PSS-SHA-512 as a fallback.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from server.activitypub import algorithms
from server.activitypub.keys import PrivateKey, PublicKey
from server.activitypub.results import Check, Failure, failed

_PARAM = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([0-9.]+))\s*(?:,|$)')
GET_HEADERS = ("(request-target)", "host", "date")
POST_HEADERS = ("(request-target)", "host", "date", "digest")


@dataclass(frozen=True, slots=True)
class CavageSignature:
    key_id: str
    algorithm: str | None
    headers: tuple[str, ...]
    signature: bytes
    created: int | None = None
    expires: int | None = None


def _int_param(value: str | None) -> int | Failure | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return Failure(f"bad timestamp {value!r}")


def parse_signature_header(value: str) -> CavageSignature | Failure:
    """Parse a ``Signature`` header value, or an ``Authorization`` value starting with ``Signature``."""
    text = value.strip()
    if text[:10].lower() == "signature ":
        text = text[10:]
    params: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        match = _PARAM.match(text, pos)
        if match is None:
            return Failure("malformed Signature header")
        name = match.group(1)
        quoted, bare = match.group(2), match.group(3)
        params[name] = quoted if quoted is not None else bare
        pos = match.end()
    key_id, signature = params.get("keyId"), params.get("signature")
    if not key_id:
        return Failure("Signature header has no keyId")
    if not signature:
        return Failure("Signature header has no signature")
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return Failure("signature is not base64")
    created, expires = _int_param(params.get("created")), _int_param(params.get("expires"))
    if isinstance(created, Failure):
        return created
    if isinstance(expires, Failure):
        return expires
    if "headers" in params:
        covered = tuple(params["headers"].lower().split())
        if not covered:
            return Failure("empty headers list")
    else:
        covered = ("(created)",) if created is not None else ("date",)
    algorithm = params.get("algorithm")
    return CavageSignature(key_id, algorithm.lower() if algorithm else None, covered, raw, created, expires)


def request_target(method: str, url: str) -> str:
    parts = urlsplit(url)
    return f"{method.lower()} {parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")


def signing_string(
    covered: Sequence[str],
    method: str,
    url: str,
    headers: Mapping[str, str],
    created: int | None = None,
    expires: int | None = None,
) -> str | Failure:
    lowered = {k.lower(): v for k, v in headers.items()}
    lines = []
    for name in covered:
        if name == "(request-target)":
            value = request_target(method, url)
        elif name in ("(created)", "(expires)"):
            stamp = created if name == "(created)" else expires
            if stamp is None:
                return Failure(f"{name} covered without its parameter")
            value = str(stamp)
        else:
            header = lowered.get(name)
            if header is None:
                return Failure(f"covered header {name} missing")
            value = header.strip()
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


def verify(sig: CavageSignature, method: str, url: str, headers: Mapping[str, str], key: PublicKey) -> Check:
    text = signing_string(sig.headers, method, url, headers, sig.created, sig.expires)
    if isinstance(text, Failure):
        return failed(text.reason)
    message = text.encode("utf-8")
    algorithm = sig.algorithm
    if algorithm == "rsa-sha256":
        return algorithms.verify_bytes(algorithms.RSA_V1_5_SHA256, key, message, sig.signature)
    if algorithm == "ed25519":
        return algorithms.verify_bytes(algorithms.ED25519, key, message, sig.signature)
    if algorithm in (None, "hs2019"):
        return algorithms.verify_any(key, message, sig.signature)
    return failed(f"unsupported algorithm {algorithm}")


def sign(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    key: PrivateKey,
    key_id: str,
    covered: Sequence[str] | None = None,
    include_headers: bool = True,
) -> str:
    """Return a ``Signature`` header value: ``rsa-sha256`` for an RSA key, ``hs2019`` for Ed25519.

    ``covered`` defaults to ``(request-target) host date`` for GET and adds ``digest`` for other methods.
    """
    if covered is None:
        covered = GET_HEADERS if method.upper() in ("GET", "HEAD") else POST_HEADERS
    text = signing_string(covered, method, url, headers)
    if isinstance(text, Failure):
        raise ValueError(f"cannot sign: {text.reason}")
    algorithm = algorithms.default_algorithm(key)
    signature = base64.b64encode(algorithms.sign_bytes(algorithm, key, text.encode("utf-8"))).decode("ascii")
    name = "rsa-sha256" if algorithm == algorithms.RSA_V1_5_SHA256 else "hs2019"
    headers_param = f',headers="{" ".join(covered)}"' if include_headers else ""
    return f'keyId="{key_id}",algorithm="{name}"{headers_param},signature="{signature}"'
