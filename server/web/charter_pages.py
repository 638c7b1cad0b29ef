"""The usage charter in force, rendered in the person's language, and accepting it (onboarding)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.services import charter
from server.services.rendering import render_markdown
from server.web.auth import current_user, require_user
from server.web.common import ctx_of, redirect
from server.web.forms import safe_next, text
from server.web.i18n import language_of
from server.web.templating import render


async def charter_page(request: Request) -> Response:
    ctx, user = ctx_of(request), await current_user(request)
    force = ctx.charter
    lang = charter.charter_language(force, language_of(request))
    accepted, version = False, None
    if user is not None:
        async with ctx.sessions() as session:
            accepted, version = await charter.acceptance_status(session, force, user)
    articles = [
        {
            "id": article.id,
            "title": charter.localize(article.title, lang),
            "html": render_markdown(charter.localize(article.text, lang)),
        }
        for article in force.articles
    ]
    return render(
        request,
        "charter.html",
        {
            "charter": force,
            "charter_lang": lang,
            "charter_title": charter.localize(force.title, lang),
            "articles": articles,
            "accepted": accepted,
            "accepted_version": version,
            "next": safe_next(request.query_params.get("next", "/")),
        },
    )


async def accept(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    form = await request.form()
    lang = charter.charter_language(ctx.charter, text(form, "language"), language_of(request))
    async with ctx.transaction() as session:
        await charter.accept_charter(session, ctx.clock.now(), ctx.charter, user, lang)
    return redirect(safe_next(text(form, "next") or "/"))


routes = [
    Route("/charter", charter_page),
    Route("/charter/accept", accept, methods=["POST"]),
]
