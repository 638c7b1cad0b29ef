"""Profiles and the people directory: `/api/v1/profile` (mine) and `/api/v1/people`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from server.api.v1 import json_object
from server.context import Context
from server.errors import ValidationFailed
from server.services import profiles
from server.web.auth import require_user


def _limit(request: Request) -> int | None:
    value = request.query_params.get("limit")
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ValidationFailed("must be a whole number", field="limit") from exc


async def my_profile(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    user = await require_user(request)
    if request.method == "PATCH":
        changes = await json_object(request)
        async with ctx.transaction() as session:
            view = await profiles.update_profile(session, ctx.settings, ctx.clock.now(), user, changes)
        return JSONResponse(view)
    async with ctx.sessions() as session:
        return JSONResponse(await profiles.my_profile(session, user))


async def person(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    user = await require_user(request)
    async with ctx.sessions() as session:
        view = await profiles.person_profile(session, ctx.settings, user, request.path_params["username"])
    return JSONResponse(view)


async def directory(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    user = await require_user(request)
    params = request.query_params
    async with ctx.sessions() as session:
        items, next_cursor = await profiles.search_people(
            session,
            viewer=user,
            q=params.get("q"),
            expertise=params.get("expertise"),
            interest=params.get("interest"),
            language=params.get("language"),
            department=params.get("department"),
            site=params.get("site"),
            limit=_limit(request),
            cursor=params.get("cursor"),
        )
    return JSONResponse({"items": items, "next_cursor": next_cursor})


routes: list[BaseRoute] = [
    Route("/api/v1/profile", my_profile, methods=["GET", "PATCH"]),
    Route("/api/v1/people", directory),
    Route("/api/v1/people/{username}", person),
]
