"""Adoption figures obey the charter: no figure about fewer than min_group_size people, no per-person
figures where the charter forbids them (de), only for managers and administrators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from server.clock import FakeClock
from server.context import Context, build_context
from server.errors import Forbidden
from server.services import analytics as service
from server.storage.accounts import get_user_by_username
from server.storage.social import Community
from tests.conftest import make_settings
from tests.search.helpers import add_member, community, person, write
from tests.social.test_api import bearer


async def busy_community(ctx: Context, members: int) -> Community:
    """`members` people (the owner included) who each post once; everyone answers the owner's question."""
    owner = await person(ctx, "owner")
    place = await community(ctx, owner, "garden")
    people = [await person(ctx, f"m{i}") for i in range(members - 1)]
    for user in people:
        await add_member(ctx, place, user)
    ctx.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    question = await write(ctx, owner, "Who has seeds to share?", places=["garden"])
    ctx.clock.advance(timedelta(minutes=30))  # type: ignore[attr-defined]
    for user in people:
        await write(ctx, user, "I do", parent=question.id)
        await write(ctx, user, "My tomatoes", places=["garden"])
    return place


async def report(ctx: Context, slug: str = "garden") -> service.Report:
    async with ctx.sessions() as session:
        admin = await get_user_by_username(session, "admin")
    if admin is None:
        admin = await person(ctx, "admin", admin=True)
    async with ctx.transaction() as session:
        return await service.community_report(session, ctx.clock.now(), ctx.charter, admin, slug, weeks=4)


async def test_a_small_community_gets_no_figures(ctx: Context) -> None:
    await busy_community(ctx, 3)  # the group charter's min_group_size is 5
    data = service.report_json(await report(ctx))
    assert all(value is None for value in data["figures"].values())
    assert data["hidden"]["members"] == "analytics.group_too_small"
    assert all(p["value"] is None for points in data["series"].values() for p in points)
    csv_text = service.report_csv(await report(ctx))
    assert "garden,members,,,analytics.group_too_small" in csv_text


async def test_a_large_enough_community_gets_its_figures_and_ambassadors(ctx: Context) -> None:
    await busy_community(ctx, 6)
    data = service.report_json(await report(ctx))
    figures = data["figures"]
    assert figures["members"] == 6 and figures["active_members_7d"] == 6
    assert figures["posts_30d"] == 6 and figures["comments_30d"] == 5
    assert figures["engagement_rate_30d"] == 100.0
    assert figures["median_response_minutes_90d"] is None  # one first answer: about one person
    assert data["hidden"]["median_response_minutes_90d"] == "analytics.group_too_small"
    assert figures["reactions_30d"] is None  # nobody reacted: a figure about 0 people
    assert data["series"]["posts"][-1]["value"] == 6
    assert data["ambassadors"] and data["ambassadors"][0]["score"] >= 4
    chart = service.svg_chart((await report(ctx)).series["posts"], title="Posts <per> week")
    assert chart.startswith("<svg") and "Posts &lt;per&gt; week" in chart and "<script" not in chart


@pytest.fixture
async def de_ctx(database_url: str, tmp_path: Path) -> AsyncIterator[Context]:
    context = build_context(make_settings(database_url, tmp_path, charter="de"), clock=FakeClock())
    yield context
    await context.close()


async def test_the_german_charter_forbids_ambassadors_and_needs_seven_people(de_ctx: Context) -> None:
    await busy_community(de_ctx, 6)
    data = service.report_json(await report(de_ctx))
    assert data["ambassadors"] is None and data["ambassadors_hidden"] == "analytics.per_person_forbidden"
    assert data["figures"]["members"] is None  # 6 < 7
    assert "ambassador" not in service.report_csv(await report(de_ctx))


async def test_only_managers_and_administrators_see_figures(ctx: Context, api: httpx.AsyncClient) -> None:
    owner = await bearer(ctx, "ada")
    member = await bearer(ctx, "bob")
    created = await api.post(
        "/api/v1/communities", json={"slug": "lab", "name": "Lab", "kind": "project"}, headers=owner
    )
    assert created.status_code == 201
    await api.post("/api/v1/communities/lab/join", headers=member)

    assert (await api.get("/api/v1/communities/lab/analytics", headers=owner)).status_code == 200
    assert (await api.get("/api/v1/communities/lab/analytics", headers=member)).status_code == 403
    assert (await api.get("/api/v1/analytics", headers=owner)).status_code == 403
    exported = await api.get("/api/v1/communities/lab/analytics?format=csv", headers=owner)
    assert exported.headers["content-type"].startswith("text/csv") and exported.text.startswith(
        "scope,figure"
    )
    chart = await api.get("/api/v1/communities/lab/analytics?format=svg&series=posts", headers=owner)
    assert chart.headers["content-type"] == "image/svg+xml" and chart.text.startswith("<svg")


async def test_the_instance_report_is_for_administrators(ctx: Context) -> None:
    await busy_community(ctx, 6)
    admin, someone = await person(ctx, "root", admin=True), await person(ctx, "someone")
    async with ctx.transaction() as session:
        with pytest.raises(Forbidden):
            await service.instance_report(session, ctx.clock.now(), ctx.charter, someone)
        data = service.report_json(
            await service.instance_report(session, ctx.clock.now(), ctx.charter, admin)
        )
    assert data["figures"]["members"] == 8 and data["figures"]["posts_30d"] == 6
