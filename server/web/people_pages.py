"""People: the directory ("who knows about X"), profile pages with their posts, following."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.errors import CercleError
from server.services import feeds, follows, profiles
from server.storage import follows as follow_store
from server.storage.accounts import get_user_by_username
from server.web.auth import require_user
from server.web.common import FormError, back, ctx_of, form_error, is_htmx
from server.web.forms import text
from server.web.templating import render

PAGE = 20
FILTERS = ("q", "expertise", "interest", "language", "department", "site")


async def directory(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    params = request.query_params
    filters = {name: params.get(name, "") for name in FILTERS}
    error: FormError | None = None
    people: list[dict[str, Any]] = []
    next_cursor: str | None = None
    searched = any(filters.values())
    try:
        async with ctx.sessions() as session:
            people, next_cursor = await profiles.search_people(
                session,
                viewer=user,
                **{name: value or None for name, value in filters.items()},
                limit=PAGE,
                cursor=params.get("cursor") or None,
            )
    except CercleError as exc:
        error = form_error(request, exc)
    return render(
        request,
        "people.html",
        {
            "people": people,
            "filters": filters,
            "searched": searched,
            "next_cursor": next_cursor,
            "error": error,
        },
        status_code=422 if error else 200,
    )


async def person(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    name = request.path_params["name"]
    cursor = request.query_params.get("cursor") or None
    async with ctx.sessions() as session:
        view = await profiles.person_profile(session, ctx.settings, user, name)
        page = None
        following = False
        if view["local"]:
            page = await feeds.profile_feed(
                session, user, view["username"], limit=PAGE, cursor=cursor, charter=ctx.charter
            )
            target = await get_user_by_username(session, view["username"])
            if target is not None and target.actor_id is not None and user.actor_id is not None:
                following = await follow_store.get_follow(session, user.actor_id, target.actor_id) is not None
    more_url = f"/people/{name}"
    if cursor and is_htmx(request) and page is not None:
        return render(request, "_feed_more.html", {"page": page, "more_url": more_url, "moderate_in": None})
    return render(
        request,
        "person.html",
        {
            "person": view,
            "page": page,
            "following": following,
            "is_me": view["local"] and view["username"] == user.username,
            "more_url": more_url,
            "moderate_in": None,
        },
    )


async def follow(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    name = request.path_params["name"]
    form = await request.form()
    async with ctx.transaction() as session:
        await follows.follow(session, ctx.clock.now(), user, name, on=text(form, "on") == "1")
    return back(form, f"/people/{name}")


routes = [
    Route("/people", directory),
    Route("/people/{name}", person),
    Route("/people/{name}/follow", follow, methods=["POST"]),
]
