"""Sign-in, sign-up, CSRF, sessions and the JSON API, through the real application."""

from __future__ import annotations

import re

import httpx

from server.context import Context
from server.services import accounts
from server.storage.accounts import count_users


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def make_user(ctx: Context, name: str = "alice", *, admin: bool = False) -> None:
    async with ctx.transaction() as session:
        await accounts.create_user(
            session,
            ctx.settings,
            ctx.clock.now(),
            username=name,
            email=f"{name}@corp.example",
            password="correct horse battery",
            is_admin=admin,
        )


async def sign_in(
    client: httpx.AsyncClient, login: str = "alice", password: str = "correct horse battery"
) -> str:
    page = await client.get("/login")
    token = csrf_of(page.text)
    response = await client.post("/login", data={"login": login, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.text
    return csrf_of((await client.get("/")).text)


async def test_home_redirects_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


async def test_sign_in_then_home_then_sign_out(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    csrf = await sign_in(client)
    home = await client.get("/")
    assert "Welcome, Alice" in home.text or "Welcome, alice" in home.text
    cookie = client.cookies.get("cercle_session")
    assert cookie
    response = await client.post("/logout", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert (await client.get("/")).status_code == 303


async def test_session_cookie_is_http_only_and_lax(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    page = await client.get("/login")
    set_cookie = page.headers["set-cookie"].lower()
    assert "httponly" in set_cookie
    assert "samesite=lax" in set_cookie


async def test_wrong_password_keeps_the_login_and_says_why(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    token = csrf_of((await client.get("/login")).text)
    response = await client.post(
        "/login", data={"login": "alice", "password": "nope nope", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "wrong user name or password" in response.text
    assert 'value="alice"' in response.text


async def test_post_without_csrf_token_is_refused(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    await client.get("/login")  # gets a session cookie
    response = await client.post("/login", data={"login": "alice", "password": "correct horse battery"})
    assert response.status_code == 403
    assert (await client.get("/")).status_code == 303


async def test_post_with_a_forged_csrf_token_is_refused(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    await sign_in(client)
    response = await client.post("/settings/tokens", data={"name": "x", "csrf_token": "forged"})
    assert response.status_code == 403
    async with ctx.sessions() as session:
        from server.storage.accounts import list_api_tokens

        assert list(await list_api_tokens(session, 1)) == []


async def test_sign_up_errors_keep_what_was_typed(ctx: Context, client: httpx.AsyncClient) -> None:
    token = csrf_of((await client.get("/signup")).text)
    form = {
        "username": "bob",
        "email": "bob@corp",
        "password": "long enough pw",
        "csrf_token": token,
        "display_name": "Bob Martin",
    }
    response = await client.post("/signup", data=form)
    assert response.status_code == 422
    assert "not a valid e-mail address" in response.text
    assert 'value="Bob Martin"' in response.text
    assert 'aria-invalid="true"' in response.text
    async with ctx.sessions() as session:
        assert await count_users(session) == 0
    form["email"] = "bob@corp.example"
    response = await client.post("/signup", data=form)
    assert response.status_code == 303
    assert "Welcome, Bob Martin" in (await client.get("/")).text


async def test_disabling_an_account_ends_its_sessions(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    await sign_in(client)
    assert (await client.get("/")).status_code == 200
    async with ctx.transaction() as session:
        await accounts.disable_user(session, ctx.clock.now(), "alice")
    assert (await client.get("/")).status_code == 303


async def test_api_token_from_the_web_page_works_as_bearer(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    csrf = await sign_in(client)
    page = await client.post("/settings/tokens", data={"name": "my script", "csrf_token": csrf})
    secret = re.search(r'<code id="new-token">([^<]+)</code>', page.text)
    assert secret
    bare = httpx.AsyncClient(transport=client._transport, base_url="http://localhost:8000")
    async with bare:
        response = await bare.get("/api/v1/me", headers={"Authorization": f"Bearer {secret.group(1)}"})
        assert response.status_code == 200
        assert response.json()["username"] == "alice"
        bad = await bare.get("/api/v1/me", headers={"Authorization": "Bearer cercle_nope"})
        assert bad.status_code == 401
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["type"] == "/problems/invalid-token"


async def test_api_without_auth_is_a_problem_json_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/me")
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == 401 and body["title"] == "Authentication required"


async def test_api_validation_error_names_the_field(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    csrf = await sign_in(client)
    response = await client.post("/api/v1/tokens", json={"name": ""}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "name", "detail": "must be 1 to 100 characters"}]
    response = await client.post(
        "/api/v1/tokens",
        content=b"{not json",
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


async def test_api_session_post_needs_the_csrf_header(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    await sign_in(client)
    response = await client.post("/api/v1/tokens", json={"name": "x"})
    assert response.status_code == 403


async def test_unknown_api_route_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_open_redirect_after_sign_in_is_refused(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    token = csrf_of((await client.get("/login?next=//evil.example/")).text)
    response = await client.post(
        "/login",
        data={
            "login": "alice",
            "password": "correct horse battery",
            "csrf_token": token,
            "next": "//evil.example/",
        },
    )
    assert response.headers["location"] == "/"


async def test_probes_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).text == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"database": "ok", "migrations": "ok"}}
    metrics = await client.get("/metrics")
    assert 'cercle_http_requests_total{endpoint="readyz",method="GET",status="200"} 1.0' in metrics.text


async def test_readyz_reports_missing_migrations(ctx: Context, client: httpx.AsyncClient) -> None:
    from server.storage import migrate

    await migrate.downgrade(ctx.engine, "base")
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert "cercle migrate" in ready.json()["checks"]["migrations"]
