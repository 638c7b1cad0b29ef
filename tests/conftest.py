"""Shared fixtures: fresh databases on SQLite and PostgreSQL, settings, an app and a client."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest

from server.app import create_app
from server.clock import FakeClock
from server.config import Settings, load_settings
from server.context import Context, build_context
from server.storage import migrate
from server.storage.engine import create_engine
from tests.pg import Cluster, plain_dsn, start_cluster, with_database

REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")
DIALECTS_USED: set[str] = set()
_counter = itertools.count()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    used = ", ".join(sorted(DIALECTS_USED)) or "none"
    terminalreporter.write_line(f"database dialects exercised: {used}")


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to completion from synchronous fixture code, even when an event loop is running
    (a lazily requested fixture may be set up from inside an async test's loop): then in a thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    try:
        cluster = start_cluster()
    except (RuntimeError, OSError, KeyError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    yield cluster
    cluster.stop()


async def _create_database(cluster_url: str, name: str, template: str | None = None) -> None:
    connection = await asyncpg.connect(plain_dsn(cluster_url))
    try:
        # FILE_COPY: a third of the time of PostgreSQL 15's default (WAL_LOG) for a database this small
        clause = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
        await connection.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def pg_template(pg_cluster: Cluster) -> str:
    """A database migrated to head, copied for every test (much faster than migrating each time)."""
    name = f"cercle_template_{os.getpid()}"
    run_coroutine(_create_database(pg_cluster.url, name))
    run_coroutine(_migrate(with_database(pg_cluster.url, name)))
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_coroutine(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


def fresh_sqlite_url(template: Path, directory: Path) -> str:
    path = directory / f"cercle-{next(_counter)}.db"
    shutil.copyfile(template, path)
    DIALECTS_USED.add("sqlite")
    return f"sqlite+aiosqlite:///{path}"


async def _drop_database(cluster_url: str, name: str) -> None:
    connection = await asyncpg.connect(plain_dsn(cluster_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def fresh_pg_url(cluster: Cluster, template: str, request: pytest.FixtureRequest) -> str:
    """A database copied from the migrated template, dropped when the test ends (a run makes about
    600: kept, they filled several GB of disk and slowed the cluster's removal at the end)."""
    name = f"cercle_test_{os.getpid()}_{next(_counter)}"
    run_coroutine(_create_database(cluster.url, name, template))
    request.addfinalizer(lambda: run_coroutine(_drop_database(cluster.url, name)))
    DIALECTS_USED.add("postgresql")
    return with_database(cluster.url, name)


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh SQLite database file migrated to head."""
    return fresh_sqlite_url(sqlite_template, tmp_path)


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    """A fresh PostgreSQL database migrated to head, in the throwaway cluster."""
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    template: str = request.getfixturevalue("pg_template")
    return fresh_pg_url(cluster, template, request)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on each dialect."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "domain": "localhost:8000",
        "scheme": "http",
        "secret_key": "test-secret-key-" + "x" * 32,
        "database_url": database_url,
        "charter_dir": REPO / "charter",
        "data_dir": tmp_path / "var",
        "media_dir": tmp_path / "var" / "media",
        "registration": "open",
        "password_time_cost": 1,
        "password_memory_kib": 64,
    }
    values.update(overrides)
    return load_settings(None, **values)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
async def ctx(settings: Settings, clock: FakeClock) -> AsyncIterator[Context]:
    context = build_context(settings, clock=clock)
    yield context
    await context.close()


@pytest.fixture
async def client(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx.settings, context=ctx)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as http:
        yield http
