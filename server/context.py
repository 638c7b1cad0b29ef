"""What the services need from the outside world, wired once by the app factory or the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.clock import Clock, SystemClock
from server.config import Settings, SettingsError
from server.policy import Charter, CharterError, load_charter
from server.storage.engine import create_engine, session_factory

HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass
class Context:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    charter: Charter
    http: httpx.AsyncClient
    clock: Clock = field(default_factory=SystemClock)
    # The aiohttp transport under `http` when it is the one `outbound_transport` makes (None when tests route
    # outbound HTTP elsewhere): deliveries use its session directly, see `server.federation.sender`.
    outbound: OutboundTransport | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed on success and rolled back on any error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def close(self) -> None:
        await self.http.aclose()
        await self.engine.dispose()


def load_instance_charter(settings: Settings) -> Charter:
    """The charter this instance enforces; an invalid one stops start-up with its errors."""
    try:
        return load_charter(settings.charter_dir, settings.charter)
    except CharterError as exc:
        raise SettingsError(f"setting 'charter' (CERCLE_CHARTER): {'; '.join(exc.errors)}") from exc


class OutboundTransport(AiohttpTransport):
    """httpx's interface over aiohttp's connection pool, with the pool's session at hand for deliveries."""

    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session under the transport (made on first use, inside the running loop, as the
        transport itself does): the delivery sender posts through it without httpx's request models."""
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        return self.client


def outbound_transport() -> OutboundTransport:
    """httpx's interface over aiohttp's connection pool: the same requests, about four times less CPU each.

    Deliveries are what an instance sends most; with httpx's own transport the HTTP client was most of
    a delivery's cost (docs/performance.md, "Fan-out"). Signing stays an `httpx.Auth` for everything but
    deliveries, which sign with the same code and post on the same pool (`OutboundTransport.session`).
    """
    return OutboundTransport(limits=httpx.Limits(max_connections=200, keepalive_expiry=30))


def build_context(
    settings: Settings, *, clock: Clock | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> Context:
    """Everything the services need. `transport` lets tests route outbound HTTP to in-process peers."""
    charter = load_instance_charter(settings)
    engine = create_engine(settings.database_url)
    transport = transport or outbound_transport()
    http = httpx.AsyncClient(
        timeout=HTTP_TIMEOUT,
        transport=transport,
        follow_redirects=False,
        headers={"User-Agent": f"Cercle (+{settings.base_url})"},
    )
    return Context(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        charter=charter,
        http=http,
        clock=clock or SystemClock(),
        outbound=transport if isinstance(transport, OutboundTransport) else None,
    )
