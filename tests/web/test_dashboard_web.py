"""Adoption dashboards: a community's animators and the administrators see the figures, the SVG charts and
the CSV link, within the charter's thresholds; members get 403, outsiders of a secret community 404, and
the instance dashboard does not exist for anyone but administrators."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
from babel.dates import format_datetime

from server.app import create_app
from server.context import Context, build_context
from server.services import communities
from server.storage.accounts import get_user_by_username
from tests.conftest import make_settings
from tests.search.helpers import write
from tests.social.helpers import person
from tests.web.test_accounts_web import make_user, sign_in
from tests.web.test_pages_web import accept_charter, create_community


async def join(ctx: Context, names: list[str], slug: str) -> None:
    for name in names:
        await make_user(ctx, name)
        async with ctx.transaction() as session:
            user = await get_user_by_username(session, name)
            assert user is not None
            await communities.join(session, ctx, ctx.clock.now(), user, slug)


def figure(page: str, label: str) -> str:
    found = re.search(
        rf'<span class="value[^"]*">([^<]*)</span>\s*<span class="label">{re.escape(label)}</span>', page
    )
    assert found, label
    return found.group(1).strip()


async def test_an_animator_sees_figures_charts_and_the_csv_link(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await make_user(ctx, "alice")
    csrf = await sign_in(client, "alice")
    await accept_charter(client, csrf)
    await create_community(client, csrf, "welders")
    community_page = await client.get("/c/welders")
    assert 'href="/c/welders/dashboard"' in community_page.text
    small = await client.get("/c/welders/dashboard")
    assert small.status_code == 200
    assert figure(small.text, "Members") == "fewer than 5 people"
    assert "no figure about fewer than 5 people" in small.text

    await join(ctx, ["bruno", "carla", "dora", "emil"], "welders")
    await client.post("/compose", data={"csrf_token": csrf, "body": "Hello", "communities": "welders"})
    page = await client.get("/c/welders/dashboard")
    assert figure(page.text, "Members") == "5"
    assert figure(page.text, "Posts, last 30 days") == "fewer than 5 people"  # one author
    assert 'aria-current="page">Dashboard</a>' in page.text
    assert (
        len(re.findall(r'<svg xmlns="http://www.w3.org/2000/svg"[^>]*role="img" aria-label="', page.text))
        == 5
    )
    assert 'aria-label="Posts per week"' in page.text
    assert 'href="/api/v1/communities/welders/analytics?format=csv&amp;weeks=12"' in page.text
    assert "<script" not in page.text.split("<main", 1)[1]
    csv = await client.get("/api/v1/communities/welders/analytics?format=csv&weeks=12")
    assert csv.status_code == 200 and csv.text.startswith("scope,figure,week_start,value,hidden")
    four = await client.get("/c/welders/dashboard", params={"weeks": "4"})
    assert four.text.count('<tr><th scope="row">') == 4
    assert (await client.get("/c/welders/dashboard", params={"weeks": "9999"})).status_code == 200


async def test_members_get_403_and_outsiders_of_a_secret_community_404(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    assert (await client.get("/c/welders/dashboard")).status_code == 303
    await make_user(ctx, "alice")
    csrf = await sign_in(client, "alice")
    await create_community(client, csrf, "welders")
    await create_community(client, csrf, "board", visibility="secret")
    await join(ctx, ["bruno"], "welders")
    await client.post("/logout", data={"csrf_token": csrf})
    await sign_in(client, "bruno")
    assert 'href="/c/welders/dashboard"' not in (await client.get("/c/welders")).text
    member = await client.get("/c/welders/dashboard")
    assert member.status_code == 403 and "Members" not in member.text.split("<main", 1)[1]
    assert (await client.get("/c/board/dashboard")).status_code == 404
    assert (await client.get("/c/nowhere/dashboard")).status_code == 404
    assert (await client.get("/admin/dashboard")).status_code == 404


async def test_administrators_see_the_instance_dashboard(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx, "root", admin=True)
    for name in ("bruno", "carla", "dora", "emil"):
        await make_user(ctx, name)
    await sign_in(client, "root")
    assert 'href="/admin/dashboard"' in (await client.get("/admin")).text
    page = await client.get("/admin/dashboard")
    assert page.status_code == 200 and "<h1>Adoption of this instance</h1>" in page.text
    assert figure(page.text, "Members") == "5"
    assert 'href="/api/v1/analytics?format=csv&amp;weeks=12"' in page.text
    assert "Most helpful people" in page.text and "Nobody yet" in page.text


async def test_a_charter_without_per_person_figures_shows_none(tmp_path: Path, database_url: str) -> None:
    ctx = build_context(make_settings(database_url, tmp_path, charter="de"))
    try:
        app = create_app(ctx.settings, context=ctx)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as client:
            await make_user(ctx, "root", admin=True)
            await sign_in(client, "root")
            page = await client.get("/admin/dashboard")
            assert "no figure about fewer than 7 people" in page.text
            assert "The charter does not allow figures about one person." in page.text
            assert figure(page.text, "Members") == "fewer than 7 people"
    finally:
        await ctx.close()


def figures_as_of(page: str) -> str:
    found = re.search(r'<p class="muted" id="figures-as-of">([^<]*)</p>', page)
    assert found
    return found.group(1)


async def test_the_instance_dashboard_shows_counted_figures_and_when_until_they_are_too_old(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await make_user(ctx, "root", admin=True)
    authors = [await person(ctx, name) for name in ("bruno", "carla", "dora", "emil", "fanny")]
    for author in authors:
        await write(ctx, author, "Hello", on_profile=True)
    await sign_in(client, "root")
    counted_at = ctx.clock.now()
    shown = f"Figures as of {format_datetime(counted_at, format='medium', locale='en')}."
    page = await client.get("/admin/dashboard")
    assert figure(page.text, "Posts, last 30 days") == "5" and figures_as_of(page.text) == shown

    ctx.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    await write(ctx, authors[0], "Once more", on_profile=True)
    page = await client.get("/admin/dashboard")
    assert figure(page.text, "Posts, last 30 days") == "5" and figures_as_of(page.text) == shown
    french = await client.get("/admin/dashboard", headers={"Accept-Language": "fr"})
    assert "Chiffres arrêtés au " + format_datetime(counted_at, format="medium", locale="fr") in french.text
    data = (await client.get("/api/v1/analytics?weeks=12")).json()
    assert data["figures"]["posts_30d"] == 5 and data["figures_as_of"] == counted_at.isoformat()
    csv = (await client.get("/api/v1/analytics?format=csv&weeks=12")).text
    assert csv.splitlines()[1] == f"instance,figures_as_of,,{counted_at.isoformat()},"

    # the worker's interval is 10 minutes: figures up to 20 minutes old are shown
    ctx.clock.advance(timedelta(minutes=10, seconds=1))  # type: ignore[attr-defined]
    page = await client.get("/admin/dashboard")
    assert figure(page.text, "Posts, last 30 days") == "6"
    assert figures_as_of(page.text) == f"Figures as of {format_datetime(ctx.clock.now(), locale='en')}."
    other = await client.get("/admin/dashboard", params={"weeks": "4"})  # each period has its own
    assert figures_as_of(other.text) == figures_as_of(page.text)
