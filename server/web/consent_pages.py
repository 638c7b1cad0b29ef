"""The cross-border consent step of the first-run walk-through (`/welcome/cross-border`) and the same
choice in the settings (`/settings/cross-border`): what the charter asks, in the person's language, and
their yes or no for each country. The step is described in `server.services.cross_border`."""

from __future__ import annotations

from typing import Any

from babel import Locale
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.errors import CercleError, ValidationFailed
from server.services import charter, cross_border
from server.services.rendering import render_markdown
from server.web.auth import require_user
from server.web.common import FormError, ctx_of, form_error, redirect
from server.web.forms import text
from server.web.i18n import language_of, parse_accept_language
from server.web.templating import render

PLACES = {"/welcome/cross-border": "/welcome", "/settings/cross-border": "/settings/cross-border?saved=1"}


def answers_of(form: FormData, step: cross_border.ConsentStep) -> dict[str, bool | None]:
    """yes → True, no → False, nothing chosen → None; values other than yes and no are refused."""
    answers: dict[str, bool | None] = {}
    for destination in step.destinations:
        value = text(form, f"consent-{destination.jurisdiction}", max_length=3)
        if value not in ("", "yes", "no"):
            raise ValidationFailed("must be yes or no", field=f"consent-{destination.jurisdiction}")
        answers[destination.jurisdiction] = None if not value else value == "yes"
    for key in form:
        if key.startswith("consent-") and key[len("consent-") :] not in answers:
            answers[key[len("consent-") :]] = text(form, key) == "yes"
    return answers


def reading_languages(request: Request) -> list[str]:
    """Languages the person reads, best first: their setting, their browser's (which may name languages
    the interface is not translated into, such as Chinese), the interface's, then English."""
    user = getattr(request.state, "user", None)
    chosen = [user.language] if user is not None and user.language else []
    browser = parse_accept_language(request.headers.get("accept-language", ""))
    return [*chosen, *browser, language_of(request), "en"]


def _explanation(request: Request, step: cross_border.ConsentStep) -> dict[str, Any]:
    ctx, lang = ctx_of(request), language_of(request)
    force = ctx.charter
    shown_in = charter.charter_language(force, *reading_languages(request))
    by_id = {article.id: article for article in force.articles}
    articles = [
        {
            "id": article_id,
            "title": charter.localize(by_id[article_id].title, shown_in),
            "html": render_markdown(charter.localize(by_id[article_id].text, shown_in)),
        }
        for article_id in step.articles
        if article_id in by_id
    ]
    territories = Locale.parse(lang).territories
    return {
        "charter": force,
        "charter_lang": shown_in,
        "articles": articles,
        "summary": charter.localize(step.message, shown_in) if step.message else "",
        "country_names": {
            d.jurisdiction: territories.get(d.jurisdiction, d.jurisdiction) for d in step.destinations
        },
    }


async def _page(
    request: Request,
    step: cross_border.ConsentStep,
    *,
    error: FormError | None = None,
    chosen: dict[str, bool | None] | None = None,
    status: int = 200,
) -> Response:
    onboarding = request.url.path.startswith("/welcome")
    if chosen is None:
        chosen = {
            d.jurisdiction: (True if d.consented else (False if step.answered else None))
            for d in step.destinations
        }
    return render(
        request,
        "cross_border.html",
        {
            "step": step,
            "onboarding": onboarding,
            "action": request.url.path,
            "chosen": chosen,
            "error": error,
            "saved": request.query_params.get("saved"),
            **(_explanation(request, step) if step.asked else {}),
        },
        status_code=status,
    )


async def consent_page(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    async with ctx.sessions() as session:
        step = await cross_border.consent_step(session, ctx, user)
    if request.method == "GET":
        return await _page(request, step)
    form = await request.form()
    answers: dict[str, bool | None] = {}
    try:
        answers = answers_of(form, step)
        async with ctx.transaction() as session:
            await cross_border.answer(session, ctx, ctx.clock.now(), user, answers)
    except CercleError as exc:
        return await _page(request, step, error=form_error(request, exc), chosen=answers, status=exc.status)
    return redirect(PLACES[request.url.path])


routes = [Route(path, consent_page, methods=["GET", "POST"]) for path in PLACES]
