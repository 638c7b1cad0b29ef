"""What the services need from the outside world, wired once by the app factory or the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

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


def outbound_transport() -> httpx.AsyncBaseTransport:
    """httpx's interface over aiohttp's connection pool: the same requests, about four times less CPU each.

    Deliveries are what an instance sends most; with httpx's own transport the HTTP client was most of
    a delivery's cost (docs/performance.md, "Fan-out"). Signing stays an `httpx.Auth`.
    """
    return AiohttpTransport(limits=httpx.Limits(max_connections=200, keepalive_expiry=30))


def build_context(
    settings: Settings, *, clock: Clock | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> Context:
    """Everything the services need. `transport` lets tests route outbound HTTP to in-process peers."""
    charter = load_instance_charter(settings)
    engine = create_engine(settings.database_url)
    http = httpx.AsyncClient(
        timeout=HTTP_TIMEOUT,
        transport=transport or outbound_transport(),
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
    )
