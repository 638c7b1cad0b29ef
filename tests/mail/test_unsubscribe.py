"""One-click unsubscribe (RFC 8058): the POST a mail provider sends works without a session; a GET only
asks for confirmation."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from server.app import create_app
from server.context import Context
from server.mail import preferences
from server.mail.routes import routes
from tests.mail.conftest import Sink, join, work, write
from tests.social.helpers import community, person


@pytest.fixture
async def web(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx.settings, context=ctx)
    app.router.routes.extend(routes)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as http:
        yield http


async def test_one_click_unsubscribe_stops_the_community_mails(
    ctx: Context, sink: Sink, web: httpx.AsyncClient
) -> None:
    bob, ada = await person(ctx, "bob"), await person(ctx, "ada")
    design = await community(ctx, bob, "design")
    await join(ctx, ada, "design")
    async with ctx.transaction() as session:
        await preferences.set_community_mode(session, ctx.clock.now(), ada.id, design.id, "each")
    await write(ctx, bob, "design", "First")
    await work(ctx)
    (mail,) = sink.to("ada@corp.example")
    url = str(mail["List-Unsubscribe"]).strip().strip("<>")
    path = url.removeprefix("http://localhost:8000")

    page = await web.get(path)
    assert page.status_code == 200 and "Stop receiving these mails?" in page.text
    async with ctx.sessions() as session:
        assert (await preferences.preferences_of(session, ctx.settings, ada.id)).mode_for(design.id) == "each"

    web.cookies.clear()  # the mail provider's POST carries no cookie
    done = await web.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200 and "no longer receive" in done.text
    async with ctx.sessions() as session:
        assert (await preferences.preferences_of(session, ctx.settings, ada.id)).mode_for(design.id) == "none"
    await write(ctx, bob, "design", "Second")
    await work(ctx)
    assert len(sink.to("ada@corp.example")) == 1

    assert (await web.post("/mail/unsubscribe/not-a-token")).status_code == 404


async def test_unsubscribing_from_mentions(ctx: Context, sink: Sink, web: httpx.AsyncClient) -> None:
    bob = await person(ctx, "bob")
    await person(ctx, "ada")
    await community(ctx, bob, "design")
    await write(ctx, bob, "design", "@ada one")
    await work(ctx)
    url = str(sink.to("ada@corp.example")[0]["List-Unsubscribe"]).strip().strip("<>")
    path = url.removeprefix("http://localhost:8000")
    page = await web.get(path)  # in a browser: confirm with the form (it carries its CSRF token)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    assert (await web.post(path, data={"csrf_token": token.group(1)})).status_code == 200
    await write(ctx, bob, "design", "@ada two")
    await work(ctx)
    assert len(sink.to("ada@corp.example")) == 1
