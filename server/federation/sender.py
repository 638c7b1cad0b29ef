"""Sending one queued delivery: signed as its actor, to an allowed peer, with a timeout.

Signatures follow the peer: RFC 9421 with Ed25519 for sister instances, draft-cavage with
RSA otherwise, switching once on a 401 (see `server.activitypub.auth`).

Deliveries are most of what an instance sends, so they skip httpx's request and response models when
the context's client runs on the aiohttp pool (`Context.outbound`, always outside tests that route HTTP
in process): the headers a destination's requests share, its URL as httpx writes it (what RFC 9421
signs) and the timeouts are worked out once per destination; each request adds the signing headers,
computed by the very function `SignatureAuth.sign` uses, and is posted on the pool's aiohttp session.
The rest is what the httpx path does: no redirects followed, the same timeouts, aiohttp's errors turned
into the same httpx errors (so the same outcome), the 401 switch of signature format, and one retry
when a kept-alive connection turns out closed by the peer. The answer's body is not needed: it is read
up to `ANSWER_MAX_BYTES`, past which the connection is dropped rather than read further.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
import httpx
import yarl
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from httpx_aiohttp.transport import map_aiohttp_exceptions

from server.activitypub.auth import SignatureAuth, SignatureFormat
from server.activitypub.keys import load_private_key_pem
from server.activitypub.vocabulary import ACTIVITY_JSON
from server.delivery.worker import SendResult
from server.federation.state import Federation
from server.services.actors import stored_keys
from server.storage.delivery import PendingDelivery

# What aiohttp raises when a pooled connection was closed by the peer before or while we wrote to it.
STALE_CONNECTION = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)
ANSWER_MAX_BYTES = 64 * 1024
T = TypeVar("T")
# Remembered per destination, and per payload (the bytes sent, for the other inboxes the same activity goes
# to, a few streams behind); past these sizes everything is forgotten at once and made again as needed.
_TARGETS_KEPT = 1024
_BODIES_KEPT = 256


@dataclass(frozen=True, slots=True)
class Target:
    """What every delivery to one destination shares, worked out once from the httpx client."""

    url: str  # as httpx writes it: what RFC 9421 signs as @target-uri
    address: yarl.URL  # what aiohttp is given (httpx's transport hands it the same string)
    host: str  # the key of the signature-format memory, as `SignatureAuth.auth_flow` takes it
    headers: dict[str, str]  # the client's headers for a POST of an activity there, but the length and
    # the cookies (per request); lowercase names, as httpx hands them to aiohttp
    timeout: aiohttp.ClientTimeout  # the client's timeouts, as httpx's aiohttp transport maps them

    @classmethod
    def of(cls, http: httpx.AsyncClient, destination: str) -> Target:
        request = http.build_request("POST", destination, headers={"Content-Type": ACTIVITY_JSON})
        headers = {k: v for k, v in request.headers.items() if k not in ("content-length", "cookie")}
        timeout = request.extensions.get("timeout", {})
        return cls(
            url=str(request.url),
            address=yarl.URL(str(request.url)),
            host=request.url.netloc.decode("ascii").lower(),
            headers=headers,
            timeout=aiohttp.ClientTimeout(
                sock_connect=timeout.get("connect"),
                sock_read=timeout.get("read"),
                connect=timeout.get("pool"),
            ),
        )


async def _once_more_if_stale(send: Callable[[], Awaitable[T]]) -> T:
    """Send; once more at once when a kept-alive connection turned out closed by the peer.

    A peer may close an idle connection just as we reuse it: that is no failure of the peer, and counting
    it as one would put the stream in backoff. The retry is safe: receivers dedupe by id.
    """
    try:
        return await send()
    except httpx.TransportError as exc:
        if not isinstance(exc.__cause__, STALE_CONNECTION):
            raise
    return await send()


class DeliverySender:
    def __init__(self, fed: Federation) -> None:
        self.fed = fed
        self._auth: dict[int, SignatureAuth] = {}
        self._making = asyncio.Lock()  # streams run in parallel: make an actor's keys once
        self._targets: dict[str, Target] = {}
        self._bodies: dict[str, bytes] = {}  # stored payload -> the bytes sent

    async def auth_for(self, actor_id: int) -> SignatureAuth:
        if actor_id in self._auth:
            return self._auth[actor_id]
        async with self._making:
            if actor_id not in self._auth:
                self._auth[actor_id] = await self._make_auth(actor_id)
        return self._auth[actor_id]

    async def _make_auth(self, actor_id: int) -> SignatureAuth:
        ctx = self.fed.ctx
        found = await stored_keys(ctx, actor_id)
        rsa_row, ed_row = found["rsa"], found["ed25519"]
        assert rsa_row.private_pem is not None and ed_row.private_pem is not None
        rsa_key, ed_key = load_private_key_pem(rsa_row.private_pem), load_private_key_pem(ed_row.private_pem)
        assert isinstance(rsa_key, rsa.RSAPrivateKey) and isinstance(ed_key, ed25519.Ed25519PrivateKey)
        return SignatureAuth(
            rsa_row.key_id,
            rsa_key,
            memory=self.fed.formats,
            ed25519_key_id=ed_row.key_id,
            ed25519_key=ed_key,
            clock=ctx.clock.now,
        )

    def body(self, row: PendingDelivery) -> bytes:
        """The bytes sent: the payload in compact JSON; encoded once for the inboxes an activity goes to."""
        body = self._bodies.get(row.payload_json)
        if body is None:
            body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
            if len(self._bodies) >= _BODIES_KEPT:
                self._bodies.clear()
            self._bodies[row.payload_json] = body
        return body

    def target(self, destination: str) -> Target:
        target = self._targets.get(destination)
        if target is None:
            target = Target.of(self.fed.ctx.http, destination)
            if len(self._targets) >= _TARGETS_KEPT:
                self._targets.clear()
            self._targets[destination] = target
        return target

    async def __call__(self, row: PendingDelivery) -> SendResult:
        refusal = await self.fed.fetcher.refusal(row.destination)
        if refusal is not None:
            # Not an answer from the peer: our own allowlist refuses it. Recorded as a refusal (given up).
            return SendResult(status=403, error=f"refused here: {refusal}")
        auth = await self.auth_for(row.signer_actor_id)
        body = self.body(row)
        ctx = self.fed.ctx
        try:
            if ctx.outbound is not None:
                session = ctx.outbound.session()
                return await self.post(ctx.http, session, self.target(row.destination), body, auth)
            request = ctx.http.build_request(
                "POST", row.destination, content=body, headers={"Content-Type": ACTIVITY_JSON}
            )
            response = await self._send(ctx.http, request, auth)
        except httpx.HTTPError as exc:
            return SendResult(status=None, error=f"{type(exc).__name__}: {exc}"[:500])
        await response.aclose()
        return SendResult(status=response.status_code, retry_after=response.headers.get("retry-after"))

    @staticmethod
    async def _send(http: httpx.AsyncClient, request: httpx.Request, auth: SignatureAuth) -> httpx.Response:
        return await _once_more_if_stale(lambda: http.send(request, auth=auth))

    @classmethod
    async def post(
        cls,
        http: httpx.AsyncClient,
        session: aiohttp.ClientSession,
        target: Target,
        body: bytes,
        auth: SignatureAuth,
    ) -> SendResult:
        """`_send` without httpx's models: the same retry of a stale connection, around the same flow."""
        return await _once_more_if_stale(lambda: cls._signed(http, session, target, body, auth))

    @classmethod
    async def _signed(
        cls,
        http: httpx.AsyncClient,
        session: aiohttp.ClientSession,
        target: Target,
        body: bytes,
        auth: SignatureAuth,
    ) -> SendResult:
        """What `SignatureAuth.auth_flow` does: sign in the host's preferred format, on a 401 once more in
        the other; the format that got another answer is remembered for the host."""
        fmt = auth.memory.preferred(target.host)
        result = await cls._exchange(http, session, target, body, auth, fmt)
        if result.status != 401:
            auth.memory.remember(target.host, fmt)
            return result
        other: SignatureFormat = "cavage" if fmt == "rfc9421" else "rfc9421"
        result = await cls._exchange(http, session, target, body, auth, other)
        if result.status != 401:
            auth.memory.remember(target.host, other)
        return result

    @staticmethod
    async def _exchange(
        http: httpx.AsyncClient,
        session: aiohttp.ClientSession,
        target: Target,
        body: bytes,
        auth: SignatureAuth,
        fmt: SignatureFormat,
    ) -> SendResult:
        headers = dict(target.headers)
        if http.cookies.jar:  # cookies a peer set on the client: sent as httpx would send them
            cookie = http.build_request("POST", target.url).headers.get("cookie")
            if cookie is not None:
                headers["cookie"] = cookie
        headers["content-length"] = str(len(body))
        signing = auth.signature_headers("POST", target.url, headers, body, fmt)
        headers.update((name.lower(), value) for name, value in signing.items())  # as httpx writes them
        with map_aiohttp_exceptions():  # aiohttp's errors as httpx's transport gives them
            async with session.request(
                "POST",
                target.address,
                data=body,
                headers=headers,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=target.timeout,
            ) as response:
                if "Set-Cookie" in response.headers:  # kept by the client, as httpx keeps them
                    request = httpx.Request("POST", target.url)
                    http.cookies.extract_cookies(
                        httpx.Response(response.status, request=request, headers=response.raw_headers)
                    )
                read = 0
                async for chunk in response.content.iter_any():
                    read += len(chunk)
                    if read > ANSWER_MAX_BYTES:
                        response.close()  # the rest is not worth reading: the connection goes
                        break
                retry_after = response.headers.getall("Retry-After", None)
                return SendResult(
                    status=response.status, retry_after=", ".join(retry_after) if retry_after else None
                )
