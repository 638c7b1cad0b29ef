"""Notifications: the list (what happened, by whom, where), marking them read, the count in the header."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from server.storage import communities as community_store
from server.storage import notifications as notification_store
from server.storage import posts as post_store
from server.web.auth import current_user, require_user
from server.web.common import ctx_of, redirect
from server.web.templating import render

PAGE = 50


async def notifications(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    before = request.query_params.get("before", "")
    async with ctx.sessions() as session:
        rows = await notification_store.list_notifications(
            session,
            user.id,
            limit=PAGE,
            before_id=int(before) if before.isdigit() else None,
            unread_only=False,
        )
        actors = await post_store.load_actors(session, [n.actor_id for n in rows if n.actor_id])
        communities = await community_store.get_communities(
            session, [n.community_id for n in rows if n.community_id]
        )
    return render(
        request,
        "notifications.html",
        {
            "rows": rows,
            "actors": actors,
            "communities": communities,
            "next_before": rows[-1].id if len(rows) == PAGE else None,
        },
    )


async def mark_read(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    async with ctx.transaction() as session:
        await notification_store.mark_notifications_read(session, user.id, ctx.clock.now(), None)
    return redirect("/notifications")


async def count(request: Request) -> Response:
    """The badge beside "Notifications" in the header, loaded by htmx after the page."""
    ctx, user = ctx_of(request), await current_user(request)
    if user is None:
        return HTMLResponse("")
    async with ctx.sessions() as session:
        unread = await notification_store.count_unread_notifications(session, user.id)
    return render(request, "_notification_count.html", {"unread": unread})


routes = [
    Route("/notifications", notifications),
    Route("/notifications/read", mark_read, methods=["POST"]),
    Route("/notifications/count", count),
]
