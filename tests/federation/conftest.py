"""Two (or three) real Cercle apps in one process, talking HTTP through `httpx.ASGITransport`.

Each instance has its own database and its own `Context`, whose outbound client goes through one
`Router` transport that hands a request to the app owning its host. So when Paris checks a signature
from Munich, it fetches Munich's actor from the Munich app, signed as Paris's instance actor, exactly as
over the network.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.types import ASGIApp

from server.activitypub.auth import SignatureAuth, SignatureFormat, SignatureFormatMemory
from server.activitypub.keys import generate_rsa_key, load_private_key_pem
from server.activitypub.vocabulary import AS_CONTEXT
from server.app import create_app
from server.clock import FakeClock
from server.config import Settings
from server.context import Context, build_context
from server.federation.state import Federation
from server.services import actors as actors_service
from server.services.accounts import create_user
from server.services.actors import create_local_group, ensure_actor_keys
from server.storage.social import Actor, ActorKey, Community, InboxActivity, Membership
from tests.conftest import fresh_pg_url, fresh_sqlite_url, make_settings

PEERS = [
    {"domain": "paris.example", "jurisdiction": "FR"},
    {"domain": "munich.example", "jurisdiction": "DE"},
    {"domain": "lyon.example", "jurisdiction": "FR"},
]
CHARTERS = {"paris.example": "fr", "munich.example": "de", "lyon.example": "fr"}


class Router(httpx.AsyncBaseTransport):
    """Routes each request to the in-process app serving its host; unknown hosts fail to connect."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.ASGITransport] = {}
        self.seen: list[httpx.Request] = []

    def add(self, host: str, app: ASGIApp) -> None:
        self.apps[host] = httpx.ASGITransport(app=app, client=("10.0.0.1", 50000))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        transport = self.apps.get(request.url.netloc.decode("ascii"))
        if transport is None:
            raise httpx.ConnectError(f"no route to {request.url.host}", request=request)
        return await transport.handle_async_request(request)


@dataclass
class Instance:
    domain: str
    settings: Settings
    ctx: Context
    app: Starlette
    http: httpx.AsyncClient
    clock: FakeClock
    formats: SignatureFormatMemory = field(default_factory=SignatureFormatMemory)

    @property
    def base(self) -> str:
        return f"https://{self.domain}"

    @property
    def fed(self) -> Federation:
        fed: Federation | None = getattr(self.app.state, "federation", None)
        if fed is None:
            fed = Federation(self.ctx)
            self.app.state.federation = fed
            fed.queue.start()
        return fed

    async def settle(self) -> None:
        """Wait until every accepted activity has been processed."""
        fed: Federation | None = getattr(self.app.state, "federation", None)
        if fed is not None:
            await fed.queue.join()

    async def add_user(self, username: str, display_name: str = "") -> Actor:
        async with self.ctx.transaction() as session:
            user = await create_user(
                session,
                self.settings,
                self.clock.now(),
                username=username,
                email=f"{username}@{self.domain}",
                password=None,
                display_name=display_name,
            )
            actor = await session.get(Actor, user.actor_id)
            assert actor is not None
            await ensure_actor_keys(session, actor, self.clock.now())
            return actor

    async def add_community(self, slug: str, visibility: str, members: Sequence[str] = ()) -> Community:
        now = self.clock.now()
        async with self.ctx.transaction() as session:
            actor = await create_local_group(
                session, self.settings, now, slug=slug, name=slug.title(), manually_approves=False
            )
            community = Community(
                actor_id=actor.id,
                slug=slug,
                name=slug.title(),
                description=f"The {slug} community",
                kind="practice",
                tags=[],
                visibility=visibility,
                local=True,
                created_at=now,
            )
            session.add(community)
            await session.flush()
            for uri in members:
                member = (await session.execute(select(Actor).where(Actor.uri == uri))).scalar_one()
                session.add(
                    Membership(
                        community_id=community.id,
                        actor_id=member.id,
                        role="moderator" if member.local else "member",
                        state="active",
                        created_at=now,
                        updated_at=now,
                    )
                )
            return community

    async def signer(self, username: str, at: datetime | None = None) -> SignatureAuth:
        """The signing auth of a local person, with their keys read from this instance's database."""
        return await self.signer_for(f"{self.base}/users/{username}", at)

    async def signer_for(self, uri: str, at: datetime | None = None) -> SignatureAuth:
        """The signing auth of any local actor (a Group too), keys read from this instance's database."""
        async with self.ctx.sessions() as session:
            actor = (await session.execute(select(Actor).where(Actor.uri == uri))).scalar_one()
            rows = (await session.execute(select(ActorKey).where(ActorKey.actor_id == actor.id))).scalars()
            by_algorithm = {row.algorithm: row for row in rows}
        rsa_row, ed_row = by_algorithm["rsa"], by_algorithm["ed25519"]
        assert rsa_row.private_pem and ed_row.private_pem
        rsa_key, ed_key = load_private_key_pem(rsa_row.private_pem), load_private_key_pem(ed_row.private_pem)
        assert isinstance(rsa_key, rsa.RSAPrivateKey) and isinstance(ed_key, ed25519.Ed25519PrivateKey)
        return SignatureAuth(
            rsa_row.key_id,
            rsa_key,
            memory=self.formats,
            ed25519_key_id=ed_row.key_id,
            ed25519_key=ed_key,
            clock=self.clock.now if at is None else (lambda: at),
        )

    async def inbox_rows(self) -> list[InboxActivity]:
        async with self.ctx.sessions() as session:
            return list((await session.execute(select(InboxActivity).order_by(InboxActivity.id))).scalars())

    async def remote_actor(self, uri: str) -> Actor | None:
        async with self.ctx.sessions() as session:
            return (await session.execute(select(Actor).where(Actor.uri == uri))).scalar_one_or_none()

    async def snapshot(self) -> dict[str, Any]:
        """What is stored, without timestamps of fetches: bad input must leave this unchanged."""
        async with self.ctx.sessions() as session:
            actors = (await session.execute(select(Actor).order_by(Actor.uri))).scalars().all()
            keys = (await session.execute(select(ActorKey.key_id, ActorKey.public_pem))).all()
            inbox = (await session.execute(select(InboxActivity).order_by(InboxActivity.id))).scalars().all()
        return {
            "actors": [(a.uri, a.display_name, a.summary, a.deleted_at, a.inbox_url) for a in actors],
            "keys": sorted(tuple(k) for k in keys),
            "inbox": [(r.activity_uri, json.dumps(r.raw, sort_keys=True), r.outcome) for r in inbox],
        }


def activity_doc(actor: str, kind: str, obj: Any, *, id: str | None = None, **extra: Any) -> dict[str, Any]:
    doc = {"@context": AS_CONTEXT, "id": id or f"{actor}/activities/{kind.lower()}-1", "type": kind}
    doc.update({"actor": actor, "object": obj, **extra})
    return doc


async def deliver(
    sender: Instance,
    username: str,
    target: Instance,
    activity: dict[str, Any],
    *,
    path: str = "/inbox",
    fmt: SignatureFormat = "cavage",
    tamper: Callable[[httpx.Request], None] | None = None,
    body: bytes | None = None,
    sign_at: datetime | None = None,
) -> httpx.Response:
    """POST `activity` to `target`, signed by `username` of `sender`; `tamper` edits the signed request."""
    auth = await sender.signer(username, sign_at)
    content = body if body is not None else json.dumps(activity).encode()
    request = target.http.build_request(
        "POST", f"{target.base}{path}", content=content, headers={"Content-Type": "application/activity+json"}
    )
    auth.sign(request, fmt)
    if tamper is not None:
        tamper(request)
    return await target.http.send(request)


async def _instance(
    domain: str, database_url: str, tmp_path: Path, router: Router, clock: FakeClock, **overrides: Any
) -> Instance:
    values: dict[str, Any] = {
        "domain": domain,
        "scheme": "https",
        "peers": [p for p in PEERS if p["domain"] != domain],
        "charter": CHARTERS.get(domain, "group"),
        "data_dir": tmp_path / domain,
        "media_dir": tmp_path / domain / "media",
    }
    values.update(overrides)
    settings = make_settings(database_url, tmp_path, **values)
    ctx = build_context(settings, clock=clock, transport=router)
    app = create_app(settings, context=ctx)
    router.add(domain, app)
    transport = httpx.ASGITransport(app=app, client=("10.0.0.2", 50001))
    http = httpx.AsyncClient(transport=transport, base_url=f"https://{domain}")
    return Instance(domain, settings, ctx, app, http, clock)


@pytest.fixture(scope="session")
def rsa_pool() -> list[rsa.RSAPrivateKey]:
    return [generate_rsa_key() for _ in range(8)]


@pytest.fixture(autouse=True)
def fast_rsa_keys(rsa_pool: list[rsa.RSAPrivateKey], monkeypatch: pytest.MonkeyPatch) -> None:
    """RSA-2048 generation takes up to half a second; the tests take distinct keys from a pool instead."""
    pool = itertools.cycle(rsa_pool)
    monkeypatch.setattr(actors_service.keys, "generate_rsa_key", lambda: next(pool))


@pytest.fixture
def router() -> Router:
    return Router()


@pytest.fixture(params=["sqlite"])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def fresh_database_urls(
    request: pytest.FixtureRequest, dialect: str, tmp_path: Path, count: int
) -> list[str]:
    """`count` fresh databases migrated to head (made here: the PostgreSQL helper runs its own loop)."""
    if dialect == "postgresql":
        cluster = request.getfixturevalue("pg_cluster")
        template = request.getfixturevalue("pg_template")
        return [fresh_pg_url(cluster, template, request) for _ in range(count)]
    template_path = request.getfixturevalue("sqlite_template")
    return [fresh_sqlite_url(template_path, tmp_path) for _ in range(count)]


async def close_instances(instances: Iterable[Instance]) -> None:
    for instance in instances:
        fed: Federation | None = getattr(instance.app.state, "federation", None)
        if fed is not None:
            await fed.close()
        await instance.http.aclose()
        await instance.ctx.close()


async def running(
    request: pytest.FixtureRequest,
    dialect: str,
    tmp_path: Path,
    router: Router,
    clock: FakeClock,
    settings: Mapping[str, Mapping[str, Any]],
) -> AsyncIterator[dict[str, Instance]]:
    """One instance per domain of `settings` (with those settings), each with its own fresh database, by
    the first part of its domain; closed when the caller is done."""
    urls = fresh_database_urls(request, dialect, tmp_path, len(settings))
    made: dict[str, Instance] = {}
    for (domain, overrides), url in zip(settings.items(), urls, strict=True):
        made[domain.split(".")[0]] = await _instance(domain, url, tmp_path, router, clock, **overrides)
    try:
        yield made
    finally:
        await close_instances(made.values())


@pytest.fixture
def database_urls(request: pytest.FixtureRequest, dialect: str, tmp_path: Path) -> list[str]:
    """Two fresh databases migrated to head."""
    return fresh_database_urls(request, dialect, tmp_path, 2)


@pytest.fixture
async def instances(
    database_urls: list[str], tmp_path: Path, router: Router, clock: FakeClock
) -> AsyncIterator[dict[str, Instance]]:
    made: dict[str, Instance] = {}
    for domain, url in zip(("paris.example", "munich.example"), database_urls, strict=True):
        made[domain.split(".")[0]] = await _instance(domain, url, tmp_path, router, clock)
    yield made
    await close_instances(made.values())


@pytest.fixture
def paris(instances: dict[str, Instance]) -> Instance:
    return instances["paris"]


@pytest.fixture
def munich(instances: dict[str, Instance]) -> Instance:
    return instances["munich"]


@pytest.fixture
async def alice(munich: Instance) -> str:
    """alice@munich.example, a person on the sending instance; returns her actor URI."""
    actor = await munich.add_user("alice", "Alice Martin")
    return actor.uri
