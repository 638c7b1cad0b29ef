"""One-click unsubscribe (RFC 8058): `POST /mail/unsubscribe/{token}` unsubscribes at once (mail
providers send `List-Unsubscribe=One-Click` without cookies); `GET` only shows a confirmation page,
so a link checker that follows the link changes nothing."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from server.context import Context
from server.mail.messages import templates
from server.mail.preferences import find_token, unsubscribe
from server.mail.texts import language_of, text
from server.storage.models import User
from server.web.csrf import csrf_token


def _page(request: Request, lang: str, message: str, *, confirm: bool, status: int = 200) -> Response:
    ctx: Context = request.app.state.ctx
    token = csrf_token(request.session) if "session" in request.scope and confirm else ""
    body = (
        templates()
        .get_template("unsubscribe.html")
        .render(
            lang=lang,
            title=text("unsubscribe", lang),
            instance=ctx.settings.instance_name,
            message=message,
            confirm=text("unsubscribe", lang) if confirm else "",
            action=request.url.path,
            csrf_token=token,
        )
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def unsubscribe_page(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    token = request.path_params["token"]
    default = ctx.settings.default_language
    if request.method == "POST":
        async with ctx.transaction() as session:
            row = await unsubscribe(session, ctx.settings, ctx.clock.now(), token)
            user = await session.get(User, row.user_id) if row else None
    else:
        async with ctx.sessions() as session:
            row = await find_token(session, token)
            user = await session.get(User, row.user_id) if row else None
    lang = language_of(user.language if user else None, default)
    if row is None:
        return _page(request, lang, text("unsubscribe_invalid", lang), confirm=False, status=404)
    if request.method == "POST":
        return _page(request, lang, text("unsubscribed", lang), confirm=False)
    return _page(request, lang, text("unsubscribe_confirm", lang), confirm=True)


routes = [Route("/mail/unsubscribe/{token}", unsubscribe_page, methods=["GET", "POST"])]
