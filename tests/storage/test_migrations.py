"""Every migration goes up and down on both dialects, and the models match the migrations."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from server.storage import migrate
from server.storage.engine import create_engine
from server.storage.schema import metadata
from server.storage.search import include_name


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": include_name}
    )
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_models_match_the_migrations(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_down_to_base_and_up_again(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await migrate.is_at_head(engine)
        await migrate.downgrade(engine, "base")
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) <= {"alembic_version"}
        assert await migrate.current_revision(engine) is None
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        async with engine.connect() as connection:
            assert {"users", "api_tokens"} <= await connection.run_sync(_tables)
    finally:
        await engine.dispose()


async def test_the_analytics_snapshots_come_and_go_with_their_migration(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert "analytics_snapshots" in await connection.run_sync(_tables)
        await migrate.downgrade(engine, "20261123_0009")
        async with engine.connect() as connection:
            tables = await connection.run_sync(_tables)
        assert "analytics_snapshots" not in tables and "backfills" in tables
        await migrate.upgrade(engine)
        async with engine.connect() as connection:
            assert "analytics_snapshots" in await connection.run_sync(_tables)
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()
