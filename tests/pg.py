"""A throwaway PostgreSQL cluster for the tests, started with the installed `initdb`/`pg_ctl`.

When run as root (as in CI containers), the cluster runs as the `postgres` user, because
`initdb` refuses root; its directories are created for that user. On a laptop it runs as you.
Set `CERCLE_TEST_PG_URL` (a `postgresql+asyncpg://` URL to a server where the user may
create databases) to use an existing server instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    url: str  # postgresql+asyncpg://user@127.0.0.1:port/postgres
    directory: Path | None
    pg_ctl: str | None
    run_as: list[str]

    def stop(self) -> None:
        if self.directory is None or self.pg_ctl is None:
            return
        subprocess.run(
            [*self.run_as, self.pg_ctl, "-D", str(self.directory / "data"), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.directory, ignore_errors=True)


def start_cluster() -> Cluster:
    external = os.environ.get("CERCLE_TEST_PG_URL")
    if external:
        return Cluster(url=external, directory=None, pg_ctl=None, run_as=[])
    initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) not found; install PostgreSQL 15")
    directory = Path(tempfile.mkdtemp(prefix="cercle-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        os.chown(directory, postgres.pw_uid, postgres.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, sockets = directory / "data", directory / "sockets"
    subprocess.run([*run_as, "mkdir", "-p", str(sockets)], check=True)
    subprocess.run(
        [
            *run_as,
            initdb,
            "-D",
            str(data),
            "-U",
            "cercle",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    result = subprocess.run(
        [
            *run_as,
            pg_ctl,
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(directory / "log"),
            "-w",
            "-t",
            "60",
            "start",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        log = (directory / "log").read_text() if (directory / "log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {result.stderr}\n{log}")
    return Cluster(
        url=f"postgresql+asyncpg://cercle@127.0.0.1:{port}/postgres",
        directory=directory,
        pg_ctl=pg_ctl,
        run_as=run_as,
    )


def plain_dsn(url: str) -> str:
    """The asyncpg DSN for a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def with_database(url: str, name: str) -> str:
    base = url.rsplit("/", 1)[0]
    return f"{base}/{name}"


@contextlib.contextmanager
def throwaway_database(name: str) -> Iterator[str]:
    """A fresh empty database `name` in a throwaway cluster (for benchmarks): its URL; stopped afterwards."""
    cluster = start_cluster()
    try:

        async def create() -> None:
            connection = await asyncpg.connect(plain_dsn(cluster.url))
            try:
                await connection.execute(f'CREATE DATABASE "{name}"')
            finally:
                await connection.close()

        asyncio.run(create())
        yield with_database(cluster.url, name)
    finally:
        cluster.stop()
