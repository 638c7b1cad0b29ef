"""Moderation pages: reporting a post, and a community's moderation queue (reports, held posts, bans)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.errors import CercleError, NotFound
from server.services import feeds, moderation, posts
from server.web.auth import require_user
from server.web.common import FormError, ctx_of, form_error, redirect
from server.web.community_header import header_context
from server.web.forms import text
from server.web.templating import render

DECISIONS = {"dismiss", "remove", "approve", "reject", "unban"}
# What the community header needs to know to draw its buttons and tabs.


def _number(value: str) -> int:
    if not value.isdigit():
        raise NotFound("no such item in this queue")
    return int(value)


async def report(request: Request) -> Response:
    """The form to report a post or comment, and its answer."""
    ctx, user = ctx_of(request), await require_user(request)
    post_id = int(request.path_params["post_id"])
    values = {"category": "", "comment": ""}
    error: FormError | None = None
    status, done = 200, False
    if request.method == "POST":
        form = await request.form()
        values = {"category": text(form, "category", max_length=50), "comment": text(form, "comment")}
        try:
            async with ctx.transaction() as session:
                await moderation.report(
                    session,
                    ctx,
                    ctx.clock.now(),
                    user,
                    post_id,
                    category=values["category"],
                    comment=values["comment"],
                )
            done = True
        except CercleError as exc:
            if isinstance(exc, NotFound) and exc.field is None:
                raise
            error, status = form_error(request, exc), exc.status
    async with ctx.sessions() as session:
        post = await posts.readable_post(session, user, post_id)
        (view,) = await feeds.hydrate(session, user, [post.id], charter=ctx.charter)
    context = {
        "view": view,
        "values": values,
        "error": error,
        "done": done,
    }
    return render(request, "moderation_report.html", context, status_code=status)


async def _queue_context(request: Request, slug: str) -> dict[str, Any]:
    ctx, user = ctx_of(request), await require_user(request)
    async with ctx.sessions() as session:
        found = await moderation.queue(session, user, slug)
        hydrated = await feeds.hydrate(session, user, found.post_ids, charter=ctx.charter)
        banned = await moderation.banned_members(session, user, slug)
        header = await header_context(session, found.access)
    return {
        **header,
        "tab": "moderation",
        "queue": found,
        "views": {v.post.id: v for v in hydrated},
        "banned": banned,
        "notice": request.query_params.get("done"),
    }


async def queue(request: Request) -> Response:
    context = await _queue_context(request, request.path_params["slug"])
    return render(request, "moderation.html", context)


async def decide(request: Request) -> Response:
    """One decision from the queue page: on a report, a held post, or a ban."""
    ctx, user = ctx_of(request), await require_user(request)
    slug, what = request.path_params["slug"], request.path_params["what"]
    form = await request.form()
    decision = text(form, "decision", max_length=20)
    if decision not in DECISIONS:
        raise NotFound("no such decision")
    now = ctx.clock.now()
    async with ctx.transaction() as session:
        if what == "reports" and decision in ("dismiss", "remove"):
            report_id = _number(request.path_params["ident"])
            if decision == "dismiss":
                await moderation.dismiss_report(session, now, user, slug, report_id)
            else:
                await moderation.remove_reported(session, ctx, now, user, slug, report_id)
        elif what == "held" and decision in ("approve", "reject"):
            post_id = _number(request.path_params["ident"])
            await moderation.decide_held(
                session, ctx, now, user, slug, post_id, approve=decision == "approve"
            )
        elif what == "bans" and decision == "unban":
            await moderation.unban(session, ctx, now, user, slug, request.path_params["ident"])
        else:
            raise NotFound("no such decision")
    return redirect(f"/c/{slug}/moderation?done={decision}")


routes = [
    Route("/posts/{post_id:int}/report", report, methods=["GET", "POST"]),
    Route("/c/{slug}/moderation", queue),
    Route("/c/{slug}/moderation/{what:str}/{ident:str}", decide, methods=["POST"]),
]
