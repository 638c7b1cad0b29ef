"""Settings → Email: digest frequency, mentions and replies at once, a choice per community, and the
address to post into each community by mail."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.errors import CercleError, ValidationFailed
from server.services import email_preferences as service
from server.storage.mail import MODES
from server.web.auth import require_user
from server.web.common import FormError, ctx_of, form_error, redirect
from server.web.forms import text
from server.web.templating import render

COMMUNITY_FIELD = "community."


def choices_of(form: FormData) -> service.EmailChoices:
    """The form as the service reads it; a community field that does not name an id is refused."""
    modes: dict[int, str] = {}
    for key in form:
        if not key.startswith(COMMUNITY_FIELD):
            continue
        ident = key[len(COMMUNITY_FIELD) :]
        if not ident.isdigit() or len(ident) > 18:
            raise ValidationFailed("is not a community of yours", field="communities")
        modes[int(ident)] = text(form, key, max_length=10)
    return service.EmailChoices(
        default_mode=text(form, "default_mode", max_length=10),
        mentions=text(form, "mentions") == "1",
        replies=text(form, "replies") == "1",
        communities=modes,
    )


async def _page(request: Request, error: FormError | None = None, status: int = 200) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    async with ctx.sessions() as session:
        prefs = await service.email_preferences(session, ctx.settings, user)
    return render(
        request,
        "email_settings.html",
        {"prefs": prefs, "modes": MODES, "error": error, "saved": request.query_params.get("saved")},
        status_code=status,
    )


async def email_settings(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    if request.method == "GET":
        return await _page(request)
    form = await request.form()
    try:
        choices = choices_of(form)
        async with ctx.transaction() as session:
            await service.save(session, ctx.clock.now(), user, choices)
    except CercleError as exc:
        return await _page(request, form_error(request, exc), exc.status)
    return redirect("/settings/email?saved=1")


routes = [Route("/settings/email", email_settings, methods=["GET", "POST"])]
