"""Signing outbound requests as an ``httpx.Auth``, with a per-host memory of which scheme the peer accepts.

Each request is signed in the format the memory prefers for its host (a chooser decides for hosts never
seen: sister instances get RFC 9421, the rest cavage). The auth adds ``Date``, and for a request with a body
``Digest`` (cavage) or ``Content-Digest`` (RFC 9421). If the peer answers 401, the request is signed again
in the other format and sent once more; whichever format gets a non-401 answer is remembered for the host.

RFC 9421 uses the Ed25519 key when one is configured (far cheaper to sign), else the RSA key as
``rsa-v1_5-sha256``. Cavage always uses the RSA key with ``rsa-sha256``, which every server understands.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Generator, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Literal

import httpx
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from server.activitypub import cavage, rfc9421
from server.activitypub.digest import content_digest_header, digest_header

SignatureFormat = Literal["rfc9421", "cavage"]
_SIGNING_HEADERS = ("signature", "signature-input", "digest", "content-digest")


def _always_cavage(host: str) -> SignatureFormat:
    return "cavage"


class SignatureFormatMemory:
    """Which signature format each host accepted last; bounded, least recently used forgotten first."""

    def __init__(
        self, chooser: Callable[[str], SignatureFormat] = _always_cavage, max_hosts: int = 10_000
    ) -> None:
        self._chooser = chooser
        self._max_hosts = max_hosts
        self._formats: OrderedDict[str, SignatureFormat] = OrderedDict()

    def preferred(self, host: str) -> SignatureFormat:
        known = self._formats.get(host)
        if known is not None:
            self._formats.move_to_end(host)
            return known
        return self._chooser(host)

    def remember(self, host: str, fmt: SignatureFormat) -> None:
        self._formats[host] = fmt
        self._formats.move_to_end(host)
        while len(self._formats) > self._max_hosts:
            self._formats.popitem(last=False)

    def known(self, host: str) -> SignatureFormat | None:
        return self._formats.get(host)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SignatureAuth(httpx.Auth):
    requires_request_body = True

    def __init__(
        self,
        key_id: str,
        rsa_key: rsa.RSAPrivateKey,
        *,
        memory: SignatureFormatMemory,
        ed25519_key_id: str | None = None,
        ed25519_key: ed25519.Ed25519PrivateKey | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if (ed25519_key_id is None) != (ed25519_key is None):
            raise ValueError("ed25519_key_id and ed25519_key go together")
        self._key_id = key_id
        self._rsa_key = rsa_key
        self._ed_key_id = ed25519_key_id
        self._ed_key = ed25519_key
        self._memory = memory
        self._clock = clock

    @property
    def memory(self) -> SignatureFormatMemory:
        return self._memory

    def sign(self, request: httpx.Request, fmt: SignatureFormat) -> None:
        """Sign ``request`` in place (its body must already be read)."""
        for name in _SIGNING_HEADERS:
            request.headers.pop(name, None)
        request.headers.pop("date", None)
        request.headers.setdefault("Host", request.url.netloc.decode("ascii"))
        request.headers.update(
            self.signature_headers(request.method, str(request.url), request.headers, request.content, fmt)
        )

    def signature_headers(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, fmt: SignatureFormat
    ) -> dict[str, str]:
        """The headers signing adds to a request: ``Date``, the body's digest (for a body, or any POST, PUT
        or PATCH) and the signature. ``headers`` are the request's others, ``Host`` among them, without
        any of those; ``url`` is the request's URL as sent. What :meth:`sign` adds to an httpx request, and
        what the delivery sender adds to the requests it makes without httpx's models."""
        now = self._clock()
        added = {"Date": format_datetime(now.astimezone(UTC), usegmt=True)}
        has_body = bool(body) or method in ("POST", "PUT", "PATCH")
        if fmt == "cavage":
            if has_body:
                added["Digest"] = digest_header(body)
            added["Signature"] = cavage.sign(
                method=method,
                url=url,
                headers={**headers, **added},
                key=self._rsa_key,
                key_id=self._key_id,
                covered=cavage.POST_HEADERS if has_body else cavage.GET_HEADERS,
            )
            return added
        components = ["@method", "@target-uri"]
        if has_body:
            added["Content-Digest"] = content_digest_header(body)
            components.append("content-digest")
        components.append("date")
        key_id, key = (
            (self._ed_key_id, self._ed_key)
            if self._ed_key_id is not None and self._ed_key is not None
            else (self._key_id, self._rsa_key)
        )
        added.update(
            rfc9421.sign(
                method=method,
                url=url,
                headers={**headers, **added},
                key=key,
                key_id=key_id,
                components=components,
                created=int(now.timestamp()),
            )
        )
        return added

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        host = request.url.netloc.decode("ascii").lower()
        fmt = self._memory.preferred(host)
        self.sign(request, fmt)
        response = yield request
        if response.status_code != 401:
            self._memory.remember(host, fmt)
            return
        other: SignatureFormat = "cavage" if fmt == "rfc9421" else "rfc9421"
        self.sign(request, other)
        response = yield request
        if response.status_code != 401:
            self._memory.remember(host, other)
