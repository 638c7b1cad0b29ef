"""Sending one queued delivery: signed as its actor, to an allowed peer, with a timeout.

Signatures follow the peer: RFC 9421 with Ed25519 for sister instances, draft-cavage with
RSA otherwise, switching once on a 401 (see `server.activitypub.auth`).
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import httpx
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from server.activitypub.auth import SignatureAuth
from server.activitypub.keys import load_private_key_pem
from server.activitypub.vocabulary import ACTIVITY_JSON
from server.delivery.worker import SendResult
from server.federation.state import Federation
from server.services.actors import ensure_actor_keys
from server.storage.delivery_models import Delivery
from server.storage.social import Actor

# What aiohttp raises when a pooled connection was closed by the peer before or while we wrote to it.
STALE_CONNECTION = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


class DeliverySender:
    def __init__(self, fed: Federation) -> None:
        self.fed = fed
        self._auth: dict[int, SignatureAuth] = {}
        self._making = asyncio.Lock()  # streams run in parallel: make an actor's keys once

    async def auth_for(self, actor_id: int) -> SignatureAuth:
        if actor_id in self._auth:
            return self._auth[actor_id]
        async with self._making:
            if actor_id not in self._auth:
                self._auth[actor_id] = await self._make_auth(actor_id)
        return self._auth[actor_id]

    async def _make_auth(self, actor_id: int) -> SignatureAuth:
        ctx = self.fed.ctx
        async with ctx.transaction() as session:
            actor = await session.get(Actor, actor_id)
            if actor is None or not actor.local:
                raise LookupError(f"actor {actor_id} cannot sign: not local")
            found = (await ensure_actor_keys(session, actor, ctx.clock.now())).by_algorithm
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

    async def __call__(self, row: Delivery) -> SendResult:
        refusal = await self.fed.fetcher.refusal(row.destination)
        if refusal is not None:
            # Not an answer from the peer: our own allowlist refuses it. Recorded as a refusal (given up).
            return SendResult(status=403, error=f"refused here: {refusal}")
        auth = await self.auth_for(row.signer_actor_id)
        http = self.fed.ctx.http
        body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
        request = http.build_request(
            "POST", row.destination, content=body, headers={"Content-Type": ACTIVITY_JSON}
        )
        try:
            response = await self._send(http, request, auth)
        except httpx.HTTPError as exc:
            return SendResult(status=None, error=f"{type(exc).__name__}: {exc}"[:500])
        await response.aclose()
        return SendResult(status=response.status_code, retry_after=response.headers.get("retry-after"))

    @staticmethod
    async def _send(http: httpx.AsyncClient, request: httpx.Request, auth: SignatureAuth) -> httpx.Response:
        """Send; once more at once when a kept-alive connection turned out closed by the peer.

        A peer may close an idle connection just as we reuse it: that is no failure of the peer, and
        counting it as one would put the stream in backoff. The retry is safe: receivers dedupe by id.
        """
        try:
            return await http.send(request, auth=auth)
        except httpx.TransportError as exc:
            if not isinstance(exc.__cause__, STALE_CONNECTION):
                raise
        return await http.send(request, auth=auth)
