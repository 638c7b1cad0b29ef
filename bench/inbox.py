"""Inbox throughput: signed `Create(Note)` activities accepted per second, beside a bare endpoint.

Usage: python bench/inbox.py [-n 2000] [--concurrency 20] [--no-postgres] [--profile]

Starts, each as one uvicorn process on 127.0.0.1: a bare Starlette endpoint (reads the body, answers 202),
then Cercle on SQLite, then Cercle on PostgreSQL (a throwaway cluster from `tests/pg.py`). The sender is
a peer whose actor and keys are already known to the instance (the key fetch happens once per peer actor
in real life, then is cached), so the figure is the steady state of the inbox: size and depth limits, JSON
parse, RFC 9421 Ed25519 signature verification, digest, JSON-LD fast path, origin checks, HTML
sanitising, one INSERT, the 202. Requests are signed before the clock starts; the client posts them with
`--concurrency` in flight. `--profile` instead runs the Cercle app in this process under cProfile.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import tomli_w  # noqa: E402

from server.activitypub.auth import SignatureAuth, SignatureFormatMemory  # noqa: E402
from server.activitypub.keys import (  # noqa: E402
    generate_ed25519_key,
    generate_rsa_key,
    public_key_to_pem,
)
from server.config import load_settings  # noqa: E402
from server.storage import federation as store  # noqa: E402
from server.storage import migrate  # noqa: E402
from server.storage.engine import create_engine, session_factory  # noqa: E402
from tests.pg import free_port, throwaway_database  # noqa: E402

SENDER_PORT = 9  # nobody listens: the sender's actor is pre-seeded, never fetched
SENDER = f"http://127.0.0.1:{SENDER_PORT}/users/bench"
RSA_KEY, ED_KEY = generate_rsa_key(), generate_ed25519_key()


def bare_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def inbox(request: Request) -> Response:
        await request.body()
        return Response(status_code=202)

    return Starlette(routes=[Route("/inbox", inbox, methods=["POST"])])


@dataclass
class Target:
    name: str
    base: str
    process: subprocess.Popen[bytes]


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start")


@contextmanager
def serve(name: str, command: list[str], port: int, env: dict[str, str]) -> Iterator[Target]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/inbox", process)
        yield Target(name, f"http://127.0.0.1:{port}", process)
    finally:
        process.terminate()
        process.wait(timeout=20)


async def _seed(database_url: str, settings_values: dict[str, Any]) -> None:
    from server.services.instance import ensure_instance_keys

    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        settings = load_settings(None, **settings_values)
        async with session_factory(engine)() as session, session.begin():
            now = datetime.now(UTC)
            await ensure_instance_keys(session, settings, now)
            fields = store.RemoteActorFields(
                uri=SENDER,
                kind="Person",
                domain=f"127.0.0.1:{SENDER_PORT}",
                username="bench",
                display_name="Bench",
                summary="",
                url=None,
                inbox_url=f"{SENDER}/inbox",
                outbox_url=None,
                shared_inbox_url=None,
                followers_url=None,
                avatar_url=None,
                manually_approves=False,
                jurisdiction="FR",
                raw={},
            )
            keys = [
                store.RemoteKey(f"{SENDER}#main-key", "rsa", public_key_to_pem(RSA_KEY.public_key())),
                store.RemoteKey(f"{SENDER}#ed25519-key", "ed25519", public_key_to_pem(ED_KEY.public_key())),
            ]
            await store.upsert_remote_actor(session, fields, keys, now)
    finally:
        await engine.dispose()


def cercle_settings(directory: Path, port: int, database_url: str) -> dict[str, Any]:
    return {
        "domain": f"127.0.0.1:{port}",
        "scheme": "http",
        "secret_key": secrets.token_urlsafe(48),
        "database_url": database_url,
        "charter_dir": str(REPO / "charter"),
        "data_dir": str(directory / "var"),
        "media_dir": str(directory / "var" / "media"),
        "peers": [{"domain": f"127.0.0.1:{SENDER_PORT}", "jurisdiction": "FR"}],
    }


@contextmanager
def cercle(name: str, database_url: str) -> Iterator[Target]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="cercle-bench-") as tmp:
        directory = Path(tmp)
        values = cercle_settings(directory, port, database_url)
        asyncio.run(_seed(database_url, values))
        config = directory / "cercle.toml"
        config.write_text(tomli_w.dumps(values))
        env = {k: v for k, v in os.environ.items() if not k.startswith("CERCLE_")}
        env["CERCLE_CONFIG"] = str(config)
        command = [
            sys.executable, "-m", "uvicorn", "server.app:app_from_environment", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        with serve(name, command, port, env) as target:
            yield target


def signed_requests(base: str, count: int, first: int) -> list[httpx.Request]:
    auth = SignatureAuth(
        f"{SENDER}#main-key",
        RSA_KEY,
        memory=SignatureFormatMemory(lambda host: "rfc9421"),
        ed25519_key_id=f"{SENDER}#ed25519-key",
        ed25519_key=ED_KEY,
    )
    requests = []
    for n in range(first, first + count):
        note = {
            "id": f"{SENDER}/notes/{n}",
            "type": "Note",
            "attributedTo": SENDER,
            "content": f"<p>Note number {n}, with <a href='https://example.com'>a link</a>.</p>",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
        }
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{SENDER}/activities/{n}",
            "type": "Create",
            "actor": SENDER,
            "object": note,
            "to": note["to"],
        }
        request = httpx.Request(
            "POST",
            f"{base}/inbox",
            content=json.dumps(activity).encode(),
            headers={"Content-Type": "application/activity+json"},
        )
        auth.sign(request, "rfc9421")
        requests.append(request)
    return requests


async def post_all(requests: list[httpx.Request], concurrency: int) -> tuple[float, dict[int, int]]:
    statuses: dict[int, int] = {}
    pending = iter(requests)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            for request in pending:
                response = await client.send(request)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, statuses


def measure(target: Target, count: int, concurrency: int) -> float:
    asyncio.run(post_all(signed_requests(target.base, 100, 10_000_000), concurrency))  # warm-up
    elapsed, statuses = asyncio.run(post_all(signed_requests(target.base, count, 0), concurrency))
    accepted = statuses.get(202, 0)
    if accepted != count:
        print(f"  {target.name}: statuses {statuses}", file=sys.stderr)
    return accepted / elapsed


def profile(count: int) -> None:
    from server.app import create_app

    async def run() -> None:
        with tempfile.TemporaryDirectory(prefix="cercle-profile-") as tmp:
            directory = Path(tmp)
            url = f"sqlite+aiosqlite:///{directory / 'cercle.db'}"
            values = cercle_settings(directory, 8000, url)
            await _seed(url, values)
            app = create_app(load_settings(None, **values))
            transport = httpx.ASGITransport(app=app)
            requests = signed_requests("http://127.0.0.1:8000", count, 0)
            async with httpx.AsyncClient(transport=transport) as client:
                profiler = cProfile.Profile()
                profiler.enable()
                for request in requests:
                    await client.send(request)
                profiler.disable()
                federation = getattr(app.state, "federation", None)
                if federation is not None:
                    await federation.close()
            await app.state.ctx.close()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
            print(out.getvalue())

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="activities per target")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.serve_bare, log_level="warning", access_log=False)
        return
    if args.profile:
        profile(args.n)
        return
    results: dict[str, float] = {}
    port = free_port()
    bare = [sys.executable, __file__, "--serve-bare", str(port)]
    with serve("bare Starlette", bare, port, dict(os.environ)) as target:
        results[target.name] = measure(target, args.n, args.concurrency)
    with (
        tempfile.TemporaryDirectory(prefix="cercle-bench-db-") as tmp,
        cercle("Cercle, SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'cercle.db'}") as target,
    ):
        results[target.name] = measure(target, args.n, args.concurrency)
    if not args.no_postgres:
        with (
            throwaway_database("cercle_bench") as url,
            cercle("Cercle, PostgreSQL", url) as target,
        ):
            results[target.name] = measure(target, args.n, args.concurrency)
    baseline = results["bare Starlette"]
    print(f"signed Create(Note) activities accepted per second (n={args.n}, concurrency={args.concurrency})")
    for name, rate in results.items():
        print(f"  {name:<20} {rate:8.0f}/s   {rate / baseline:6.1%} of bare")


if __name__ == "__main__":
    main()
