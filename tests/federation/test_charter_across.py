"""Charters at both ends of a federation link: cross-border consent, and purges reaching the copies."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from server.clock import FakeClock
from server.services import charter as charter_service
from server.services import retention
from server.storage.delivery_models import Delivery
from server.storage.social import Community, Post
from tests.federation.conftest import Instance, Router, _instance
from tests.federation.test_communities import community, settle, token

ASIA_PEERS = [
    {"domain": "shanghai.example", "jurisdiction": "CN"},
    {"domain": "chicago.example", "jurisdiction": "US"},
]


@pytest.fixture
async def shanghai_and_chicago(
    database_urls: list[str], tmp_path: Path, router: Router, clock: FakeClock
) -> dict[str, Instance]:
    made = {}
    for (domain, charter), url in zip(
        (("shanghai.example", "cn"), ("chicago.example", "us")), database_urls, strict=True
    ):
        peers = [p for p in ASIA_PEERS if p["domain"] != domain]
        made[domain.split(".")[0]] = await _instance(
            domain, url, tmp_path, router, clock, charter=charter, peers=peers
        )
    yield made  # type: ignore[misc]
    for instance in made.values():
        await instance.fed.close()
        await instance.http.aclose()
        await instance.ctx.close()


async def test_a_post_leaves_china_only_after_its_authors_separate_consent(
    shanghai_and_chicago: dict[str, Instance],
) -> None:
    shanghai, chicago = shanghai_and_chicago["shanghai"], shanghai_and_chicago["chicago"]
    li, mike = await token(shanghai, "li"), await token(chicago, "mike")
    await community(shanghai, li, "supply", "open")
    await chicago.http.post(
        "/api/v1/communities/remote", json={"handle": "supply@shanghai.example"}, headers=mike
    )
    await settle(shanghai, chicago)
    joined = (await chicago.http.get("/api/v1/communities/supply@shanghai.example", headers=mike)).json()
    assert joined["my_membership"]["state"] == "active"

    post = await shanghai.http.post(
        "/api/v1/posts", json={"body": "Shipping schedule for Q3", "communities": ["supply"]}, headers=li
    )
    assert post.status_code == 201
    await settle(shanghai, chicago)
    feed = (await chicago.http.get("/api/v1/communities/supply@shanghai.example/feed", headers=mike)).json()
    assert feed["items"] == []
    async with shanghai.ctx.sessions() as session:
        waiting = (
            await session.execute(select(Delivery).where(Delivery.post_id == post.json()["id"]))
        ).scalars()
        assert [(d.state, d.article) for d in waiting] == [("awaiting_consent", "6.1")]

    consent = await shanghai.http.post(
        "/api/v1/charter/consents", json={"jurisdiction": "US", "text_version": "2026.1"}, headers=li
    )
    assert consent.status_code == 201, consent.text
    await settle(shanghai, chicago)
    feed = (await chicago.http.get("/api/v1/communities/supply@shanghai.example/feed", headers=mike)).json()
    assert [p["source"] for p in feed["items"]] == ["Shipping schedule for Q3"]


async def test_a_purge_deletes_the_copies_elsewhere_unless_a_legal_hold_stops_it(
    paris: Instance, munich: Instance, clock: FakeClock
) -> None:
    pierre, alice = await token(paris, "pierre"), await token(munich, "alice")
    await community(paris, pierre, "lean", "open")
    await community(paris, pierre, "legal", "open")
    for handle in ("lean@paris.example", "legal@paris.example"):
        await munich.http.post("/api/v1/communities/remote", json={"handle": handle}, headers=alice)
    await settle(paris, munich)
    for slug in ("lean", "legal"):
        created = await paris.http.post(
            "/api/v1/posts", json={"body": f"Old news in {slug}", "communities": [slug]}, headers=pierre
        )
        assert created.status_code == 201
    await settle(paris, munich)
    async with munich.ctx.sessions() as session:
        copies = (await session.execute(select(Post).where(Post.local.is_(False)))).scalars().all()
    assert sorted(p.source for p in copies) == ["Old news in lean", "Old news in legal"]

    async with paris.ctx.transaction() as session:
        legal = (await session.execute(select(Community).where(Community.slug == "legal"))).scalar_one()
        await charter_service.place_hold(
            session, clock.now(), paris.ctx.charter, None, community_id=legal.id, reason="litigation 2026-17"
        )
    clock.advance(timedelta(days=5 * 366))
    async with paris.ctx.transaction() as session:
        report = await retention.purge_expired(session, paris.ctx, clock.now())
    assert len(report.post_ids) == 1
    await settle(paris, munich)
    async with munich.ctx.sessions() as session:
        copies = (await session.execute(select(Post).where(Post.local.is_(False)))).scalars().all()
    state = {p.uri.rsplit("/", 1)[-1]: (p.deleted_at is not None, p.source) for p in copies}
    assert sorted(state.values()) == [(False, "Old news in legal"), (True, "")]


async def test_an_export_controlled_community_refuses_a_person_from_another_jurisdiction(
    shanghai_and_chicago: dict[str, Instance],
) -> None:
    shanghai, chicago = shanghai_and_chicago["shanghai"], shanghai_and_chicago["chicago"]
    mike, li = await token(chicago, "mike"), await token(shanghai, "li")
    created = await chicago.http.post(
        "/api/v1/communities",
        json={"slug": "itar", "name": "ITAR program", "kind": "project", "tags": ["export-controlled"]},
        headers=mike,
    )
    assert created.status_code == 201
    await shanghai.http.post(
        "/api/v1/charter/consents", json={"jurisdiction": "US", "text_version": "2026.1"}, headers=li
    )
    asked = await shanghai.http.post(
        "/api/v1/communities/remote", json={"handle": "itar@chicago.example"}, headers=li
    )
    assert asked.status_code == 202
    await settle(shanghai, chicago)
    mine = (await shanghai.http.get("/api/v1/communities/itar@chicago.example", headers=li)).json()
    assert mine["my_membership"] is None
    members = (await chicago.http.get("/api/v1/communities/itar/members", headers=mike)).json()["items"]
    assert [m["person"]["handle"] for m in members] == ["@mike@chicago.example"]
    notes = (await shanghai.http.get("/api/v1/notifications", headers=li)).json()["items"]
    assert [(n["kind"], n["detail"]) for n in notes] == [("join_decision", "denied")]
