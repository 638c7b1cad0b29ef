"""Outbound fetches of ActivityPub documents: where we may go, signed, bounded in time and size.

Every GET this server makes to a peer goes through :class:`Fetcher.get_document`:

1. :func:`outbound_refusal` checks the URL before any socket is opened: ``https`` only (``http`` only for a
   loopback host, as in the settings), no user info, never our own domain, and in allowlist mode the host
   (with its port) must be a configured peer. In open mode the host's addresses are resolved and a private,
   loopback, link-local or reserved one is refused unless ``allow_private_addresses`` is set (there is a
   small window between that check and the connection; peers in allowlist mode are trusted by
   configuration, and they may well sit on a private network).
2. The request is signed as the instance actor (the :class:`httpx.Auth` the caller gives), with a total
   deadline (``fetch_timeout_seconds``) on top of the client's connect/read timeouts.
3. The body is streamed and cut off past ``fetch_max_bytes``; a JSON content type is required; then it is
   parsed with the same depth limit as the inbox and normalised (JSON-LD, no network).

Expected failures come back as a :class:`Fetched` with ``ok=False`` and a reason; nothing here raises for
what a peer can do.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from server.activitypub.jsonld import normalize_document
from server.activitypub.limits import parse_json_body
from server.activitypub.vocabulary import ACTIVITY_JSON, LD_JSON_PROFILE
from server.config import Settings, is_loopback_host

logger = logging.getLogger(__name__)

ACCEPT = f"{ACTIVITY_JSON}, {LD_JSON_PROFILE}"
Resolver = Callable[[str], Awaitable[list[str]]]
AuthProvider = Callable[[], Awaitable[httpx.Auth | None]]


@dataclass(frozen=True, slots=True)
class Fetched:
    ok: bool
    document: dict[str, Any] | None = None
    reason: str | None = None
    status: int | None = None


async def resolve_host(host: str) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def netloc_of(url: str) -> str | None:
    """The lower-case ``host[:port]`` of an http(s) URL without user info, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return parts.netloc.lower()


def peer_allowed(settings: Settings, domain: str) -> bool:
    """Whether activities from `domain` (``host[:port]``) are accepted at all."""
    if domain == settings.domain:
        return False
    return settings.federation_mode == "open" or settings.peer(domain) is not None


def outbound_refusal(settings: Settings, url: str) -> str | None:
    """Why we must not fetch `url` (checks that need no DNS), or None."""
    netloc = netloc_of(url)
    if netloc is None:
        return "not an http(s) URL with a host"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "http" and not is_loopback_host(host):
        return "plain http is allowed only for loopback hosts"
    if netloc == settings.domain:
        return "URL is on this instance"
    if settings.federation_mode == "allowlist" and settings.peer(netloc) is None:
        return f"{netloc} is not a configured peer"
    return None


def _private(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def _json_content_type(value: str) -> bool:
    media = value.split(";", 1)[0].strip().lower()
    return media in ("application/activity+json", "application/ld+json", "application/json")


class Fetcher:
    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        auth: AuthProvider,
        resolver: Resolver = resolve_host,
    ) -> None:
        self._settings = settings
        self._http = http
        self._auth = auth
        self._resolve = resolver

    async def refusal(self, url: str) -> str | None:
        reason = outbound_refusal(self._settings, url)
        if reason is not None or self._settings.federation_mode == "allowlist":
            return reason
        if self._settings.allow_private_addresses:
            return None
        host = urlsplit(url).hostname or ""
        try:
            addresses = await self._resolve(host)
        except OSError as exc:
            return f"cannot resolve {host}: {exc}"
        if not addresses or any(_private(a) for a in addresses):
            return f"{host} resolves to a private or reserved address"
        return None

    async def get_document(self, url: str, *, signed: bool = True) -> Fetched:
        reason = await self.refusal(url)
        if reason is not None:
            logger.info("fetch refused: %s (%s)", url, reason)
            return Fetched(False, reason=reason)
        auth = await self._auth() if signed else None
        try:
            async with asyncio.timeout(self._settings.fetch_timeout_seconds):
                fetched = await self._get(url, auth)
        except TimeoutError:
            fetched = Fetched(False, reason="timed out")
        except httpx.HTTPError as exc:
            fetched = Fetched(False, reason=f"{type(exc).__name__}: {exc}"[:200])
        if not fetched.ok:
            logger.info("fetch of %s failed: %s", url, fetched.reason)
        return fetched

    async def _get(self, url: str, auth: httpx.Auth | None) -> Fetched:
        limit = self._settings.fetch_max_bytes
        headers = {"Accept": ACCEPT}
        request = self._http.build_request("GET", url, headers=headers)
        response = await self._http.send(request, auth=auth or httpx.USE_CLIENT_DEFAULT, stream=True)
        try:
            if response.status_code != 200:
                return Fetched(False, reason=f"HTTP {response.status_code}", status=response.status_code)
            if not _json_content_type(response.headers.get("content-type", "")):
                return Fetched(False, reason="not an ActivityStreams document", status=200)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                return Fetched(False, reason=f"response larger than {limit} bytes", status=200)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    return Fetched(False, reason=f"response larger than {limit} bytes", status=200)
                chunks.append(chunk)
        finally:
            await response.aclose()
        parsed = parse_json_body(b"".join(chunks), max_bytes=limit, max_depth=self._settings.inbox_max_depth)
        if not parsed.ok or parsed.value is None:
            return Fetched(False, reason=parsed.reason, status=200)
        normalized = normalize_document(parsed.value)
        if not normalized.ok or normalized.document is None:
            return Fetched(False, reason=normalized.reason, status=200)
        return Fetched(True, document=normalized.document, status=200)
