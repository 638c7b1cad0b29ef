"""The routes of single sign-on (`/login/sso`, `/login/sso/callback`) and SCIM (`/scim/v2/...`).

The authlib client is built on first use from the settings and kept on the app's state, so
nothing is read or fetched at import time.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.context import Context
from server.errors import CercleError
from server.identity import oidc, scim
from server.identity.modes import sso_enabled
from server.web.auth import start_session
from server.web.forms import safe_next
from server.web.i18n import gettext_for
from server.web.templating import render

logger = logging.getLogger(__name__)

NEXT_KEY = "sso_next"
CALLBACK_PATH = "/login/sso/callback"


def sso_client(request: Request) -> Any:
    client = getattr(request.app.state, "oidc_client", None)
    if client is None:
        client = oidc.build_client(request.app.state.ctx.settings)
        request.app.state.oidc_client = client
    return client


def _refused(request: Request, message: str, status: int) -> Response:
    context = {"login": "", "next": "/", "error": gettext_for(request)(message)}
    return render(request, "login.html", context, status)


async def sso_start(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    if not sso_enabled(ctx.settings):
        return _refused(request, "single sign-on is not configured on this instance", 404)
    request.session[NEXT_KEY] = safe_next(request.query_params.get("next", "/"))
    try:
        redirect: Response = await sso_client(request).authorize_redirect(
            request, f"{ctx.settings.base_url}{CALLBACK_PATH}"
        )
    except Exception:
        logger.exception(
            "single sign-on: the identity provider %s is unreachable", ctx.settings.oidc_discovery_url
        )
        return _refused(request, "the identity provider cannot be reached; try again later", 503)
    return redirect


async def sso_callback(request: Request) -> Response:
    from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]

    ctx: Context = request.app.state.ctx
    if not sso_enabled(ctx.settings):
        return _refused(request, "single sign-on is not configured on this instance", 404)
    client = sso_client(request)
    try:
        token = await client.authorize_access_token(request)
        claims = dict(token.get("userinfo") or {})
        if not claims:
            raise OAuthError(description="the provider sent no ID token")
        if oidc.lacks_mapped_claims(ctx.settings, claims) and client.server_metadata.get("userinfo_endpoint"):
            extra = dict(await client.userinfo(token=token))
            if extra.get("sub") == claims.get("sub"):
                claims = {**extra, **claims}
    except OAuthError as exc:
        logger.warning("single sign-on refused by the provider or the ID token check: %s", exc.error)
        return _refused(request, "single sign-on failed; try again", 400)
    except httpx.HTTPError as exc:
        logger.warning("single sign-on: the identity provider did not answer: %s", exc)
        return _refused(request, "the identity provider cannot be reached; try again later", 503)
    next_url = safe_next(str(request.session.pop(NEXT_KEY, "/")))
    try:
        async with ctx.transaction() as session:
            user = await oidc.account_for_claims(
                session, ctx.settings, ctx.clock.now(), oidc.map_claims(ctx.settings, claims)
            )
    except CercleError as exc:
        return _refused(request, exc.message, exc.status)
    start_session(request, user)
    return RedirectResponse(next_url, status_code=303)


routes: list[BaseRoute] = [
    Route("/login/sso", sso_start, methods=["GET"]),
    Route(CALLBACK_PATH, sso_callback, methods=["GET"]),
    Route("/scim/v2/ServiceProviderConfig", scim.service_provider_config, methods=["GET"]),
    Route("/scim/v2/Users", scim.users_endpoint, methods=["GET", "POST"]),
    Route("/scim/v2/Users/{ident}", scim.user_endpoint, methods=["GET", "PUT", "PATCH", "DELETE"]),
    Route("/scim/v2/Groups", scim.groups_endpoint, methods=["GET", "POST"]),
    Route("/scim/v2/Groups/{ident}", scim.group_endpoint, methods=["GET", "PUT", "PATCH", "DELETE"]),
]
