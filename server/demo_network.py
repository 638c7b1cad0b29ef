"""`cercle demo`: three federated instances on 127.0.0.1, with people and communities that span them.

Paris (FR, charter fr), Munich (DE, charter de) and Chicago (US, charter us), each with its own
SQLite database under `var/demo/<name>/`, its own process (`cercle run`), listing the two others
as peers. Paris gets the full demo data; Munich and Chicago a few people each. Then, through the
public API and real federation, people in Munich and Chicago join Paris communities (an open one
directly, a closed one approved by its animator), post and comment across borders.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import tomli_w

import server
from server.config import load_settings
from server.context import build_context
from server.services import accounts, charter, demo
from server.storage import migrate
from server.storage.accounts import get_user_by_username

SOURCE_ROOT = Path(server.__file__).resolve().parent.parent


@dataclass
class Node:
    name: str
    port: int
    jurisdiction: str
    charter: str
    people: list[tuple[str, str]]
    directory: Path = field(default=Path())
    tokens: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.domain}"


def nodes(base_port: int) -> list[Node]:
    return [
        Node("paris", base_port, "FR", "fr", []),
        Node("munich", base_port + 1, "DE", "de", [("jonas", "Jonas Weber"), ("anna", "Anna Schmidt")]),
        Node("chicago", base_port + 2, "US", "us", [("mike", "Mike Johnson"), ("emily", "Emily Davis")]),
    ]


def write_config(node: Node, others: list[Node], root: Path, charter_dir: Path) -> Path:
    node.directory = root / node.name
    node.directory.mkdir(parents=True, exist_ok=True)
    path = node.directory / "cercle.toml"
    if not path.exists():
        values = {
            "domain": node.domain,
            "scheme": "http",
            "instance_name": f"Cercle {node.name.title()}",
            "secret_key": secrets.token_urlsafe(48),
            "database_url": f"sqlite+aiosqlite:///{node.directory / 'cercle.db'}",
            "charter": node.charter,
            "charter_dir": str(charter_dir),
            "data_dir": str(node.directory),
            "media_dir": str(node.directory / "media"),
            "registration": "open",
            "allow_private_addresses": True,
            "peers": [{"domain": o.domain, "jurisdiction": o.jurisdiction} for o in others],
        }
        path.write_text(tomli_w.dumps(values))
        path.chmod(0o600)
    return path


async def prepare(node: Node, config: Path) -> str | None:
    """Migrate, add people (every one accepts the charter), make API tokens; the demo password."""
    settings = load_settings(config)
    ctx = build_context(settings)
    try:
        await migrate.upgrade(ctx.engine)
        login = await demo.seed(ctx) if node.name == "paris" else None
        password = login.password if login else secrets.token_urlsafe(12)
        async with ctx.transaction() as session:
            now = ctx.clock.now()
            for username, name in node.people:
                if await get_user_by_username(session, username) is None:
                    user = await accounts.create_user(
                        session,
                        settings,
                        now,
                        username=username,
                        email=f"{username}@{node.name}.example",
                        password=password,
                        display_name=name,
                    )
                    await charter.accept_charter(session, now, ctx.charter, user, "en")
            for username in [p[0] for p in node.people] + (["lea", "karim"] if node.name == "paris" else []):
                holder = await get_user_by_username(session, username)
                assert holder is not None
                node.tokens[username] = (await accounts.create_api_token(session, now, holder, "demo")).secret
        return password
    finally:
        await ctx.close()


def start(node: Node, config: Path) -> None:
    log = (node.directory / "run.log").open("ab")
    node.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "server.cli", "--config", str(config), "run", "--port", str(node.port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ},
        cwd=SOURCE_ROOT,  # so `-m server.cli` runs the very code this process runs
    )


def wait_ready(node: Node, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{node.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or (node.process and node.process.poll() is not None):
            raise RuntimeError(f"{node.name} did not start; see {node.directory / 'run.log'}")
        time.sleep(0.3)


def until(check: Callable[[], bool], timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False


def api(node: Node, user: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {node.tokens[user]}"}
    return httpx.request(method, f"{node.url}{path}", headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


def federate(paris: Node, munich: Node, chicago: Node) -> list[str]:
    """The cross-border activity of the demo, through the public API; returns what was checked."""
    done: list[str] = []
    api(munich, "jonas", "POST", "/api/v1/communities/remote", json={"handle": f"lean@{paris.domain}"})
    api(
        chicago, "mike", "POST", "/api/v1/communities/remote", json={"handle": f"data-science@{paris.domain}"}
    )
    api(munich, "anna", "POST", "/api/v1/communities/remote", json={"handle": f"projet-atlas@{paris.domain}"})

    def member(node: Node, user: str, slug: str) -> bool:
        found = api(node, user, "GET", f"/api/v1/communities/{slug}@{paris.domain}")
        return found.status_code == 200 and (found.json().get("my_membership") or {}).get("state") == "active"

    if until(lambda: member(munich, "jonas", "lean")):
        done.append("jonas@munich joined the open community lean@paris")

    def asked(handle: str) -> bool:
        pending = api(paris, "lea", "GET", "/api/v1/communities/projet-atlas/members?state=pending").json()
        return any(m["person"]["handle"] == handle for m in pending.get("items", []))

    if until(lambda: asked(f"@anna@{munich.domain}")):
        api(paris, "lea", "POST", f"/api/v1/communities/projet-atlas/requests/anna@{munich.domain}/approve")
        if until(lambda: member(munich, "anna", "projet-atlas")):
            done.append("anna@munich asked to join the closed projet-atlas@paris and lea approved")
    post = api(
        munich,
        "jonas",
        "POST",
        "/api/v1/posts",
        json={
            "title": "Kaizen in Munich",
            "body": "Our **5S** week in the Munich plant, photos to follow. #lean",
            "communities": [f"lean@{paris.domain}"],
        },
    )
    if post.status_code == 201 and until(
        lambda: any(
            p["title"] == "Kaizen in Munich"
            for p in api(paris, "karim", "GET", "/api/v1/communities/lean/feed").json()["items"]
        )
    ):
        done.append("jonas@munich posted in lean@paris; Paris shows it")
        remote = next(
            p
            for p in api(paris, "karim", "GET", "/api/v1/communities/lean/feed").json()["items"]
            if p["title"] == "Kaizen in Munich"
        )
        comment = api(
            paris, "karim", "POST", f"/api/v1/posts/{remote['id']}/comments", json={"body": "Great results!"}
        )

        def thread() -> dict[str, Any]:
            found: dict[str, Any] = api(
                munich, "jonas", "GET", f"/api/v1/posts/{post.json()['id']}/thread"
            ).json()
            return found

        if until(lambda: thread().get("post", {}).get("comment_count") == 1):
            done.append("karim@paris commented; the comment reached Munich")
            api(paris, "karim", "DELETE", f"/api/v1/posts/{comment.json()['id']}")
            if until(lambda: [c["deleted"] for c in thread().get("comments", [])] == [True]):
                done.append("karim@paris deleted his comment; Munich keeps only a tombstone")
    return done


def run_demo(
    base_port: int, root: Path, charter_dir: Path, *, check: bool, echo: Callable[[str], None]
) -> int:
    network = nodes(base_port)
    configs = {}
    for node in network:
        configs[node.name] = write_config(node, [o for o in network if o is not node], root, charter_dir)
    passwords = {}
    for node in network:
        passwords[node.name] = asyncio.run(prepare(node, configs[node.name]))
    try:
        for node in network:
            start(node, configs[node.name])
        for node in network:
            wait_ready(node)
        paris, munich, chicago = network
        done = federate(paris, munich, chicago)
        for line in done:
            echo(f"  ✓ {line}")
        echo("")
        for node in network:
            people = ", ".join(
                ["camille", "lea", "karim"] if node.name == "paris" else [p[0] for p in node.people]
            )
            echo(
                f"{node.name.title():8} {node.url}   ({node.jurisdiction}, charter {node.charter})   "
                f"sign in as {people} — password {passwords[node.name]}"
            )
        if check:
            return 0 if len(done) == 5 else 1
        echo("\nThree instances are running. Press Ctrl-C to stop them.")
        stop = False

        def handler(signum: int, frame: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
        while not stop and all(n.process and n.process.poll() is None for n in network):
            time.sleep(0.5)
        return 0
    finally:
        for node in network:
            if node.process and node.process.poll() is None:
                node.process.terminate()
        for node in network:
            if node.process:
                node.process.wait(timeout=20)
