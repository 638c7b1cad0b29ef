"""Sign-in, sign-up, sign-out and personal API tokens; `routes` gathers every page of the interface."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.context import Context
from server.errors import CercleError, Forbidden, TooManyRequests
from server.services import accounts
from server.storage.accounts import list_api_tokens
from server.web import (
    admin_pages,
    charter_pages,
    community_pages,
    consent_pages,
    dashboard_pages,
    email_settings_pages,
    home,
    moderation_pages,
    notification_pages,
    people_pages,
    post_pages,
    settings_pages,
)
from server.web.auth import end_session, require_user, start_session
from server.web.common import form_error
from server.web.forms import safe_next, text
from server.web.i18n import gettext_for
from server.web.templating import render


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    next_url = safe_next(request.query_params.get("next", "/"))
    if request.method == "GET":
        return render(request, "login.html", {"login": "", "next": next_url, "error": None})
    form = await request.form()
    login_value, password = text(form, "login", max_length=320), text(form, "password", max_length=1024)
    next_url = safe_next(text(form, "next") or next_url)
    headers: dict[str, str] = {}
    try:
        async with ctx.transaction() as session:
            user = await accounts.authenticate(
                session,
                ctx.settings,
                ctx.clock.now(),
                login=login_value,
                password=password,
                ip=client_ip(request),
            )
    except TooManyRequests as exc:
        error, status = gettext_for(request)(exc.message), 429
        headers["Retry-After"] = str(exc.retry_after)
    except Forbidden as exc:  # single sign-on only: passwords are refused on the server too
        error, status = gettext_for(request)(exc.message), 403
    else:
        if user is not None:
            start_session(request, user)
            return RedirectResponse(next_url, status_code=303)
        error, status = gettext_for(request)(accounts.BAD_CREDENTIALS), 401
    response = render(request, "login.html", {"login": login_value, "next": next_url, "error": error}, status)
    response.headers.update(headers)
    return response


async def logout(request: Request) -> Response:
    end_session(request)
    return RedirectResponse("/login", status_code=303)


async def signup(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    values = {
        "username": "",
        "email": "",
        "display_name": "",
        "invitation": request.query_params.get("invitation", ""),
    }
    if ctx.settings.registration == "closed":
        return render(request, "signup.html", {"closed": True, "values": values, "error": None}, 403)
    if request.method == "GET":
        return render(request, "signup.html", {"closed": False, "values": values, "error": None})
    form = await request.form()
    values = {name: text(form, name, max_length=320) for name in values}
    try:
        async with ctx.transaction() as session:
            user = await accounts.sign_up(
                session,
                ctx.settings,
                ctx.clock.now(),
                username=values["username"],
                email=values["email"],
                password=text(form, "password", max_length=2048),
                display_name=values["display_name"],
                invitation_code=values["invitation"] or None,
            )
    except CercleError as exc:
        error = form_error(request, exc)
        return render(request, "signup.html", {"closed": False, "values": values, "error": error}, exc.status)
    start_session(request, user)
    return RedirectResponse("/welcome", status_code=303)


async def tokens(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    user = await require_user(request)
    new_secret: str | None = None
    error: str | None = None
    status = 200
    if request.method == "POST":
        form = await request.form()
        try:
            async with ctx.transaction() as session:
                new_secret = (
                    await accounts.create_api_token(session, ctx.clock.now(), user, text(form, "name"))
                ).secret
        except CercleError as exc:
            error, status = gettext_for(request)(exc.message), exc.status
    async with ctx.sessions() as session:
        rows = await list_api_tokens(session, user.id)
    return render(request, "tokens.html", {"tokens": rows, "new_secret": new_secret, "error": error}, status)


async def revoke_token(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    user = await require_user(request)
    async with ctx.transaction() as session:
        await accounts.revoke_api_token(session, ctx.clock.now(), user, int(request.path_params["token_id"]))
    return RedirectResponse("/settings/tokens", status_code=303)


routes: list[BaseRoute] = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/signup", signup, methods=["GET", "POST"]),
    Route("/settings/tokens", tokens, methods=["GET", "POST"]),
    Route("/settings/tokens/{token_id:int}/revoke", revoke_token, methods=["POST"]),
    *home.routes,
    *community_pages.routes,
    *moderation_pages.routes,
    *post_pages.routes,
    *people_pages.routes,
    *notification_pages.routes,
    *settings_pages.routes,
    *charter_pages.routes,
    *admin_pages.routes,
    *email_settings_pages.routes,
    *consent_pages.routes,
    *dashboard_pages.routes,
]
