"""The instance's figures counted ahead of time: a snapshot is shown while it is fresh, with its time, and
counted again once too old; the charter is applied to it when shown, exactly as to a live count; the
worker keeps one per period the dashboard offers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from server.clock import FakeClock
from server.context import Context, build_context
from server.services import analytics as service
from server.storage import analytics as store
from server.storage.models import User
from server.workers import Background
from tests.conftest import make_settings
from tests.search.helpers import write
from tests.search.test_analytics import busy_community
from tests.search.test_analytics_counts import plant
from tests.social.helpers import person
from tests.test_workers import FakeFederation

MAX_AGE = timedelta(minutes=20)
INSTANCE = store.Scope(None)


async def shown(ctx: Context, admin: User, *, max_age: timedelta | None = MAX_AGE) -> dict[str, Any]:
    async with ctx.transaction() as session:
        report = await service.instance_report(
            session, ctx.clock.now(), ctx.charter, admin, weeks=4, max_age=max_age
        )
    return service.report_json(report)


def advance(ctx: Context, delta: timedelta) -> None:
    ctx.clock.advance(delta)  # type: ignore[attr-defined]


def same_figures(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def without_moments(report: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in report.items() if k not in ("generated_at", "figures_as_of")}

    return without_moments(a) == without_moments(b)


@pytest.fixture
async def de_ctx(ctx: Context, tmp_path: Path) -> AsyncIterator[Context]:
    """The same database and clock as `ctx`, under the German charter (seven people at least, no figure
    about one person, analytics kept six months)."""
    settings = make_settings(ctx.settings.database_url, tmp_path, charter="de")
    context = build_context(settings, clock=ctx.clock)
    yield context
    await context.close()


async def test_a_fresh_snapshot_is_shown_with_its_time_until_it_is_too_old(ctx: Context) -> None:
    await busy_community(ctx, 6)  # six people post once each
    admin = await person(ctx, "root", admin=True)
    counted_at = ctx.clock.now()
    first = await shown(ctx, admin)
    assert first["figures"]["posts_30d"] == 6 and first["figures_as_of"] == counted_at.isoformat()

    advance(ctx, timedelta(minutes=5))
    author = await person(ctx, "late")
    await write(ctx, author, "One more", on_profile=True)
    assert (await shown(ctx, admin, max_age=None))["figures"]["posts_30d"] == 7  # counted on the spot
    cached = await shown(ctx, admin)
    assert cached["figures"]["posts_30d"] == 6 and cached["figures"]["members"] == 7
    assert cached["figures_as_of"] == counted_at.isoformat()
    assert cached["generated_at"] == ctx.clock.now().isoformat()
    assert cached["series"] == first["series"]  # the weeks end when the snapshot was counted

    advance(ctx, MAX_AGE - timedelta(minutes=5) + timedelta(seconds=1))  # 20 min 1 s after the count
    again = await shown(ctx, admin)
    assert again["figures"]["posts_30d"] == 7 and again["figures"]["members"] == 8
    assert again["figures_as_of"] == ctx.clock.now().isoformat()
    advance(ctx, timedelta(minutes=1))
    assert (await shown(ctx, admin))["figures_as_of"] == again["figures_as_of"]  # kept as the snapshot


async def test_snapshot_figures_are_those_counted_on_the_spot(ctx: Context) -> None:
    await busy_community(ctx, 6)
    admin = await person(ctx, "root", admin=True)
    for weeks in service.WEEK_CHOICES:
        reports = []
        for max_age in (None, MAX_AGE, MAX_AGE):  # on the spot; counted and kept; from the snapshot
            async with ctx.transaction() as session:
                report = await service.instance_report(
                    session, ctx.clock.now(), ctx.charter, admin, weeks=weeks, max_age=max_age
                )
            reports.append(service.report_json(report))
            advance(ctx, timedelta(seconds=1))
        live, stored, from_snapshot = reports
        assert from_snapshot["figures_as_of"] == stored["figures_as_of"] != live["figures_as_of"]
        assert same_figures(live, stored) and same_figures(live, from_snapshot), weeks
        assert live["ambassadors"]  # the most helpful people come through the snapshot too
    async with ctx.sessions() as session:
        assert sorted(await store.snapshot_times(session, INSTANCE)) == list(service.WEEK_CHOICES)


async def test_one_count_gives_every_period_as_if_each_were_counted_alone(ctx: Context) -> None:
    await plant(ctx)  # posts, comments and reactions over the last 100 days, some on a week's edge
    assert await service.refresh_instance_snapshots(ctx.sessions, ctx.clock, ctx.charter) == [4, 12, 26, 52]
    for weeks in service.WEEK_CHOICES:
        async with ctx.sessions() as session:
            alone = await service.raw_report(session, ctx.clock.now(), ctx.charter, INSTANCE, weeks)
            found = await store.snapshot(session, INSTANCE, weeks)
        assert found is not None and service.from_snapshot(found) == alone, weeks
        assert len(alone.series["posts"]) == weeks and alone.helpful


async def test_the_minimum_group_size_applies_to_snapshot_figures(ctx: Context) -> None:
    await busy_community(ctx, 6)
    admin = await person(ctx, "root", admin=True)
    await shown(ctx, admin)
    async with ctx.transaction() as session:
        found = await store.snapshot(session, INSTANCE, 4)
        assert found is not None
        payload = found.payload
        assert payload["figures"]["posts_30d"] == [6, 6]
        payload["figures"]["posts_30d"] = [40, 4]  # forty posts by four people
        payload["series"]["posts"][-1][1:] = [40, 4]
        await store.store_snapshot(session, INSTANCE, 4, found.computed_at, payload)
    data = await shown(ctx, admin)
    assert data["figures_as_of"] == found.computed_at.isoformat()  # the snapshot was used
    assert data["figures"]["posts_30d"] is None
    assert data["hidden"]["posts_30d"] == "analytics.group_too_small"
    assert data["series"]["posts"][-1]["value"] is None
    assert data["figures"]["comments_30d"] == 5  # five people commented: shown


async def test_a_snapshot_is_shown_under_the_charter_in_force(ctx: Context, de_ctx: Context) -> None:
    await busy_community(ctx, 6)
    admin = await person(ctx, "root", admin=True)  # seven people: enough for a figure under `de`
    counted_at = ctx.clock.now()
    with_ambassadors = await shown(ctx, admin)
    assert with_ambassadors["figures"]["posts_30d"] == 6 and with_ambassadors["ambassadors"]

    advance(ctx, timedelta(minutes=1))
    german = await shown(de_ctx, admin)
    assert german["figures_as_of"] == counted_at.isoformat()  # the group charter's snapshot, used
    assert german["figures"]["members"] == 7
    assert german["figures"]["posts_30d"] is None  # six authors: fewer than seven
    assert german["ambassadors"] is None and german["ambassadors_hidden"] == "analytics.per_person_forbidden"
    assert same_figures(german, await shown(de_ctx, admin, max_age=None))


async def test_no_snapshot_keeps_people_the_charter_does_not_allow_showing(
    ctx: Context, de_ctx: Context
) -> None:
    await busy_community(ctx, 6)
    admin = await person(ctx, "root", admin=True)
    assert await service.refresh_instance_snapshots(de_ctx.sessions, de_ctx.clock, de_ctx.charter) == [
        4,
        12,
        25,  # the German charter keeps analytics six months: 25 whole weeks
    ]
    async with ctx.sessions() as session:
        found = await store.snapshot(session, INSTANCE, 4)
    assert found is not None and found.payload["helpful"] is None

    advance(ctx, timedelta(minutes=1))
    data = await shown(ctx, admin)  # the group charter shows the most helpful people: counted now
    assert data["figures_as_of"] == ctx.clock.now().isoformat() and data["ambassadors"]


async def test_the_worker_keeps_the_snapshots_fresh(ctx: Context) -> None:
    await busy_community(ctx, 6)
    admin = await person(ctx, "root", admin=True)
    assert await service.refresh_instance_snapshots(ctx.sessions, ctx.clock, ctx.charter) == [4, 12, 26, 52]
    first = ctx.clock.now()

    await write(ctx, admin, "Hello everyone", on_profile=True)
    advance(ctx, timedelta(minutes=4))
    keep = timedelta(minutes=5)
    assert await service.refresh_instance_snapshots(ctx.sessions, ctx.clock, ctx.charter, keep=keep) == []
    assert (await shown(ctx, admin))["figures_as_of"] == first.isoformat()

    advance(ctx, timedelta(minutes=2))
    background = Background(ctx, FakeFederation())  # type: ignore[arg-type]
    task = asyncio.create_task(background._analytics(0.05))
    try:
        async with asyncio.timeout(30):
            while True:
                async with ctx.sessions() as session:
                    times = await store.snapshot_times(session, INSTANCE)
                if set(times.values()) == {ctx.clock.now()}:
                    break
                await asyncio.sleep(0.05)
    finally:
        background._stopping.set()
        await task
    data = await shown(ctx, admin)
    assert data["figures_as_of"] == ctx.clock.now().isoformat()
    assert data["figures"]["posts_30d"] == 7


async def test_a_snapshot_in_another_format_is_counted_again(ctx: Context) -> None:
    await busy_community(ctx, 6)
    admin = await person(ctx, "root", admin=True)
    async with ctx.transaction() as session:
        await store.store_snapshot(session, INSTANCE, 4, ctx.clock.now(), {"format": 0})
    advance(ctx, timedelta(minutes=1))
    data = await shown(ctx, admin)
    assert data["figures_as_of"] == ctx.clock.now().isoformat() and data["figures"]["posts_30d"] == 6


def test_snapshots_may_be_turned_off() -> None:
    assert service.snapshot_max_age(600) == timedelta(minutes=20)
    assert service.snapshot_max_age(0) is None


class StartableFederation(FakeFederation):
    def __init__(self) -> None:
        super().__init__()
        self.queue.start = lambda: None  # type: ignore[attr-defined]

    async def pending_ids(self) -> list[int]:
        return []

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("seconds", [0, 600])
async def test_the_worker_counts_only_when_snapshots_are_on(
    tmp_path: Path, database_url: str, seconds: int
) -> None:
    settings = make_settings(database_url, tmp_path, analytics_refresh_seconds=seconds, smtp={"send": False})
    ctx = build_context(settings, clock=FakeClock())
    try:
        background = Background(ctx, StartableFederation())  # type: ignore[arg-type]
        await background.start()
        try:
            names = {task.get_name() for task in background._tasks}
        finally:
            await background.stop()
        assert ("cercle-analytics" in names) is (seconds > 0)
    finally:
        await ctx.close()
