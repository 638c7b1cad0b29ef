"""The home page: my feed (communities, people I follow, me), unread counts, and the onboarding steps."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.services import charter, cross_border, feeds, profiles
from server.storage import communities as community_store
from server.web.auth import current_user, require_user
from server.web.common import ctx_of, is_htmx, redirect
from server.web.templating import render

PAGE = 20


async def home(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return redirect("/login")
    ctx = ctx_of(request)
    cursor = request.query_params.get("cursor") or None
    async with ctx.sessions() as session:
        page = await feeds.home_feed(session, user, limit=PAGE, cursor=cursor, charter=ctx.charter)
        if cursor and is_htmx(request):
            return render(request, "_feed_more.html", {"page": page, "more_url": "/"})
        counts = await feeds.unread_counts(session, user)
        ids = await community_store.active_community_ids(session, user.actor_id or 0)
        mine = sorted((await community_store.get_communities(session, ids)).values(), key=lambda c: c.name)
        accepted, _ = await charter.acceptance_status(session, ctx.charter, user)
    return render(
        request,
        "home.html",
        {
            "page": page,
            "more_url": "/",
            "counts": counts,
            "communities": mine,
            "charter_accepted": accepted,
        },
    )


async def welcome(request: Request) -> Response:
    """First run: accept the charter, complete the profile, find communities."""
    user = await require_user(request)
    ctx = ctx_of(request)
    async with ctx.sessions() as session:
        accepted, _ = await charter.acceptance_status(session, ctx.charter, user)
        mine = await profiles.my_profile(session, user)
        consent = await cross_border.consent_step(session, ctx, user)
    profile_done = bool(mine.get("job_title") or mine.get("expertise"))
    return render(
        request,
        "welcome.html",
        {"charter_accepted": accepted, "profile_done": profile_done, "consent": consent},
    )


routes = [
    Route("/", home),
    Route("/welcome", welcome),
]
