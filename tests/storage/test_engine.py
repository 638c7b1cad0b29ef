"""PostgreSQL connections: checked before use only after being idle, replaced when dead, no JIT."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.engine import create_engine


async def _backend(url: str, *, ping_idle_after: float) -> tuple[AsyncEngine, int]:
    engine = create_engine(url, ping_idle_after=ping_idle_after)
    async with engine.connect() as connection:
        pid = int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())
    return engine, pid  # the connection is back in the pool


async def _terminate(url: str, pid: int) -> None:
    other = create_engine(url)
    async with other.connect() as connection:
        assert (
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        ).scalar_one()
    await other.dispose()


async def test_an_idle_connection_that_died_is_replaced_before_use(pg_url: str) -> None:
    engine, pid = await _backend(pg_url, ping_idle_after=0.0)
    await _terminate(pg_url, pid)
    async with engine.connect() as connection:
        again = int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())
    assert again != pid
    await engine.dispose()


async def test_a_connection_used_a_moment_ago_is_not_checked_and_a_dead_one_is_discarded(pg_url: str) -> None:
    engine, pid = await _backend(pg_url, ping_idle_after=3600.0)
    await _terminate(pg_url, pid)
    with pytest.raises(DBAPIError) as failed:  # not checked: the statement meets the dead connection
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    assert failed.value.connection_invalidated
    async with engine.connect() as connection:
        again = int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())
    assert again != pid
    await engine.dispose()


async def test_no_jit_compilation_on_the_applications_connections(pg_url: str) -> None:
    engine = create_engine(pg_url)
    async with engine.connect() as connection:
        assert (await connection.execute(text("SHOW jit"))).scalar_one() == "off"
    await engine.dispose()
