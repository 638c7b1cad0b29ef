"""What the services need from the outside world, wired once by the app factory or the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.clock import Clock, SystemClock
from server.config import Settings
from server.storage.engine import create_engine, session_factory


@dataclass
class Context:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock = field(default_factory=SystemClock)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed on success and rolled back on any error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def close(self) -> None:
        await self.engine.dispose()


def build_context(settings: Settings, *, clock: Clock | None = None) -> Context:
    engine = create_engine(settings.database_url)
    return Context(
        settings=settings, engine=engine, sessions=session_factory(engine), clock=clock or SystemClock()
    )
