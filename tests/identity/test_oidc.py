"""Single sign-on against a real OpenID Connect provider process on loopback."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from server.context import Context
from server.errors import Forbidden
from server.identity.modes import ensure_password_sign_in_allowed, password_sign_in_allowed
from server.services import accounts
from server.storage.identity import ExternalIdentity
from server.storage.models import User
from server.storage.social import Profile
from tests.identity.conftest import CALLBACK, Instance, Provider, sso_settings

ZOE: dict[str, Any] = {
    "sub": "00u-zoe-4711",
    "preferred_username": "Zoé.Martin@corp.example",
    "email": "zoe.martin@corp.example",
    "email_verified": True,
    "name": "Zoé Martin",
    "job_title": "Process engineer",
    "department": "Manufacturing",
    "address": {"locality": "Lyon"},
    "groups": ["staff", "cercle-admins"],
}


async def sso_sign_in(
    client: httpx.AsyncClient, provider: Provider, claims: dict[str, Any]
) -> httpx.Response:
    """The browser's trip: Cercle → the provider (real HTTP) → Cercle's callback."""
    provider.sign_in_as(claims)
    start = await client.get("/login/sso", params={"next": "/communities"})
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    assert authorize.startswith(f"{provider.issuer}/authorize?")
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    async with httpx.AsyncClient(timeout=10) as browser:
        approved = await browser.get(authorize)
    assert approved.status_code == 302, approved.text
    callback = approved.headers["location"]
    assert callback.startswith(CALLBACK + "?")
    return await client.get(callback)


async def account(ctx: Context, username: str) -> tuple[User, Profile, list[ExternalIdentity]]:
    async with ctx.sessions() as session:
        user = (await session.execute(select(User).where(User.username == username))).scalar_one()
        profile = await session.get(Profile, user.actor_id)
        links = (
            await session.execute(select(ExternalIdentity).where(ExternalIdentity.user_id == user.id))
        ).scalars()
        assert profile is not None
        return user, profile, list(links)


async def test_first_sign_in_creates_the_account_just_in_time(instance: Instance, provider: Provider) -> None:
    client, ctx = instance.browser, instance.ctx
    done = await sso_sign_in(client, provider, ZOE)
    assert done.status_code == 303 and done.headers["location"] == "/communities"
    me = (await client.get("/api/v1/me")).json()
    assert me["username"] == "zoe.martin"
    user, profile, links = await account(ctx, "zoe.martin")
    assert user.email == "zoe.martin@corp.example" and user.display_name == "Zoé Martin"
    assert user.password_hash is None and user.is_admin
    assert (profile.job_title, profile.department, profile.site) == (
        "Process engineer",
        "Manufacturing",
        "Lyon",
    )
    assert [(link.provider, link.subject) for link in links] == [("oidc", ZOE["sub"])]


async def test_next_sign_in_refreshes_the_profile_and_the_admin_role(
    instance: Instance, provider: Provider
) -> None:
    client, ctx = instance.browser, instance.ctx
    await sso_sign_in(client, provider, ZOE)
    await client.get("/logout")
    moved = {**ZOE, "department": "Quality", "address": {"locality": "Grenoble"}, "groups": ["staff"]}
    done = await sso_sign_in(client, provider, moved)
    assert done.status_code == 303
    user, profile, links = await account(ctx, "zoe.martin")
    assert not user.is_admin
    assert (profile.department, profile.site) == ("Quality", "Grenoble")
    assert len(links) == 1
    async with ctx.sessions() as session:
        assert len((await session.execute(select(User))).scalars().all()) == 1


async def test_an_existing_account_is_linked_by_its_verified_address(
    instance: Instance, provider: Provider
) -> None:
    client, ctx = instance.browser, instance.ctx
    async with ctx.transaction() as session:
        await accounts.create_user(
            session,
            ctx.settings,
            ctx.clock.now(),
            username="zmartin",
            email=ZOE["email"],
            password="a long password",
        )
    await sso_sign_in(client, provider, ZOE)
    assert (await client.get("/api/v1/me")).json()["username"] == "zmartin"


async def test_a_deactivated_account_cannot_sign_in(instance: Instance, provider: Provider) -> None:
    client, ctx = instance.browser, instance.ctx
    await sso_sign_in(client, provider, ZOE)
    await client.get("/logout")
    async with ctx.transaction() as session:
        await accounts.disable_user(session, ctx.clock.now(), "zoe.martin")
    refused = await sso_sign_in(client, provider, ZOE)
    assert refused.status_code == 403
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_a_forged_callback_signs_nobody_in(instance: Instance, provider: Provider) -> None:
    client = instance.browser
    provider.sign_in_as(ZOE)
    await client.get("/login/sso")
    forged = await client.get("/login/sso/callback", params={"code": "made-up", "state": "made-up"})
    assert forged.status_code == 400
    assert (await client.get("/api/v1/me")).status_code == 401


@pytest.mark.parametrize("instance", [{"sso_only": True}], indirect=True)
async def test_sso_only_offers_no_password_form(instance: Instance, provider: Provider) -> None:
    client, ctx = instance.browser, instance.ctx
    page = await client.get("/login")
    assert 'href="/login/sso' in page.text
    form = page.text.split('<main id="main">', 1)[1]
    assert 'name="password"' not in form
    assert "Create an account" not in form
    assert not password_sign_in_allowed(ctx.settings)
    with pytest.raises(Forbidden):
        ensure_password_sign_in_allowed(ctx.settings)
    done = await sso_sign_in(client, provider, ZOE)
    assert done.status_code == 303


@pytest.mark.parametrize("instance", [{"sso_only": True}], indirect=True)
async def test_sso_only_refuses_a_posted_password(instance: Instance, provider: Provider) -> None:
    client, ctx = instance.browser, instance.ctx
    async with ctx.transaction() as session:
        await accounts.create_user(
            session,
            ctx.settings,
            ctx.clock.now(),
            username="ops",
            email="ops@corp.example",
            password="a long password",
        )
    client.cookies.clear()  # no session cookie: the CSRF check lets it through to the sign-in itself
    posted = await client.post("/login", data={"login": "ops", "password": "a long password"})
    assert posted.status_code == 403
    assert (await client.get("/api/v1/me")).status_code == 401


def test_settings_refuse_sso_only_without_a_provider(tmp_path: Any) -> None:
    from server.config import SettingsError
    from tests.conftest import make_settings

    with pytest.raises(SettingsError, match="sso_only"):
        make_settings("sqlite+aiosqlite:///x.db", tmp_path, sso_only=True)
    with pytest.raises(SettingsError, match="oidc_claims"):
        sso_settings(
            "sqlite+aiosqlite:///x.db", tmp_path, Provider("http://127.0.0.1:1"), oidc_claims={"shoe": "x"}
        )
