"""Settings → Email: the form shows the stored preferences, saves them (CSRF, confirmation), refuses
hostile input without storing anything, and shows what an unsubscribe link changed."""

from __future__ import annotations

import httpx

from server.context import Context
from server.mail import preferences
from server.mail.preferences import unsubscribe_token
from server.storage.accounts import get_user_by_username
from server.storage.models import User
from tests.web.test_accounts_web import make_user, sign_in
from tests.web.test_pages_web import create_community


async def alice(ctx: Context) -> User:
    async with ctx.sessions() as session:
        user = await get_user_by_username(session, "alice")
    assert user is not None
    return user


async def stored(ctx: Context) -> preferences.Preferences:
    async with ctx.sessions() as session:
        return await preferences.preferences_of(session, ctx.settings, (await alice(ctx)).id)


async def community_ids(ctx: Context) -> dict[str, int]:
    from server.storage.communities import get_community_by_slug

    found = {}
    async with ctx.sessions() as session:
        for slug in ("welders", "painters"):
            community = await get_community_by_slug(session, slug)
            assert community is not None
            found[slug] = community.id
    return found


async def test_the_page_is_linked_from_settings_and_shows_the_defaults(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    assert (await client.get("/settings/email")).status_code == 303
    await make_user(ctx, "alice")
    csrf = await sign_in(client, "alice")
    await create_community(client, csrf, "welders")
    settings = await client.get("/settings")
    assert 'href="/settings/email"' in settings.text
    page = await client.get("/settings/email")
    assert page.status_code == 200
    assert "<h1>Email preferences</h1>" in page.text
    assert "Mails go to alice@corp.example." in page.text
    assert 'id="default_mode-daily" name="default_mode" value="daily" checked' in page.text
    assert 'id="mentions" name="mentions" value="1" checked' in page.text
    assert "community+welders@localhost" in page.text
    assert '<label for="community-' in page.text and "As my default (Daily digest)" in page.text


async def test_saving_stores_every_choice_and_confirms(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx, "alice")
    csrf = await sign_in(client, "alice")
    await create_community(client, csrf, "welders")
    await create_community(client, csrf, "painters")
    ids = await community_ids(ctx)
    saved = await client.post(
        "/settings/email",
        data={
            "csrf_token": csrf,
            "default_mode": "weekly",
            "replies": "1",
            f"community.{ids['welders']}": "each",
            f"community.{ids['painters']}": "",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/settings/email?saved=1"
    prefs = await stored(ctx)
    assert prefs.default_mode == "weekly" and prefs.mentions is False and prefs.replies is True
    assert prefs.communities == {ids["welders"]: "each"}
    page = await client.get(saved.headers["location"])
    assert "Your email preferences are saved." in page.text
    assert 'value="weekly" checked' in page.text and 'id="mentions" name="mentions" value="1">' in page.text

    back_to_default = await client.post(
        "/settings/email",
        data={"csrf_token": csrf, "default_mode": "none", f"community.{ids['welders']}": ""},
    )
    assert back_to_default.status_code == 303
    prefs = await stored(ctx)
    assert prefs.communities == {} and prefs.mode_for(ids["welders"]) == "none"


async def test_hostile_input_is_refused_and_nothing_is_stored(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await make_user(ctx, "alice")
    await make_user(ctx, "bruno")
    csrf = await sign_in(client, "bruno")
    await create_community(client, csrf, "painters")
    await client.post("/logout", data={"csrf_token": csrf})
    csrf = await sign_in(client, "alice")
    await create_community(client, csrf, "welders")
    ids = await community_ids(ctx)
    no_csrf = await client.post("/settings/email", data={"default_mode": "none"})
    assert no_csrf.status_code == 403
    for data, field in (
        ({"default_mode": "hourly"}, "default_mode"),
        ({"default_mode": "none", f"community.{ids['painters']}": "each"}, "communities"),
        ({"default_mode": "none", f"community.{ids['welders']}": "always"}, "communities"),
        ({"default_mode": "none", "community.x1": "each"}, "communities"),
    ):
        response = await client.post("/settings/email", data={"csrf_token": csrf, "mentions": "1", **data})
        assert response.status_code == 422, data
        assert f'id="{field}-error"' in response.text
        assert response.text.count('role="alert"') == 1
    prefs = await stored(ctx)
    assert prefs.default_mode == ctx.settings.smtp.default_mode and prefs.communities == {}


async def test_an_unsubscribe_link_shows_on_the_page(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx, "alice")
    await sign_in(client, "alice")
    user = await alice(ctx)
    async with ctx.transaction() as session:
        token = await unsubscribe_token(session, ctx.clock.now(), user.id, "mentions")
    mail_provider = httpx.AsyncClient(transport=client._transport, base_url="http://localhost:8000")
    async with mail_provider:  # one-click unsubscribe comes without a cookie
        assert (await mail_provider.post(f"/mail/unsubscribe/{token}")).status_code == 200
    page = await client.get("/settings/email")
    assert 'id="mentions" name="mentions" value="1">' in page.text
    assert 'id="replies" name="replies" value="1" checked' in page.text
