"""People: the directory ("who knows about X"), profile pages with their posts, following."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.errors import CercleError, ValidationFailed
from server.federation.people import follow_person, is_remote_handle
from server.federation.state import federation_of
from server.services import feeds, follows, profiles
from server.storage import follows as follow_store
from server.storage.accounts import get_user_by_username
from server.web.auth import require_user
from server.web.common import FormError, back, ctx_of, form_error, is_htmx, redirect
from server.web.forms import text
from server.web.templating import render

PAGE = 20
FILTERS = ("q", "expertise", "interest", "language", "department", "site")


async def directory(request: Request) -> Response:
    return await _directory(request)


async def _directory(
    request: Request, *, elsewhere: str = "", elsewhere_error: FormError | None = None
) -> Response:
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
            "elsewhere": elsewhere,
            "elsewhere_error": elsewhere_error,
        },
        status_code=422 if error or elsewhere_error else 200,
    )


async def person(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    name = request.path_params["name"]
    cursor = request.query_params.get("cursor") or None
    async with ctx.sessions() as session:
        view = await profiles.person_profile(session, ctx.settings, user, name)
        page = None
        following: str | None = None  # None, "pending" (asked, not answered yet) or "accepted"
        if not view["local"] and user.actor_id is not None:
            actor, _ = await profiles.known_person(session, ctx.settings, user, name)
            existing = await follow_store.get_follow(session, user.actor_id, actor.id)
            following = existing.state if existing is not None else None
        if view["local"]:
            page = await feeds.profile_feed(
                session, user, view["username"], limit=PAGE, cursor=cursor, charter=ctx.charter
            )
            target = await get_user_by_username(session, view["username"])
            if target is not None and target.actor_id is not None and user.actor_id is not None:
                existing = await follow_store.get_follow(session, user.actor_id, target.actor_id)
                following = existing.state if existing is not None else None
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
    on = text(form, "on") == "1"
    if is_remote_handle(ctx.settings.domain, name):  # asks their instance; the answer comes later
        await follow_person(federation_of(request), user, name, on=on)
        return back(form, f"/people/{name}")
    async with ctx.transaction() as session:
        await follows.follow(session, ctx.clock.now(), user, name, on=on)
    return back(form, f"/people/{name}")


async def follow_elsewhere(request: Request) -> Response:
    """Follow a person on another instance by handle (`name@domain`): their instance is asked, and
    their profile opens here, marked as waiting until it answers."""
    ctx, user = ctx_of(request), await require_user(request)
    form = await request.form()
    handle = text(form, "handle").strip().removeprefix("@")
    try:
        if not is_remote_handle(ctx.settings.domain, handle):
            raise ValidationFailed(
                "write the person's handle as name@their-instance (for example anna@munich.example)",
                field="handle",
            )
        await follow_person(federation_of(request), user, handle, on=True)
    except CercleError as exc:
        return await _directory(request, elsewhere=handle, elsewhere_error=form_error(request, exc))
    return redirect(f"/people/{handle}")


routes = [
    Route("/people", directory),
    Route("/people/follow", follow_elsewhere, methods=["POST"]),
    Route("/people/{name}", person),
    Route("/people/{name}/follow", follow, methods=["POST"]),
]
