"""The cross-border consent step on an instance whose charter asks for it (`cn`, PIPL art. 39): the
walk-through adds it after the charter, explains it in the person's language, records yes and no (a no is
audited and is no dead end), and the settings let the person change it later."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from server.config import Settings
from server.context import Context
from server.services import charter as charter_service
from server.storage import delivery as delivery_store
from server.storage.accounts import get_user_by_username
from server.storage.audit import AuditFilter, list_audit_entries
from server.storage.delivery_models import Delivery
from server.storage.models import User
from tests.conftest import make_settings
from tests.web.test_accounts_web import csrf_of, make_user, sign_in
from tests.web.test_pages_web import accept_charter

PEERS = [
    {"domain": "munich.example.com", "jurisdiction": "DE"},
    {"domain": "paris.example.com", "jurisdiction": "FR"},
    {"domain": "shanghai.example.com", "jurisdiction": "CN"},
]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, charter="cn", peers=PEERS)


async def alice(ctx: Context) -> User:
    async with ctx.sessions() as session:
        user = await get_user_by_username(session, "alice")
    assert user is not None
    return user


async def consents(ctx: Context) -> dict[str, str]:
    async with ctx.sessions() as session:
        return {
            c.jurisdiction: c.text_version
            for c in await charter_service.list_consents(session, await alice(ctx))
        }


async def refusals(ctx: Context) -> list[dict[str, object]]:
    where = AuditFilter(
        subject_kind="person", subject=f"user:{(await alice(ctx)).id}", action="consent_refused"
    )
    async with ctx.sessions() as session:
        return [dict(entry.details) for entry in await list_audit_entries(session, where)]


async def test_the_walk_through_adds_the_step_after_the_charter_and_explains_it(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await make_user(ctx, "alice")
    csrf = await sign_in(client, "alice")
    await accept_charter(client, csrf)
    welcome = await client.get("/welcome")
    steps = re.findall(r"<h2>(.*?)</h2>", welcome.text)
    assert steps[:2] == ["Read and accept the usage charter", "Decide whether your data may be sent abroad"]
    assert 'href="/welcome/cross-border"' in welcome.text
    page = await client.get("/welcome/cross-border")
    assert page.status_code == 200
    assert "<h1>Sending my data abroad</h1>" in page.text
    assert "§ 6.1 Personal information leaving China (PIPL, art. 39)" in page.text
    assert "your separate consent is obtained" in page.text
    assert "Germany: munich.example.com" in page.text and "France: paris.example.com" in page.text
    assert "shanghai" not in page.text  # sending within China needs no consent
    assert "What would be sent: your profile, your posts, your comments" in page.text
    assert 'name="consent-DE" value="yes"' in page.text and "checked" not in page.text


async def test_the_step_speaks_the_persons_language(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx, "alice")
    csrf = await sign_in(client, "alice")
    await client.post("/settings/language", data={"csrf_token": csrf, "language": "de"})
    page = await client.get("/welcome/cross-border")
    assert "<h1>Datenübermittlung ins Ausland</h1>" in page.text
    assert "Deutschland: munich.example.com" in page.text and "Frankreich: paris.example.com" in page.text
    # cn.toml is written in Chinese and English only: the article is shown in English, and it says so
    assert '<div lang="en">' in page.text and "nicht in Ihrer Sprache vor" in page.text
    assert "your separate consent is obtained" in page.text


async def test_a_browser_asking_for_chinese_reads_the_article_in_chinese(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await make_user(ctx, "alice")
    await sign_in(client, "alice")
    page = await client.get("/welcome/cross-border", headers={"Accept-Language": "zh-CN, en;q=0.5"})
    assert '<html lang="en">' in page.text  # no Chinese interface: the page itself is in English
    assert '<div lang="zh">' in page.text and "并取得您的单独同意" in page.text
    assert "Germany: munich.example.com" in page.text


async def test_consenting_to_one_country_and_refusing_the_other(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await make_user(ctx, "alice")
    csrf = await sign_in(client, "alice")
    await accept_charter(client, csrf)
    user = await alice(ctx)
    now = ctx.clock.now()
    async with ctx.transaction() as session:
        waiting = [
            Delivery(
                destination=f"https://{domain}/inbox",
                peer_domain=domain,
                activity_uri=f"http://localhost:8000/activities/{n}",
                payload={},
                signer_actor_id=user.actor_id,
                state="awaiting_consent",
                created_at=now,
            )
            for n, domain in enumerate(("munich.example.com", "paris.example.com"))
        ]
        await delivery_store.enqueue(session, now, waiting)
    answered = await client.post(
        "/welcome/cross-border", data={"csrf_token": csrf, "consent-DE": "yes", "consent-FR": "no"}
    )
    assert answered.status_code == 303 and answered.headers["location"] == "/welcome"
    assert await consents(ctx) == {"DE": "cn 2026.1 §6.1"}
    assert await refusals(ctx) == [{"jurisdictions": ["FR"], "text_version": "cn 2026.1 §6.1"}]
    async with ctx.sessions() as session:
        states = {d.peer_domain: d.state for d in await session.run_sync(lambda s: s.query(Delivery).all())}
    assert states == {"munich.example.com": "pending", "paris.example.com": "awaiting_consent"}
    welcome = await client.get("/welcome")
    assert "Done: your choice is recorded." in welcome.text
    # no dead end: the person posts as usual
    posted = await client.post(
        "/compose", data={"csrf_token": csrf, "body": "Hello from Shanghai", "on_profile": "1"}
    )
    assert posted.status_code == 303 and posted.headers["location"].startswith("/posts/")


async def test_refusing_everything_is_recorded_and_the_walk_through_goes_on(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await make_user(ctx, "alice")
    csrf = await sign_in(client, "alice")
    answered = await client.post(
        "/welcome/cross-border", data={"csrf_token": csrf, "consent-DE": "no", "consent-FR": "no"}
    )
    assert answered.status_code == 303
    assert await consents(ctx) == {}
    assert await refusals(ctx) == [{"jurisdictions": ["DE", "FR"], "text_version": "cn 2026.1 §6.1"}]
    welcome = await client.get("/welcome")
    assert "Done: your choice is recorded." in welcome.text
    page = await client.get("/settings/cross-border")
    assert 'id="consent-DE-no" name="consent-DE" value="no" checked' in page.text


async def test_hostile_answers_are_refused_and_nothing_is_stored(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await make_user(ctx, "alice")
    csrf = await sign_in(client, "alice")
    for data, field in (
        ({"consent-DE": "yes"}, "consent-FR"),
        ({"consent-DE": "maybe", "consent-FR": "no"}, "consent-DE"),
        ({"consent-DE": "yes", "consent-FR": "yes", "consent-US": "yes"}, "consent"),
        ({"consent-DE": "yes", "consent-FR": "yes", "consent-CN": "yes"}, "consent"),
    ):
        response = await client.post("/welcome/cross-border", data={"csrf_token": csrf, **data})
        assert response.status_code == 422, data
        assert f'id="{field}-error"' in response.text
    assert await consents(ctx) == {} and await refusals(ctx) == []
    assert (
        await client.post("/welcome/cross-border", data={"consent-DE": "yes", "consent-FR": "yes"})
    ).status_code == 403


async def test_the_settings_page_changes_the_choice_later(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx, "alice")
    csrf = await sign_in(client, "alice")
    settings = await client.get("/settings")
    assert 'href="/settings/cross-border"' in settings.text
    await client.post(
        "/welcome/cross-border", data={"csrf_token": csrf, "consent-DE": "yes", "consent-FR": "yes"}
    )
    assert set(await consents(ctx)) == {"DE", "FR"}
    page = await client.get("/settings/cross-border")
    assert 'href="/settings"' in page.text and csrf_of(page.text) == csrf
    changed = await client.post(
        "/settings/cross-border", data={"csrf_token": csrf, "consent-DE": "yes", "consent-FR": "no"}
    )
    assert changed.headers["location"] == "/settings/cross-border?saved=1"
    assert set(await consents(ctx)) == {"DE"}
    assert "Your choice is saved." in (await client.get(changed.headers["location"])).text


async def test_an_instance_whose_charter_asks_nothing_has_no_step(tmp_path: Path, database_url: str) -> None:
    from server.app import create_app
    from server.context import build_context

    ctx = build_context(make_settings(database_url, tmp_path, peers=PEERS))
    try:
        app = create_app(ctx.settings, context=ctx)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as client:
            await make_user(ctx, "alice")
            csrf = await sign_in(client, "alice")
            assert "abroad" not in (await client.get("/welcome")).text
            page = await client.get("/settings/cross-border")
            assert "does not ask for a separate consent" in page.text
            refused = await client.post(
                "/settings/cross-border", data={"csrf_token": csrf, "consent-DE": "yes"}
            )
            assert refused.status_code == 422
    finally:
        await ctx.close()
