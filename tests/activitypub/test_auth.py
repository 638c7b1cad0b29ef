"""SignatureAuth against honest fake peers: an httpx.MockTransport that verifies with our own verifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from server.activitypub.auth import SignatureAuth, SignatureFormat, SignatureFormatMemory
from server.activitypub.keys import PublicKey, generate_ed25519_key, generate_rsa_key
from server.activitypub.signatures import SignatureFailure, parse_request_signature, verify_parsed

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
RSA_KEY = generate_rsa_key()
ED_KEY = generate_ed25519_key()
RSA_ID = "https://a.example/users/alice#main-key"
ED_ID = "https://a.example/users/alice#ed25519-key"
KEYS: dict[str, PublicKey] = {RSA_ID: RSA_KEY.public_key(), ED_ID: ED_KEY.public_key()}


class FakePeer:
    """Accepts only the signature formats it is told to, and only valid signatures."""

    def __init__(self, accepts: set[str]) -> None:
        self.accepts = accepts
        self.seen: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        parsed = parse_request_signature(request.method, str(request.url), request.headers)
        if isinstance(parsed, SignatureFailure):
            return httpx.Response(401, text=parsed.reason)
        self.seen.append((parsed.scheme, parsed.key_id))
        if parsed.scheme not in self.accepts:
            return httpx.Response(401, text="unsupported signature scheme")
        result = verify_parsed(
            parsed, KEYS[parsed.key_id], body=request.content, now=NOW, max_skew=timedelta(minutes=5)
        )
        return httpx.Response(202 if result.valid else 401, text=result.reason or "")


def _auth(memory: SignatureFormatMemory, *, with_ed25519: bool = True) -> SignatureAuth:
    if with_ed25519:
        return SignatureAuth(
            RSA_ID, RSA_KEY, memory=memory, ed25519_key_id=ED_ID, ed25519_key=ED_KEY, clock=lambda: NOW
        )
    return SignatureAuth(RSA_ID, RSA_KEY, memory=memory, clock=lambda: NOW)


def _post(client: httpx.Client) -> httpx.Response:
    return client.post(
        "https://b.example/inbox",
        content=b'{"type": "Follow"}',
        headers={"Content-Type": "application/activity+json"},
    )


def test_401_retries_once_in_the_other_format_and_remembers_it() -> None:
    peer = FakePeer({"rfc9421"})
    memory = SignatureFormatMemory()
    with httpx.Client(transport=httpx.MockTransport(peer), auth=_auth(memory)) as client:
        assert _post(client).status_code == 202
        assert peer.seen == [("cavage", RSA_ID), ("rfc9421", ED_ID)]
        assert memory.known("b.example") == "rfc9421"
        assert _post(client).status_code == 202
    assert peer.seen[2:] == [("rfc9421", ED_ID)]


def test_preferred_rfc9421_falls_back_to_cavage() -> None:
    def chooser(host: str) -> SignatureFormat:
        return "rfc9421"

    peer = FakePeer({"cavage"})
    memory = SignatureFormatMemory(chooser)
    with httpx.Client(transport=httpx.MockTransport(peer), auth=_auth(memory)) as client:
        assert client.get("https://b.example/users/bob").status_code == 202
    assert [scheme for scheme, _ in peer.seen] == ["rfc9421", "cavage"]
    assert memory.preferred("b.example") == "cavage"


def test_a_peer_refusing_both_gets_exactly_two_tries_and_nothing_is_remembered() -> None:
    peer = FakePeer(set())
    memory = SignatureFormatMemory()
    with httpx.Client(transport=httpx.MockTransport(peer), auth=_auth(memory)) as client:
        assert _post(client).status_code == 401
    assert len(peer.seen) == 2
    assert memory.known("b.example") is None


def test_rfc9421_without_ed25519_key_signs_with_rsa() -> None:
    peer = FakePeer({"rfc9421"})
    memory = SignatureFormatMemory(lambda host: "rfc9421")
    with httpx.Client(transport=httpx.MockTransport(peer), auth=_auth(memory, with_ed25519=False)) as client:
        assert _post(client).status_code == 202
    assert peer.seen == [("rfc9421", RSA_ID)]


def test_signed_get_has_no_digest_and_verifies() -> None:
    captured: list[httpx.Request] = []
    peer = FakePeer({"cavage"})

    def handler(request: httpx.Request) -> httpx.Response:
        captured.append(request)
        return peer(request)

    with httpx.Client(transport=httpx.MockTransport(handler), auth=_auth(SignatureFormatMemory())) as client:
        assert client.get("https://b.example/users/bob").status_code == 202
    assert "digest" not in captured[0].headers
    assert captured[0].headers["date"] == "Sat, 01 Mar 2025 12:00:00 GMT"


def test_memory_forgets_least_recently_used_hosts() -> None:
    memory = SignatureFormatMemory(max_hosts=2)
    memory.remember("a", "rfc9421")
    memory.remember("b", "rfc9421")
    memory.preferred("a")
    memory.remember("c", "rfc9421")
    assert (memory.known("a"), memory.known("b"), memory.known("c")) == ("rfc9421", None, "rfc9421")


async def test_async_client_retries_too() -> None:
    peer = FakePeer({"rfc9421"})
    memory = SignatureFormatMemory()
    async with httpx.AsyncClient(transport=httpx.MockTransport(peer), auth=_auth(memory)) as client:
        response = await client.post("https://b.example/inbox", content=b"{}")
    assert response.status_code == 202
    assert memory.known("b.example") == "rfc9421"
