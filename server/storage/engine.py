"""Engine and session factory for SQLite (embedded default) and PostgreSQL.

PostgreSQL connections are checked before use only when they have been idle in the pool for
`PING_IDLE_AFTER` seconds or more. SQLAlchemy's `pool_pre_ping` checks at every checkout, and asyncpg's
check is three round trips (begin, an empty statement, rollback): about half a millisecond of CPU per
request and per session, as much as the request's own statement. A connection used a moment ago is
taken as alive; if the server went away since, the first statement fails, SQLAlchemy sees a disconnect
and discards the connection and every connection older than it, so only the requests then in flight
fail, and the next ones connect afresh.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


PING_IDLE_AFTER = 10.0  # seconds


def _ping_when_idle(engine: AsyncEngine, idle_after: float) -> None:
    """Check a pooled connection at checkout when it has been idle `idle_after` seconds or more; one
    that does not answer is replaced (the pool retries the checkout with a new connection)."""
    dialect = engine.sync_engine.dialect

    def checked_in(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")  # absent: connected just now
        if idle_since is None or time.monotonic() - idle_since < idle_after:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError("the pooled connection did not answer") from error

    event.listen(engine.sync_engine, "checkin", checked_in)
    event.listen(engine.sync_engine, "checkout", checked_out)


def create_engine(url: str, *, echo: bool = False, ping_idle_after: float = PING_IDLE_AFTER) -> AsyncEngine:
    ensure_sqlite_directory(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("postgresql"):
        # No JIT compilation: it pays off for queries of seconds; here it added 40-50 ms to statements
        # of a few milliseconds whose estimated cost (correlated EXISTS under OR) crossed its threshold.
        kwargs.update(pool_size=10, max_overflow=10, connect_args={"server_settings": {"jit": "off"}})
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        _ping_when_idle(engine, ping_idle_after)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
