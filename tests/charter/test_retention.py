"""Retention: the purge deletes what is past its period, keeps what a legal hold covers, and says so."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from server.clock import FakeClock
from server.context import Context
from server.errors import Forbidden
from server.services import charter as service
from server.services import retention
from server.storage.social import Attachment, Post
from tests.charter.conftest import add_community, add_post, add_user, audit_entries, bearer, snapshot

YEAR = timedelta(days=365)


async def post_state(ctx: Context, post_id: int) -> tuple[bool, str]:
    async with ctx.sessions() as session:
        post = await session.get(Post, post_id)
        assert post is not None
        return post.deleted_at is not None, post.source


async def test_the_purge_deletes_expired_content_and_records_it(ctx: Context, clock: FakeClock) -> None:
    author = await add_user(ctx, "alice")
    old = await add_post(
        ctx, author, "old news", created_at=clock.now() - 6 * YEAR, attachment=("image/png", 10)
    )
    recent = await add_post(ctx, author, "fresh", created_at=clock.now() - YEAR)
    finance = await add_community(ctx, "ledger", tags=["finance-records"])
    kept_longer = await add_post(
        ctx, author, "invoice", created_at=clock.now() - 6 * YEAR, community_id=finance
    )
    sent: list[Sequence[int]] = []

    async def on_purged(post_ids: Sequence[int]) -> None:
        sent.append(list(post_ids))

    async with ctx.transaction() as session:
        report = await retention.purge_expired(session, ctx, clock.now(), on_purged=on_purged)
    assert report.post_ids == [old] and sent == [[old]]
    assert report.uris == ["http://localhost:8000/posts/1"]
    assert report.files == ("files/1.bin",)
    assert await post_state(ctx, old) == (True, "")
    assert await post_state(ctx, recent) == (False, "fresh")
    assert await post_state(ctx, kept_longer) == (False, "invoice")
    async with ctx.sessions() as session:
        assert (await session.execute(select(Attachment))).first() is None
    [entry] = await audit_entries(ctx)
    assert (entry.point, entry.action, entry.article_id, entry.reason_code) == (
        "retention",
        "purge",
        "7",
        "retention.due",
    )
    assert entry.subject == "http://localhost:8000/posts/1"


async def test_a_legal_hold_stops_the_purge_until_released(ctx: Context, clock: FakeClock) -> None:
    author = await add_user(ctx, "bert")
    other = await add_user(ctx, "cleo")
    held = await add_post(ctx, author, "evidence", created_at=clock.now() - 6 * YEAR)
    free = await add_post(ctx, other, "chit-chat", created_at=clock.now() - 6 * YEAR)
    async with ctx.transaction() as session:
        hold = await service.place_hold(
            session, clock.now(), ctx.charter, None, person_actor_id=author.actor_id, reason="Case 2026-17"
        )
    async with ctx.transaction() as session:
        report = await retention.purge_expired(session, ctx, clock.now())
    assert report.post_ids == [free]
    assert [(k.id, k.hold_id) for k in report.kept] == [(held, str(hold.id))]
    assert await post_state(ctx, held) == (False, "evidence")
    clock.advance(timedelta(days=1))
    async with ctx.transaction() as session:
        await service.release_hold(session, clock.now(), ctx.charter, None, hold.id)
    async with ctx.transaction() as session:
        assert (await retention.purge_expired(session, ctx, clock.now())).post_ids == [held]
    actions = [(e.point, e.action, e.subject_kind) for e in await audit_entries(ctx)]
    assert actions == [
        ("retention", "hold", "legal_hold"),
        ("retention", "purge", "post"),
        ("retention", "release", "legal_hold"),
        ("retention", "purge", "post"),
    ]
    placed = (await audit_entries(ctx))[0]
    assert placed.details["reason"] == "Case 2026-17" and placed.details["person_actor_id"] == author.actor_id


async def test_a_dry_run_changes_nothing(ctx: Context, clock: FakeClock) -> None:
    author = await add_user(ctx, "dave")
    await add_post(ctx, author, "old", created_at=clock.now() - 6 * YEAR)
    before = await snapshot(ctx)
    async with ctx.transaction() as session:
        report = await retention.purge_expired(session, ctx, clock.now(), dry_run=True)
    assert len(report.purged) == 1 and report.dry_run
    assert await snapshot(ctx) == before


async def test_a_community_hold_and_a_period_hold(ctx: Context, clock: FakeClock) -> None:
    author = await add_user(ctx, "ella")
    community = await add_community(ctx, "audit-2020")
    in_community = await add_post(ctx, author, "a", created_at=clock.now() - 7 * YEAR, community_id=community)
    in_period = await add_post(ctx, author, "b", created_at=clock.now() - 6 * YEAR)
    outside = await add_post(ctx, author, "c", created_at=clock.now() - 8 * YEAR)
    async with ctx.transaction() as session:
        await service.place_hold(
            session, clock.now(), ctx.charter, None, community_id=community, reason="audit"
        )
        await service.place_hold(
            session,
            clock.now(),
            ctx.charter,
            None,
            period_start=clock.now() - 6 * YEAR - timedelta(days=1),
            period_end=clock.now() - 6 * YEAR + timedelta(days=1),
            reason="period",
        )
    async with ctx.transaction() as session:
        report = await retention.purge_expired(session, ctx, clock.now())
    assert report.post_ids == [outside]
    assert sorted(k.id for k in report.kept) == [in_community, in_period]


async def test_only_administrators_place_holds(ctx: Context, client: httpx.AsyncClient) -> None:
    admin = await add_user(ctx, "root", admin=True)
    member = await add_user(ctx, "member")
    async with ctx.transaction() as session:
        with pytest.raises(Forbidden):
            await service.place_hold(session, ctx.clock.now(), ctx.charter, member, reason="no")
    refused = await client.post(
        "/api/v1/legal-holds", json={"reason": "x"}, headers=await bearer(ctx, member)
    )
    assert refused.status_code == 403
    headers = await bearer(ctx, admin)
    placed = await client.post(
        "/api/v1/legal-holds", json={"person": "member", "reason": "HR case 12"}, headers=headers
    )
    assert placed.status_code == 201 and placed.json()["person_actor_id"] == member.actor_id
    hold_id = placed.json()["id"]
    assert [h["id"] for h in (await client.get("/api/v1/legal-holds", headers=headers)).json()["items"]] == [
        hold_id
    ]
    released = await client.post(f"/api/v1/legal-holds/{hold_id}/release", headers=headers)
    assert released.status_code == 200 and released.json()["released_at"] is not None
    assert (await client.get("/api/v1/legal-holds", headers=headers)).json()["items"] == []
    again = await client.post(f"/api/v1/legal-holds/{hold_id}/release", headers=headers)
    assert again.status_code == 422
    entries = await audit_entries(ctx)
    assert [(e.action, e.actor_id) for e in entries] == [
        ("hold", admin.actor_id),
        ("release", admin.actor_id),
    ]
