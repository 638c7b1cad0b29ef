"""What the federation endpoints share in one process: the fetcher, the remote-key cache, the inbox queue
and the instance actor's signing auth. Made on first use from the app's `Context` and kept on the app's
state (the queue starts there too, and first resumes what a previous run left unprocessed)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from starlette.requests import Request

from server.activitypub.auth import SignatureAuth, SignatureFormat, SignatureFormatMemory
from server.activitypub.keys import load_private_key_pem
from server.context import Context
from server.federation.fetch import Fetcher, Resolver, resolve_host
from server.federation.processing import process_row
from server.federation.queue import InboxQueue
from server.federation.remote import RemoteActors
from server.services.actors import get_or_create_instance_actor, stored_keys
from server.storage import federation as store


class Federation:
    def __init__(self, ctx: Context, *, resolver: Resolver = resolve_host, workers: int = 2) -> None:
        self.ctx = ctx
        self.formats = SignatureFormatMemory(self.choose_format)
        self.fetcher = Fetcher(ctx.settings, ctx.http, self.instance_auth, resolver)
        self.actors = RemoteActors(ctx, self.fetcher)
        self.queue = InboxQueue(self._process, self._pending, workers=workers)
        self._auth: SignatureAuth | None = None
        self.fresh: dict[int, tuple[dict[str, Any], str]] = {}  # row id -> (activity, peer), saves a read
        self._auth_lock = asyncio.Lock()

    def choose_format(self, host: str) -> SignatureFormat:
        """Sister instances (configured peers) get RFC 9421 + Ed25519 unless configured otherwise."""
        peer = self.ctx.settings.peer(host)
        if peer is None or peer.signature == "cavage":
            return "cavage"
        return "rfc9421"

    async def instance_auth(self) -> httpx.Auth | None:
        if self._auth is not None:
            return self._auth
        async with self._auth_lock:
            if self._auth is None:
                self._auth = await self.signing_auth_for_instance()
        return self._auth

    async def signing_auth_for_instance(self) -> SignatureAuth:
        now = self.ctx.clock.now()
        async with self.ctx.transaction() as session:
            actor = await get_or_create_instance_actor(session, self.ctx.settings, now)
        found = await stored_keys(self.ctx, actor.id)
        rsa_row, ed_row = found["rsa"], found["ed25519"]
        assert rsa_row.private_pem is not None and ed_row.private_pem is not None
        rsa_key = load_private_key_pem(rsa_row.private_pem)
        ed_key = load_private_key_pem(ed_row.private_pem)
        assert isinstance(rsa_key, rsa.RSAPrivateKey) and isinstance(ed_key, ed25519.Ed25519PrivateKey)
        return SignatureAuth(
            rsa_row.key_id,
            rsa_key,
            memory=self.formats,
            ed25519_key_id=ed_row.key_id,
            ed25519_key=ed_key,
            clock=self.ctx.clock.now,
        )

    async def pending_ids(self) -> list[int]:
        return await self._pending()

    async def _pending(self) -> list[int]:
        async with self.ctx.sessions() as session:
            return await store.pending_inbox_ids(session)

    async def _process(self, row_id: int) -> None:
        await process_row(self, row_id)

    def submit(self, row_id: int, activity: dict[str, Any], peer: str) -> None:
        """Queue a just-stored activity for processing, handing over the copy already in memory."""
        self.fresh[row_id] = (activity, peer)
        self.queue.submit(row_id)

    async def close(self) -> None:
        await self.queue.close()


def federation_of(request: Request) -> Federation:
    """The process's federation state, made on first use; its inbox queue runs only where this process
    does the background work (`run_workers_in_process`), else `cercle worker` processes do it."""
    state = request.app.state
    fed: Federation | None = getattr(state, "federation", None)
    if fed is None:
        fed = Federation(state.ctx)
        state.federation = fed
    if fed.ctx.settings.run_workers_in_process:
        fed.queue.start()
    return fed
