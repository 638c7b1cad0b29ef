"""Reference-only deliveries: the sending charter lets only a post's id leave; the receiver fetches the
post from its origin, signed, with a live access check, and stores nothing when the origin refuses."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, select

from server.clock import FakeClock
from server.federation.state import Federation
from server.storage.compliance import AuditEntry
from server.storage.delivery_models import Delivery
from server.storage.social import Actor, Membership, Post
from tests.conftest import REPO
from tests.federation.conftest import (
    Instance,
    Router,
    _instance,
    activity_doc,
    close_instances,
    deliver,
    running,
)
from tests.federation.test_communities import settle, token
from tests.federation.test_reach import closed_community_with_alice, image, post, upload

TEST_CHARTERS = Path(__file__).parent / "data" / "charters"


@pytest.fixture(params=["sqlite", "postgresql"])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _charter_dir(tmp_path: Path) -> Path:
    """The shipped charters and the test charters, in one directory."""
    charters = tmp_path / "charters"
    charters.mkdir()
    for source in [*(REPO / "charter").glob("*.toml"), *TEST_CHARTERS.glob("*.toml")]:
        shutil.copy(source, charters / source.name)
    return charters


@pytest.fixture
async def pair(
    database_urls: list[str], tmp_path: Path, router: Router, clock: FakeClock
) -> AsyncIterator[tuple[Instance, Instance]]:
    """Paris and Munich, each sending posts and comments to the other only as references."""
    charters = _charter_dir(tmp_path)
    made = [
        await _instance(domain, url, tmp_path, router, clock, charter=charter, charter_dir=charters)
        for (domain, charter), url in zip(
            (("paris.example", "fr-reference"), ("munich.example", "de-reference")),
            database_urls,
            strict=True,
        )
    ]
    yield made[0], made[1]
    await close_instances(made)


async def _payloads(instance: Instance) -> list[dict[str, object]]:
    async with instance.ctx.sessions() as session:
        return [d.payload for d in (await session.execute(select(Delivery))).scalars()]


async def test_posts_cross_as_references_and_are_fetched_from_their_origin(
    pair: tuple[Instance, Instance],
) -> None:
    paris, munich = pair
    pierre, alice = await closed_community_with_alice(paris, munich, "atlas")

    plan = await paris.http.post(
        "/api/v1/posts", json={"body": "The cut-over plan", "communities": ["atlas"]}, headers=pierre
    )
    assert plan.status_code == 201
    reply = await munich.http.post(
        "/api/v1/posts",
        json={"body": "Munich is ready", "communities": ["atlas@paris.example"]},
        headers=alice,
    )
    assert reply.status_code == 201
    await settle(paris, munich)

    sent = await _payloads(paris) + await _payloads(munich)
    assert not any("cut-over" in str(p) or "is ready" in str(p) for p in sent)  # only ids crossed
    announce = next(
        p for p in await _payloads(paris) if p["type"] == "Announce" and "posts" in str(p["object"])
    )
    assert announce["object"] == f"{paris.base}/posts/{plan.json()['id']}"

    feed = (await munich.http.get("/api/v1/communities/atlas@paris.example/feed", headers=alice)).json()
    assert {p["source"] for p in feed["items"]} >= {"The cut-over plan"}
    feed = (await paris.http.get("/api/v1/communities/atlas/feed", headers=pierre)).json()
    assert {(p["source"], p["author"]["handle"]) for p in feed["items"]} == {
        ("The cut-over plan", "@pierre@paris.example"),
        ("Munich is ready", "@alice@munich.example"),
    }
    async with paris.ctx.sessions() as session:
        decisions = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "reference_only"))
        ).scalars()
        assert {(d.peer_domain, d.article_id) for d in decisions} == {("munich.example", "6.1")}


async def test_a_reference_the_origin_refuses_stores_nothing_and_says_why(
    pair: tuple[Instance, Instance],
) -> None:
    paris, munich = pair
    pierre, _ = await closed_community_with_alice(paris, munich, "atlas")
    plan = await paris.http.post(
        "/api/v1/posts", json={"body": "The cut-over plan", "communities": ["atlas"]}, headers=pierre
    )
    assert plan.status_code == 201
    async with paris.ctx.transaction() as session:  # alice is removed before munich comes to fetch it
        alice = (await session.execute(select(Actor).where(Actor.username == "alice"))).scalar_one()
        await session.execute(delete(Membership).where(Membership.actor_id == alice.id))
    await settle(paris, munich)

    async with munich.ctx.sessions() as session:
        assert (await session.execute(select(Post).where(Post.source == "The cut-over plan"))).first() is None
    outcomes = [row.outcome or "" for row in await munich.inbox_rows()]
    refused = [o for o in outcomes if f"posts/{plan.json()['id']}" in o]
    assert refused and refused[0].startswith("refused: ") and "HTTP 404" in refused[0], outcomes


@pytest.mark.parametrize("mode", ["allowlist", "open"])
async def test_a_reference_to_a_private_address_is_never_followed(
    paris: Instance, munich: Instance, alice: str, router: Router, mode: str
) -> None:
    paris.settings.federation_mode = mode  # type: ignore[misc]
    addresses = {"munich.example": ["93.184.216.34"], "127.0.0.1": ["127.0.0.1"]}

    async def resolve(host: str) -> list[str]:
        return addresses[host]

    paris.app.state.federation = Federation(paris.ctx, resolver=resolve)
    target = "https://127.0.0.1/notes/1" if mode == "open" else "https://169.254.169.254/latest/meta-data"
    announce = activity_doc(alice, "Announce", target, id=f"{alice}/announces/1")
    create = activity_doc(alice, "Create", "https://10.0.0.7/notes/2", id=f"{alice}/creates/2")
    assert (await deliver(munich, "alice", paris, announce)).status_code == 202
    assert (await deliver(munich, "alice", paris, create)).status_code == 202
    await paris.settle()

    first, second = [row.outcome or "" for row in await paris.inbox_rows()]
    reason = "private or reserved address" if mode == "open" else "is not a configured peer"
    assert first.startswith("refused: announced") and reason in first, first
    assert second == "refused: a referenced post must be of its actor's origin"
    assert not any(r.url.host in ("127.0.0.1", "169.254.169.254", "10.0.0.7") for r in router.seen)
    async with paris.ctx.sessions() as session:
        assert (await session.execute(select(Post))).first() is None


async def test_a_profile_post_sent_as_a_reference_reaches_the_followers_instance_with_its_files(
    pair: tuple[Instance, Instance],
) -> None:
    paris, munich = pair
    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")
    followed = await munich.http.put("/api/v1/people/pierre@paris.example/follow", headers=alice)
    assert followed.status_code == 204, followed.text
    await settle(paris, munich)

    photo = await upload(paris, pierre, image((8, 8)), "site.png")
    written = await post(
        paris, pierre, title="Visit", body="From the site", on_profile=True, attachment_ids=[photo]
    )
    await settle(paris, munich)

    [create] = [p for p in await _payloads(paris) if p["type"] == "Create"]
    assert create["object"] == written["uri"]  # only the id crossed
    home = (await munich.http.get("/api/v1/feed/home", headers=alice)).json()["items"]
    assert [(p["title"], p["source"], p["author"]["handle"], p["on_profile"]) for p in home] == [
        ("Visit", "From the site", "@pierre@paris.example", True)
    ]
    assert [(a["description"], a["available"]) for a in home[0]["attachments"]] == [("site.png", True)]
    assert [r.outcome for r in await munich.inbox_rows()][-1] == "profile post stored"


@pytest.fixture
async def trio(
    request: pytest.FixtureRequest, dialect: str, tmp_path: Path, router: Router, clock: FakeClock
) -> AsyncIterator[dict[str, Instance]]:
    """Paris sends posts to Munich (another country) only as references, to Lyon (its own) whole."""
    charters = _charter_dir(tmp_path)
    settings = {
        "paris.example": {"charter": "fr-reference", "charter_dir": charters},
        "munich.example": {"charter_dir": charters},
        "lyon.example": {"charter_dir": charters},
    }
    async for made in running(request, dialect, tmp_path, router, clock, settings):
        yield made


async def _fetch_as(reader: Instance, url: str) -> httpx.Response:
    """A signed GET of `url` by the reader's instance actor, as a peer checking a relayed activity does."""
    return await reader.ctx.http.get(
        url, headers={"Accept": "application/activity+json"}, auth=await reader.fed.instance_auth()
    )


async def test_a_sent_activity_is_served_to_each_peer_as_the_charter_shaped_it_for_that_peer(
    trio: dict[str, Instance],
) -> None:
    paris, munich, lyon = trio["paris"], trio["munich"], trio["lyon"]
    pierre, alice, luc = await token(paris, "pierre"), await token(munich, "alice"), await token(lyon, "luc")

    async def follow(instance: Instance, headers: dict[str, str]) -> None:
        followed = await instance.http.put("/api/v1/people/pierre@paris.example/follow", headers=headers)
        assert followed.status_code == 204, followed.text
        await settle(paris, munich, lyon)

    # Only Lyon follows Pierre: the whole Create went to Lyon alone. Munich may read a profile post, but
    # Paris's charter lets it reach Munich only as a reference: Lyon's whole copy is not Munich's to have.
    await follow(lyon, luc)
    first = await post(paris, pierre, body="Whole for Lyon", on_profile=True)
    await settle(paris, munich, lyon)
    url = f"{first['uri']}/create"
    as_lyon, as_munich = await _fetch_as(lyon, url), await _fetch_as(munich, url)
    assert as_lyon.status_code == 200 and as_lyon.json()["object"]["source"]["content"] == "Whole for Lyon"
    assert as_munich.status_code == 404, as_munich.text

    # Both follow: one Create, two copies under the same id, the newest one Munich's reference.
    await follow(munich, alice)
    second = await post(paris, pierre, body="For both", on_profile=True)
    await settle(paris, munich, lyon)
    url = f"{second['uri']}/create"
    async with paris.ctx.sessions() as session:
        copies = (
            await session.execute(select(Delivery).where(Delivery.activity_uri == url).order_by(Delivery.id))
        ).scalars()
        assert [(d.peer_domain, d.payload["object"] == second["uri"]) for d in copies] == [
            ("lyon.example", False),
            ("munich.example", True),
        ]
    as_lyon, as_munich = await _fetch_as(lyon, url), await _fetch_as(munich, url)
    whole = as_lyon.json()["object"] if as_lyon.status_code == 200 else None
    assert isinstance(whole, dict) and whole["source"]["content"] == "For both", as_lyon.text
    assert as_munich.status_code == 200 and as_munich.json()["object"] == second["uri"]
    assert "For both" not in as_munich.text
    unsigned = await paris.http.get(url, headers={"Accept": "application/activity+json"})
    assert unsigned.status_code == 404
