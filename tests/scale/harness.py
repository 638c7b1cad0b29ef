"""Real processes for the scale tests: a Cercle instance's config and setup, `cercle run`/`cercle worker`
children, a fake peer instance on a real port, signed inbound activities, and database checks.

The peer (`FakePeer`) is a small, honest HTTP server in a thread of the test process: it serves its
people's actor documents (with their public keys, so Cercle verifies their signatures by fetching them)
and records every activity POSTed to any of its inboxes by id, counting duplicates, optionally answering
slowly. It signs what its people send with their private keys, as a real instance would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx
import pytest
import tomli_w
from cryptography.hazmat.primitives.asymmetric import rsa

from server.activitypub.auth import SignatureAuth, SignatureFormatMemory
from server.activitypub.keys import generate_rsa_key, public_key_to_pem
from server.activitypub.vocabulary import AS_CONTEXT, AS_PUBLIC, SECURITY_V1_CONTEXT
from server.config import load_settings
from server.context import build_context
from server.services import accounts, charter, communities
from tests.pg import free_port, plain_dsn
from tests.test_cli import CERCLE, REPO

AS_JSON = "application/activity+json"


# --- waiting ------------------------------------------------------------------------------------------


def wait_until(check: Callable[[], bool], what: str, seconds: float, interval: float = 0.25) -> None:
    """Poll `check` until it holds; fail the test after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(interval)


# --- the fake peer --------------------------------------------------------------------------------------


@dataclass
class PeerPerson:
    name: str
    uri: str
    key: rsa.RSAPrivateKey

    @property
    def key_id(self) -> str:
        return f"{self.uri}#main-key"

    def auth(self) -> SignatureAuth:
        return SignatureAuth(self.key_id, self.key, memory=SignatureFormatMemory(lambda host: "cavage"))


class FakePeer:
    """A peer instance on 127.0.0.1: actor documents out, activities in (recorded by id)."""

    def __init__(self, people: int, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.received: Counter[tuple[str, str]] = Counter()  # (inbox path, activity id) -> times
        self.arrivals = 0
        self.arrived = threading.Condition(self.lock)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        key = generate_rsa_key()  # one key pair, several owners: generation is slow, sharing is harmless
        self.people = [PeerPerson(f"p{i}", f"{self.base}/users/p{i}", key) for i in range(people)]
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-peer", daemon=True)

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        return f"http://{self.domain}"

    def __enter__(self) -> FakePeer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def actor_document(self, name: str) -> dict[str, Any] | None:
        person = next((p for p in self.people if p.name == name), None)
        if person is None:
            return None
        return {
            "@context": [AS_CONTEXT, SECURITY_V1_CONTEXT],
            "id": person.uri,
            "type": "Person",
            "preferredUsername": person.name,
            "name": f"Person {person.name}",
            "inbox": f"{person.uri}/inbox",
            "outbox": f"{person.uri}/outbox",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {
                "id": person.key_id,
                "owner": person.uri,
                "publicKeyPem": public_key_to_pem(person.key.public_key()),
            },
        }

    def snapshot(self) -> Counter[tuple[str, str]]:
        with self.lock:
            return Counter(self.received)

    def ids(self) -> Counter[str]:
        """Activity id -> times received, whatever the inbox."""
        counts: Counter[str] = Counter()
        for (_path, activity_id), times in self.snapshot().items():
            counts[activity_id] += times
        return counts

    def wait_arrivals(self, count: int, seconds: float) -> bool:
        """Block until `count` POSTs have arrived (counted before the slow answer)."""
        with self.arrived:
            return self.arrived.wait_for(lambda: self.arrivals >= count, timeout=seconds)

    def _record(self, path: str, body: bytes) -> None:
        try:
            activity_id = str(json.loads(body).get("id"))
        except (ValueError, AttributeError):
            activity_id = "<unreadable>"
        with self.arrived:
            self.received[(path, activity_id)] += 1
            self.arrivals += 1
            self.arrived.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self, status: int, body: bytes = b"", content_type: str = AS_JSON) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                doc = peer.actor_document(path.rsplit("/", 1)[-1]) if path.startswith("/users/") else None
                if doc is None:
                    self._answer(404, b'{"error": "not found"}')
                    return
                self._answer(200, json.dumps(doc).encode())

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                if not path.endswith("/inbox"):
                    self._answer(404)
                    return
                peer._record(path, body)
                if peer.delay:
                    time.sleep(peer.delay)
                with contextlib.suppress(OSError):  # the sender may have died meanwhile
                    self._answer(202)

        return Handler


def activity(person: PeerPerson, kind: str, obj: Any, suffix: str, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": f"{person.uri}/activities/{suffix}",
        "type": kind,
        "actor": person.uri,
        "object": obj,
    }
    doc.update(extra)
    return doc


def create_note(person: PeerPerson, group_uri: str, suffix: str) -> dict[str, Any]:
    note = {
        "id": f"{person.uri}/notes/{suffix}",
        "type": "Note",
        "attributedTo": person.uri,
        "name": f"Note {suffix}",
        "content": f"<p>Note {suffix} from {person.name}</p>",
        "to": [group_uri, AS_PUBLIC],
        "audience": group_uri,
        "published": "2026-01-05T10:00:00Z",
    }
    return activity(person, "Create", note, f"create-{suffix}", to=[group_uri, AS_PUBLIC])


def send_signed(
    http: httpx.Client, person: PeerPerson, public_base: str, send_base: str, path: str, doc: dict[str, Any]
) -> httpx.Response:
    """POST `doc` signed by `person` for the instance's public URL, through the web process at `send_base`
    (as a load balancer would forward it: same Host, same path)."""
    request = http.build_request(
        "POST", f"{public_base}{path}", content=json.dumps(doc).encode(), headers={"Content-Type": AS_JSON}
    )
    person.auth().sign(request, "cavage")
    request.url = httpx.URL(f"{send_base}{path}")
    return http.send(request)


# --- a Cercle instance ------------------------------------------------------------------------------------


@dataclass
class Instance:
    directory: Path
    config: Path
    database_url: str
    domain: str
    token: str = ""

    @property
    def base(self) -> str:
        return f"http://{self.domain}"

    def group_uri(self, slug: str) -> str:
        return f"{self.base}/c/{slug}"


def write_config(directory: Path, database_url: str, domain: str, peer: FakePeer) -> Instance:
    directory.mkdir(parents=True, exist_ok=True)
    values = {
        "domain": domain,
        "scheme": "http",
        "secret_key": secrets.token_urlsafe(48),
        "database_url": database_url,
        "charter": "fr",
        "charter_dir": str(REPO / "charter"),
        "data_dir": str(directory / "var"),
        "media_dir": str(directory / "var" / "media"),
        "registration": "open",
        "allow_private_addresses": True,
        "run_workers_in_process": False,
        "delivery_lease_seconds": 5,
        "password_time_cost": 1,
        "password_memory_kib": 64,
        "peers": [{"domain": peer.domain, "jurisdiction": "DE"}],
    }
    config = directory / "cercle.toml"
    config.write_text(tomli_w.dumps(values))
    return Instance(directory, config, database_url, domain)


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CERCLE_")}


def cercle_init(instance: Instance) -> None:
    """`cercle init` with the written config: migrates (a no-op on a fresh test database) and makes keys."""
    result = subprocess.run(
        [CERCLE, "--config", str(instance.config), "init"],
        cwd=instance.directory,
        env=environment(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def _prepare(instance: Instance, username: str, slug: str) -> str:
    """A person who accepted the charter, owns an open community, and has an API token (its secret)."""
    settings = load_settings(instance.config)
    ctx = build_context(settings)
    try:
        async with ctx.transaction() as session:
            now = ctx.clock.now()
            user = await accounts.create_user(
                session,
                settings,
                now,
                username=username,
                email=f"{username}@corp.example",
                password=None,
                display_name=username.title(),
            )
            await charter.accept_charter(session, now, ctx.charter, user, "en")
            await communities.create_community(
                session, settings, now, user, slug=slug, name=slug.title(), kind="practice", visibility="open"
            )
            return (await accounts.create_api_token(session, now, user, "scale test")).secret
    finally:
        await ctx.close()


def prepare(instance: Instance, username: str, slug: str) -> None:
    instance.token = asyncio.run(_prepare(instance, username, slug))


# --- processes ---------------------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Processes:
    """Children of the test, each logging to a file; all stopped at the end (terminate, then kill)."""

    directory: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, config: Path, *args: str) -> Child:
        log_path = self.directory / f"{name}.log"
        log = log_path.open("ab")
        popen = subprocess.Popen(
            [CERCLE, "--config", str(config), *args],
            cwd=self.directory,
            env=environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        child = Child(name, popen, log_path, log)
        self.children.append(child)
        return child

    def web(self, name: str, instance: Instance, port: int) -> Child:
        return self.start(name, instance.config, "run", "--port", str(port))

    def worker(self, name: str, instance: Instance) -> Child:
        return self.start(name, instance.config, "worker")

    def wait_ready(self, child: Child, port: int, seconds: float = 45) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if child.popen.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{child.name} did not become ready:\n{child.log_text()[-3000:]}")
            time.sleep(0.2)

    def wait_started(self, child: Child, marker: str = "Cercle worker for", seconds: float = 45) -> None:
        wait_until(
            lambda: marker in child.log_text() or child.popen.poll() is not None,
            f"{child.name} to start",
            seconds,
        )
        if child.popen.poll() is not None:
            pytest.fail(f"{child.name} exited:\n{child.log_text()[-3000:]}")

    def kill(self, child: Child) -> None:
        child.popen.send_signal(signal.SIGKILL)
        child.popen.wait(timeout=10)
        child.log.close()

    def stop_all(self) -> None:
        for child in self.children:
            if child.popen.poll() is None:
                child.popen.terminate()
        deadline = time.monotonic() + 15
        for child in self.children:
            try:
                child.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.popen.kill()
                child.popen.wait(timeout=10)
            if not child.log.closed:
                child.log.close()

    def logs(self) -> str:
        return "\n".join(f"--- {c.name} ---\n{c.log_text()[-4000:]}" for c in self.children)


@contextlib.contextmanager
def processes(directory: Path) -> Iterator[Processes]:
    group = Processes(directory)
    try:
        yield group
    finally:
        group.stop_all()


def unused_port() -> int:
    return free_port()


# --- database checks ----------------------------------------------------------------------------------------


def query(database_url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run one read query against the instance's PostgreSQL database from the test process."""

    async def go() -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(plain_dsn(database_url))
        try:
            return [tuple(row) for row in await connection.fetch(sql, *args)]
        finally:
            await connection.close()

    return asyncio.run(go())


def execute(database_url: str, sql: str, *args: Any) -> str:
    async def go() -> str:
        connection = await asyncpg.connect(plain_dsn(database_url))
        try:
            return str(await connection.execute(sql, *args))
        finally:
            await connection.close()

    return asyncio.run(go())


def scalar(database_url: str, sql: str, *args: Any) -> Any:
    rows = query(database_url, sql, *args)
    return rows[0][0] if rows else None
