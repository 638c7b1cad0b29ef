"""The index tables are outside the models on purpose; with `include_name` the models match the
migrations, and the API routes are described in the OpenAPI document."""

from __future__ import annotations

import re
from typing import Any

import httpx
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from server.api import analytics as analytics_api
from server.api import search as search_api
from server.storage import migrate
from server.storage.engine import create_engine
from server.storage.schema import metadata
from server.storage.search import include_name


def _diff(connection: Connection, **opts: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, **opts})
    return list(compare_metadata(context, metadata))


async def test_models_match_once_the_index_tables_are_left_out(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff, include_name=include_name) == []
            unfiltered = await connection.run_sync(_diff)
            assert {d[1].name for d in unfiltered if d[0] == "remove_table"} >= {"fts_documents"}
            assert all("fts_" in str(getattr(d[1], "name", "")) for d in unfiltered)  # nothing else differs
    finally:
        await engine.dispose()


async def test_the_search_migration_goes_down_and_up(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.downgrade(engine, "20261123_0003")
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert not any(n.startswith("fts_") for n in names)
        await migrate.upgrade(engine)
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert "fts_documents" in names
    finally:
        await engine.dispose()


async def test_every_search_and_analytics_route_is_described(api: httpx.AsyncClient) -> None:
    described = (await api.get("/api/openapi.json")).json()["paths"]
    for route in [*search_api.routes, *analytics_api.routes]:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        assert "get" in described[path]


async def test_search_over_http(ctx: Any, api: httpx.AsyncClient) -> None:
    from tests.social.test_api import bearer

    ada = await bearer(ctx, "ada")
    await api.post("/api/v1/communities", json={"slug": "lab", "name": "Lab", "kind": "project"}, headers=ada)
    empty = await api.get("/api/v1/search", params={"q": "  "}, headers=ada)
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "q"
    bad = await api.get("/api/v1/search", params={"q": "x", "kind": "tweets"}, headers=ada)
    assert bad.status_code == 422
    assert (await api.get("/api/v1/search", params={"q": "lab"})).status_code == 401
    found = await api.get("/api/v1/search", params={"q": "nothing here"}, headers=ada)
    assert found.status_code == 200 and found.json() == {"items": [], "next_cursor": None}
    # Words reach the SQL as literals on PostgreSQL: quotes and operators stay words.
    written = await api.post(
        "/api/v1/posts",
        json={"body": "Ask O'Brien about the lab's budget", "communities": ["lab"]},
        headers=ada,
    )
    assert written.status_code == 201, written.text
    for hostile in (
        "o'brien",
        "lab's'); DROP TABLE posts; --",
        "budget\\' | !x",
        "x'' ' \"y",
        "a:* & (b <-> c)",
    ):
        answer = await api.get("/api/v1/search", params={"q": hostile}, headers=ada)
        assert answer.status_code == 200, (hostile, answer.text)
    hits = (await api.get("/api/v1/search", params={"q": "o'brien"}, headers=ada)).json()["items"]
    assert len(hits) == 1
    people = await api.get("/api/v1/search/people", params={"q": "python"}, headers=ada)
    assert people.status_code == 200 and people.json()["items"] == []
