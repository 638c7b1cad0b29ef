"""Body digests: ``Digest`` (RFC 3230, used with cavage signatures) and ``Content-Digest`` (RFC 9530).

``check_body_digest`` accepts either header. Every supported algorithm that is present must match; unknown
algorithms are ignored, but at least one supported value must be there. When both headers are present,
both must match.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_HASHES: dict[str, Callable[[bytes], hashlib._Hash]] = {
    "sha-256": hashlib.sha256,
    "sha-512": hashlib.sha512,
}


@dataclass(frozen=True, slots=True)
class DigestResult:
    ok: bool
    reason: str | None = None
    header_name: str | None = None


def digest_header(body: bytes) -> str:
    """``Digest`` value (RFC 3230): ``SHA-256=<base64>``."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def content_digest_header(body: bytes, algorithm: str = "sha-256") -> str:
    """``Content-Digest`` value (RFC 9530): ``sha-256=:<base64>:``."""
    digest = _HASHES[algorithm](body).digest()
    return f"{algorithm}=:{base64.b64encode(digest).decode('ascii')}:"


def _parse_digest(value: str) -> list[tuple[str, bytes]] | None:
    pairs = []
    for member in value.split(","):
        name, sep, encoded = member.strip().partition("=")
        if not sep:
            return None
        try:
            pairs.append((name.strip().lower(), base64.b64decode(encoded.strip(), validate=True)))
        except (binascii.Error, ValueError):
            return None
    return pairs


def _parse_content_digest(value: str) -> list[tuple[str, bytes]] | None:
    pairs = []
    for member in value.split(","):
        name, sep, rest = member.strip().partition("=")
        item = rest.split(";", 1)[0].strip()
        if not sep or len(item) < 2 or item[0] != ":" or item[-1] != ":":
            return None
        try:
            pairs.append((name.strip(), base64.b64decode(item[1:-1], validate=True)))
        except (binascii.Error, ValueError):
            return None
    return pairs


def _check(pairs: list[tuple[str, bytes]], body: bytes, header: str) -> DigestResult:
    checked = False
    for name, expected in pairs:
        hasher = _HASHES.get(name)
        if hasher is None:
            continue
        if not hmac.compare_digest(hasher(body).digest(), expected):
            return DigestResult(False, "digest mismatch", header)
        checked = True
    if not checked:
        return DigestResult(False, "unsupported digest algorithm", header)
    return DigestResult(True, None, header)


def check_body_digest(headers: Mapping[str, str], body: bytes) -> DigestResult:
    lowered = {k.lower(): v for k, v in headers.items()}
    result: DigestResult | None = None
    for header, parser in (("content-digest", _parse_content_digest), ("digest", _parse_digest)):
        value = lowered.get(header)
        if value is None:
            continue
        pairs = parser(value)
        if pairs is None:
            return DigestResult(False, "malformed digest", header)
        result = _check(pairs, body, header)
        if not result.ok:
            return result
    return result or DigestResult(False, "missing digest", None)
