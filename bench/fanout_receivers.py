"""Honest peer inboxes for the fan-out benchmark: N uvicorn servers in one process, one event loop.

    python bench/fanout_receivers.py --count 30 --keys /tmp/keys.json

Each server listens on a free port of 127.0.0.1 and answers `POST <any path>` with 202 (its shared inbox).
For every activity it writes one line on stdout, flushed at once, so the benchmark sees arrivals as
they happen:

    A <port> <monotonic seconds> <activity id> <inner object id or ->

`time.monotonic()` is CLOCK_MONOTONIC on Linux, shared by every process on the machine, so the
benchmark compares it with its own clock. The first line is `READY <port> <port> ...`.

Signature checking is off at start; `POST /_verify/1` (to any of the servers) turns it on for all of
them, `/_verify/0` off. When on, each request is checked with `server.activitypub.signatures` against the
public keys in the `--keys` file (a JSON object key id -> PEM, read again when an unknown key id
arrives); a failure answers 401 and writes `F <port> <reason>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import uvicorn  # noqa: E402

from server.activitypub.keys import PublicKey, load_public_key_pem  # noqa: E402
from server.activitypub.signatures import (  # noqa: E402
    SignatureFailure,
    parse_request_signature,
    verify_parsed,
)

MAX_SKEW = timedelta(minutes=5)


class Keys:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.known: dict[str, PublicKey] = {}

    def get(self, key_id: str) -> PublicKey | None:
        if key_id not in self.known and self.path is not None and self.path.exists():
            for found, pem in json.loads(self.path.read_text()).items():
                self.known.setdefault(found, load_public_key_pem(pem))
        return self.known.get(key_id)


class State:
    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self.verify = False
        self.out = sys.stdout

    def emit(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()


def make_app(state: State, port: int) -> Any:
    """A bare ASGI inbox: the receiving side costs as little as a real inbox's network part."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        path: str = scope["path"]
        status = 202
        if path.startswith("/_verify/"):
            state.verify = path.endswith("/1")
            status = 204
        elif scope["method"] != "POST":
            status = 405
        else:
            reason = check(state, scope, body, port) if state.verify else None
            if reason is not None:
                status = 401
                state.emit(f"F {port} {reason.replace(' ', '_')}")
            else:
                now = time.monotonic()
                try:
                    activity = json.loads(body)
                    outer = str(activity.get("id"))
                    inner = activity.get("object")
                    inner_id = str(inner.get("id")) if isinstance(inner, dict) else "-"
                except (ValueError, AttributeError):
                    outer, inner_id = "-", "-"
                state.emit(f"A {port} {now:.6f} {outer} {inner_id}")
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    return app


def check(state: State, scope: dict[str, Any], body: bytes, port: int) -> str | None:
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    query = scope.get("query_string", b"").decode("latin-1")
    url = f"http://127.0.0.1:{port}{scope['path']}" + (f"?{query}" if query else "")
    parsed = parse_request_signature(scope["method"], url, headers)
    if isinstance(parsed, SignatureFailure):
        return parsed.reason
    key = state.keys.get(parsed.key_id)
    if key is None:
        return f"unknown key {parsed.key_id}"
    result = verify_parsed(parsed, key, body=body, now=datetime.now(UTC), max_skew=MAX_SKEW)
    return None if result.valid else result.reason


class QuietServer(uvicorn.Server):
    """Several servers share one loop: the process handles signals once, for all of them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run(count: int, keys: Path | None) -> None:
    state = State(Keys(keys))
    sockets = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    servers = []
    for sock in sockets:
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            make_app(state, port),
            log_level="warning",
            access_log=False,
            lifespan="off",
            backlog=256,
        )
        servers.append(QuietServer(config))
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    tasks = [
        asyncio.create_task(server.serve(sockets=[sock]))
        for server, sock in zip(servers, sockets, strict=True)
    ]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            break
        await asyncio.sleep(0.05)
    state.emit("READY " + " ".join(str(sock.getsockname()[1]) for sock in sockets))
    await asyncio.gather(*tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--keys", type=Path)
    args = parser.parse_args()
    asyncio.run(run(args.count, args.keys))


if __name__ == "__main__":
    main()
