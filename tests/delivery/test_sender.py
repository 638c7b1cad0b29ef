"""The delivery sender's own path (aiohttp's session, no httpx models) sends what the httpx path sends.

Both paths post to a real server on loopback that records the bytes it receives; with the same clock, the
requests are the same bytes, the signature verifies and the digest matches the body. Answers, errors,
the 401 switch of signature format, redirects and Retry-After come out the same way.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import select

from server.activitypub.auth import SignatureAuth, SignatureFormat, SignatureFormatMemory
from server.activitypub.digest import check_body_digest
from server.activitypub.keys import PublicKey, load_public_key_pem
from server.activitypub.signatures import SignatureFailure, parse_request_signature, verify_parsed
from server.activitypub.vocabulary import ACTIVITY_JSON
from server.clock import FakeClock
from server.context import OutboundTransport, build_context, outbound_transport
from server.delivery.outcomes import Next, classify
from server.federation.sender import ANSWER_MAX_BYTES, DeliverySender, Target
from server.federation.state import Federation
from server.storage import delivery as store
from server.storage.delivery_models import Delivery
from server.storage.social import ActorKey
from tests.conftest import make_settings
from tests.delivery.test_stale_connection import serve_then_drop
from tests.social.helpers import person

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"


@dataclass
class Received:
    raw: bytes  # the request as it came on the wire
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Inbox:
    """A keep-alive HTTP/1.1 server on loopback: records each request, answers with `answer(request)`."""

    answer: Callable[[Received], bytes] = lambda request: ACCEPTED
    received: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/inbox"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ")
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Received(head + body, method, path, headers, body)
                self.received.append(request)
                answer = self.answer(request)
                if not answer:
                    return  # close without answering
                writer.write(answer)
                await writer.drain()
        except ConnectionError:
            return
        finally:
            writer.close()


@asynccontextmanager
async def serving(inbox: Inbox) -> AsyncIterator[Inbox]:
    server = await asyncio.start_server(inbox.handle, "127.0.0.1", 0)
    inbox.port = server.sockets[0].getsockname()[1]
    try:
        yield inbox
    finally:
        server.close()


@dataclass
class Keys:
    rsa_key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    ed_key: ed25519.Ed25519PrivateKey = field(default_factory=ed25519.Ed25519PrivateKey.generate)

    def auth(self, first: SignatureFormat = "rfc9421") -> SignatureAuth:
        return SignatureAuth(
            "https://here.example/actor#main-key",
            self.rsa_key,
            memory=SignatureFormatMemory(lambda host: first),
            ed25519_key_id="https://here.example/actor#ed25519-key",
            ed25519_key=self.ed_key,
            clock=lambda: NOW,
        )

    def public(self, key_id: str) -> PublicKey:
        return (self.ed_key if key_id.endswith("ed25519-key") else self.rsa_key).public_key()


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@asynccontextmanager
async def client(
    timeouts: httpx.Timeout | None = None,
) -> AsyncIterator[tuple[httpx.AsyncClient, OutboundTransport]]:
    """The client as `build_context` makes it, on the aiohttp transport."""
    transport = outbound_transport()
    async with httpx.AsyncClient(
        timeout=timeouts or httpx.Timeout(10.0, connect=5.0),
        transport=transport,
        follow_redirects=False,
        headers={"User-Agent": "Cercle (+https://here.example)"},
    ) as http:
        yield http, transport


def verifies(
    request: Received, port: int, public: Callable[[str], PublicKey], now: datetime = NOW
) -> str | None:
    """None when the request's signature and digest check out as an inbox checks them, else the reason."""
    url = f"http://127.0.0.1:{port}{request.path}"
    parsed = parse_request_signature(request.method, url, request.headers)
    if isinstance(parsed, SignatureFailure):
        return parsed.reason
    result = verify_parsed(
        parsed, public(parsed.key_id), body=request.body, now=now, max_skew=timedelta(minutes=5)
    )
    return None if result.valid else result.reason


@pytest.mark.parametrize("fmt", ["rfc9421", "cavage"])
async def test_the_same_bytes_as_the_httpx_path_and_they_verify(keys: Keys, fmt: SignatureFormat) -> None:
    body = json.dumps({"id": "https://here.example/a/1", "type": "Create", "summary": "é"}).encode()
    async with serving(Inbox()) as inbox, client() as (http, transport):
        request = http.build_request("POST", inbox.url, content=body, headers={"Content-Type": ACTIVITY_JSON})
        response = await DeliverySender._send(http, request, keys.auth(fmt))
        assert response.status_code == 202
        result = await DeliverySender.post(
            http, transport.session(), Target.of(http, inbox.url), body, keys.auth(fmt)
        )
        assert result.status == 202 and result.retry_after is None
    by_httpx, ours = inbox.received
    assert ours.raw == by_httpx.raw
    assert ours.body == body
    assert verifies(ours, inbox.port, keys.public) is None
    assert check_body_digest(ours.headers, body).ok
    digest = "content-digest" if fmt == "rfc9421" else "digest"
    assert digest in ours.headers
    assert ("signature-input" in ours.headers) is (fmt == "rfc9421")


async def test_cookies_a_peer_sets_are_kept_and_sent_as_httpx_does(keys: Keys) -> None:
    """The httpx client keeps the cookies peers set: the requests made without its models keep them in
    its jar too, and send them as it does (aiohttp's own jar, under both paths, is emptied before each
    request here, so that only httpx's jar can bring the cookie)."""

    def with_cookie(request: Received) -> bytes:
        return b"HTTP/1.1 202 Accepted\r\nSet-Cookie: seen=1; Path=/\r\nContent-Length: 0\r\n\r\n"

    async with serving(Inbox(with_cookie)) as inbox, client() as (http, transport):
        session, target = transport.session(), Target.of(http, inbox.url)
        assert (await DeliverySender.post(http, session, target, b"{}", keys.auth())).status == 202
        assert http.cookies.get("seen") == "1"
        session.cookie_jar.clear()
        request = http.build_request(
            "POST", inbox.url, content=b"{}", headers={"Content-Type": ACTIVITY_JSON}
        )
        await DeliverySender._send(http, request, keys.auth())
        session.cookie_jar.clear()
        assert (await DeliverySender.post(http, session, target, b"{}", keys.auth())).status == 202
    first, by_httpx, ours = inbox.received
    assert "cookie" not in first.headers and by_httpx.headers["cookie"] == "seen=1"
    assert ours.raw == by_httpx.raw


async def test_a_tampered_body_or_a_stale_date_does_not_verify(keys: Keys) -> None:
    """The check above is a real one."""
    async with serving(Inbox()) as inbox, client() as (http, transport):
        await DeliverySender.post(
            http, transport.session(), Target.of(http, inbox.url), b'{"id":"x"}', keys.auth()
        )
    (sent,) = inbox.received
    tampered = Received(sent.raw, sent.method, sent.path, sent.headers, b'{"id":"y"}')
    assert verifies(tampered, inbox.port, keys.public) == "digest mismatch"
    assert verifies(sent, inbox.port, keys.public, now=NOW + timedelta(hours=1)) == "signature date is stale"


async def test_a_401_signs_again_in_the_other_format_which_is_remembered(keys: Keys) -> None:
    def only_cavage(request: Received) -> bytes:
        if "signature-input" in request.headers:
            return b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
        return ACCEPTED

    auth = keys.auth("rfc9421")
    async with serving(Inbox(only_cavage)) as inbox, client() as (http, transport):
        target = Target.of(http, inbox.url)
        assert (await DeliverySender.post(http, transport.session(), target, b"{}", auth)).status == 202
        assert auth.memory.known(target.host) == "cavage"
        assert (await DeliverySender.post(http, transport.session(), target, b"{}", auth)).status == 202
    kinds = ["rfc9421" if "signature-input" in r.headers else "cavage" for r in inbox.received]
    assert kinds == ["rfc9421", "cavage", "cavage"]
    assert all(verifies(r, inbox.port, keys.public) is None for r in inbox.received)


async def test_a_401_in_both_formats_is_the_answer_and_nothing_is_remembered(keys: Keys) -> None:
    auth = keys.auth("rfc9421")
    async with (
        serving(Inbox(lambda r: b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")) as inbox,
        client() as (http, transport),
    ):
        target = Target.of(http, inbox.url)
        assert (await DeliverySender.post(http, transport.session(), target, b"{}", auth)).status == 401
        assert auth.memory.known(target.host) is None
    assert len(inbox.received) == 2


async def test_a_redirect_is_not_followed(keys: Keys) -> None:
    moved = b"HTTP/1.1 301 Moved Permanently\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"
    async with serving(Inbox(lambda r: moved)) as inbox, client() as (http, transport):
        result = await DeliverySender.post(
            http, transport.session(), Target.of(http, inbox.url), b"{}", keys.auth()
        )
    assert result.status == 301 and [r.path for r in inbox.received] == ["/inbox"]
    assert classify(result.status, result.retry_after, now=NOW).next is Next.GIVE_UP


async def test_retry_after_is_passed_on(keys: Keys) -> None:
    slow_down = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\nContent-Length: 2\r\n\r\nno"
    async with serving(Inbox(lambda r: slow_down)) as inbox, client() as (http, transport):
        result = await DeliverySender.post(
            http, transport.session(), Target.of(http, inbox.url), b"{}", keys.auth()
        )
    assert (result.status, result.retry_after) == (429, "120")
    assert classify(result.status, result.retry_after, now=NOW).retry_after == timedelta(seconds=120)


async def test_a_connection_closed_by_the_peer_is_retried_once(keys: Keys) -> None:
    answered: list[bytes] = []
    server = await serve_then_drop(answered)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/inbox"
    try:
        async with client() as (http, transport):
            for n in range(3):
                result = await DeliverySender.post(
                    http, transport.session(), Target.of(http, url), f"{n}".encode(), keys.auth()
                )
                assert result.status == 202
    finally:
        server.close()
    assert answered == [b"0", b"1", b"2"]


async def test_errors_are_the_httpx_paths(keys: Keys) -> None:
    """A refused connection and a peer that never answers raise what the httpx path raises."""
    with socket.socket() as sock:  # a port on loopback with nothing listening
        sock.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{sock.getsockname()[1]}/inbox"
    async with (
        serving(Inbox(lambda r: b"")) as silent,  # reads the request, closes without an answer
        client(httpx.Timeout(0.5, connect=0.5)) as (http, transport),
    ):
        for url in (refused, silent.url):
            raised: list[BaseException] = []
            for fast in (False, True):
                with pytest.raises(httpx.TransportError) as caught:
                    if fast:
                        await DeliverySender.post(
                            http, transport.session(), Target.of(http, url), b"{}", keys.auth()
                        )
                    else:
                        request = http.build_request("POST", url, content=b"{}")
                        await DeliverySender._send(http, request, keys.auth())
                raised.append(caught.value)
            assert type(raised[0]) is type(raised[1]) and str(raised[0]) == str(raised[1])
    assert len(silent.received) == 2 * 2  # each path: the request and its one retry


async def test_a_peer_that_does_not_answer_times_out(keys: Keys) -> None:
    stop = asyncio.Event()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stop.wait()
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/inbox"
    try:
        async with client(httpx.Timeout(0.3, connect=0.3)) as (http, transport):
            with pytest.raises(httpx.ReadTimeout):
                await DeliverySender.post(http, transport.session(), Target.of(http, url), b"{}", keys.auth())
    finally:
        stop.set()
        server.close()


async def test_a_long_answer_is_not_read_to_the_end(keys: Keys) -> None:
    """Past ANSWER_MAX_BYTES the connection is dropped: the status stands, the rest is never awaited."""
    stop = asyncio.Event()

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 1000000000\r\n\r\n")
        writer.write(b"x" * (ANSWER_MAX_BYTES * 2))
        await writer.drain()
        await stop.wait()  # the rest never comes
        writer.close()

    server = await asyncio.start_server(endless, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/inbox"
    try:
        async with client(httpx.Timeout(30.0, connect=5.0)) as (http, transport):
            async with asyncio.timeout(10):
                result = await DeliverySender.post(
                    http, transport.session(), Target.of(http, url), b"{}", keys.auth()
                )
        assert result.status == 202
    finally:
        stop.set()
        server.close()


async def test_queued_rows_go_out_signed_by_their_actor(database_url: str, tmp_path: Path) -> None:
    """End to end on each database: rows read with the Core, sent through the context's aiohttp session,
    the body the payload in compact JSON (encoded once for inboxes that get the same payload)."""
    async with serving(Inbox()) as inbox:
        peer = f"127.0.0.1:{inbox.port}"
        settings = make_settings(database_url, tmp_path, peers=[{"domain": peer, "jurisdiction": "FR"}])
        ctx = build_context(settings, clock=FakeClock())
        fed = Federation(ctx)
        try:
            assert ctx.outbound is not None
            user = await person(ctx, "ada")
            assert user.actor_id is not None
            payload = {"id": "http://localhost:8000/a/1", "type": "Create", "content": "Grüße <b>&</b>"}
            async with ctx.transaction() as session:
                rows = [
                    Delivery(
                        destination=f"http://{peer}/{path}",
                        peer_domain=peer,
                        activity_uri=payload["id"],
                        payload=payload,
                        signer_actor_id=user.actor_id,
                        state="pending",
                        attempts=0,
                        created_at=ctx.clock.now(),
                    )
                    for path in ("inbox", "users/b/inbox")
                ]
                await store.enqueue(session, ctx.clock.now(), rows)
            sender = DeliverySender(fed)
            async with ctx.sessions() as session:
                for destination in (f"http://{peer}/inbox", f"http://{peer}/users/b/inbox"):
                    (row,) = await store.pending_deliveries(session, destination, limit=10)
                    assert row.payload == payload and row.activity_uri == payload["id"]
                    assert (await sender(row)).status == 202
                keys = {
                    k.key_id: load_public_key_pem(k.public_pem)
                    for k in (await session.execute(select(ActorKey))).scalars()
                }
        finally:
            await fed.close()
            await ctx.close()
    compact = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    assert [r.body for r in inbox.received] == [compact, compact]
    assert [r.path for r in inbox.received] == ["/inbox", "/users/b/inbox"]
    for request in inbox.received:
        assert verifies(request, inbox.port, keys.__getitem__, now=FakeClock().now()) is None
        assert "signature-input" in request.headers  # a configured peer: RFC 9421, Ed25519
