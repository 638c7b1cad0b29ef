"""Two real `cercle run` processes on 127.0.0.1, each the other's peer, federating over real HTTP.

They discover each other by WebFinger, fetch each other's actors with signed GETs (each verifying the
other's signature by fetching its instance actor), and a signed activity goes from one inbox to the other,
which fetches the sender's actor from the first process and processes the activity.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from server.activitypub.auth import SignatureAuth, SignatureFormatMemory
from server.activitypub.keys import load_private_key_pem
from tests.pg import free_port
from tests.test_cli import CERCLE, REPO, cercle

AS_JSON = "application/activity+json"


@dataclass
class Process:
    directory: Path
    port: int
    env: dict[str, str]

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        return f"http://{self.domain}"

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.directory / "var" / "cercle.db", timeout=10)

    def auth(self, actor_path: str) -> SignatureAuth:
        """Signing auth for a local actor, with its private keys read from the instance's database."""
        with self.db() as db:
            rows = db.execute(
                "SELECT k.algorithm, k.key_id, k.private_pem FROM actor_keys k "
                "JOIN actors a ON a.id = k.actor_id WHERE a.uri = ?",
                (f"{self.base}{actor_path}",),
            ).fetchall()
        found = {algorithm: (key_id, load_private_key_pem(pem)) for algorithm, key_id, pem in rows}
        (rsa_id, rsa_key), (ed_id, ed_key) = found["rsa"], found["ed25519"]
        assert isinstance(rsa_key, rsa.RSAPrivateKey) and isinstance(ed_key, ed25519.Ed25519PrivateKey)
        memory = SignatureFormatMemory(lambda host: "rfc9421")
        return SignatureAuth(rsa_id, rsa_key, memory=memory, ed25519_key_id=ed_id, ed25519_key=ed_key)


def _prepare(directory: Path, port: int, peer_port: int, user: str) -> Process:
    directory.mkdir()
    domain = f"127.0.0.1:{port}"
    assert cercle("init", "--domain", domain, cwd=directory).returncode == 0
    created = cercle(
        "user", "create", user, "--email", f"{user}@corp.example", "--no-password", cwd=directory
    )
    assert created.returncode == 0, created.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERCLE_")}
    env["CERCLE_CHARTER_DIR"] = str(REPO / "charter")
    env["CERCLE_PEERS"] = json.dumps([{"domain": f"127.0.0.1:{peer_port}", "jurisdiction": "DE"}])
    return Process(directory, port, env)


@contextmanager
def running(process: Process) -> Iterator[None]:
    log = (process.directory / "run.log").open("wb")
    child = subprocess.Popen(
        [CERCLE, "run", "--port", str(process.port)],
        cwd=process.directory,
        env=process.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{process.base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or child.poll() is not None:
                raise RuntimeError((process.directory / "run.log").read_text())
            time.sleep(0.2)
        yield
    finally:
        child.terminate()
        child.wait(timeout=20)
        log.close()


def _wait_for(check: object, what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not callable(check) or not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_two_instances_discover_fetch_and_deliver(tmp_path: Path) -> None:
    port_a, port_b = free_port(), free_port()
    a = _prepare(tmp_path / "a", port_a, port_b, "alice")
    b = _prepare(tmp_path / "b", port_b, port_a, "bob")
    with running(a), running(b), httpx.Client(timeout=10) as http:
        # Discovery: WebFinger on each side gives the actor URL.
        actors = {}
        for process, user in ((a, "alice"), (b, "bob")):
            jrd = http.get(
                f"{process.base}/.well-known/webfinger", params={"resource": f"acct:{user}@{process.domain}"}
            ).json()
            actors[user] = next(link["href"] for link in jrd["links"] if link["rel"] == "self")
        assert actors == {"alice": f"{a.base}/users/alice", "bob": f"{b.base}/users/bob"}

        # Signed GETs each way, as the instance actors: each side verifies by fetching the other's /actor.
        for signer, user in ((a, "bob"), (b, "alice")):
            response = http.get(actors[user], headers={"Accept": AS_JSON}, auth=signer.auth("/actor"))
            assert response.status_code == 200, response.text
            assert response.json()["type"] == "Person"
            unsigned_tampered = http.get(
                actors[user], headers={"Accept": AS_JSON, "Signature": 'keyId="x",signature="AAAA"'}
            )
            assert unsigned_tampered.status_code == 401

        # A signed activity from alice (A) to bob's inbox (B): 202, then B fetches alice from A and processes.
        alice_doc = http.get(actors["alice"], headers={"Accept": AS_JSON}).json()
        update = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{actors['alice']}#updates/1",
            "type": "Update",
            "actor": actors["alice"],
            "object": alice_doc,
        }
        delivered = http.post(
            f"{actors['bob']}/inbox",
            content=json.dumps(update).encode(),
            headers={"Content-Type": AS_JSON},
            auth=a.auth("/users/alice"),
        )
        assert delivered.status_code == 202, delivered.text

        def processed() -> bool:
            with b.db() as db:
                row = db.execute(
                    "SELECT outcome FROM inbox_activities WHERE activity_uri = ?", (update["id"],)
                ).fetchone()
            return row is not None and row[0] == "updated actor"

        _wait_for(processed, "bob's instance to process the Update")
        with b.db() as db:
            stored = db.execute(
                "SELECT domain, local, jurisdiction, fetched_at FROM actors WHERE uri = ?", (actors["alice"],)
            ).fetchone()
        assert stored[:3] == (a.domain, 0, "DE") and stored[3] is not None
        again = http.post(
            f"{actors['bob']}/inbox",
            content=json.dumps(update).encode(),
            headers={"Content-Type": AS_JSON},
            auth=a.auth("/users/alice"),
        )
        assert again.status_code == 202
        with b.db() as db:
            assert db.execute("SELECT count(*) FROM inbox_activities").fetchone() == (1,)
