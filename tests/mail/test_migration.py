"""The mail migration goes down to the social schema and up again, on both dialects."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from server.storage import migrate
from server.storage.engine import create_engine

MAIL_TABLES = {
    "mail_settings",
    "mail_community_preferences",
    "mail_digest_marks",
    "mail_outbox",
    "mail_cursors",
    "mail_unsubscribe_tokens",
    "mail_messages",
}


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_the_mail_tables_go_down_and_up(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.downgrade(engine, "20261123_0002")
        async with engine.connect() as connection:
            tables = await connection.run_sync(_tables)
        assert not MAIL_TABLES & tables and "posts" in tables
        await migrate.upgrade(engine, "20261123_0003")
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) >= MAIL_TABLES
    finally:
        await engine.dispose()
