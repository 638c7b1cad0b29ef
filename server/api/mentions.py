"""`GET /api/v1/mentions?q=ada`: whom `@ada` may mean, for the composer's autocompletion."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.api.params import query_int
from server.context import Context
from server.services import mentions as service
from server.web.auth import require_user


async def suggestions(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    user = await require_user(request)
    typed = request.query_params.get("q", "")
    limit = query_int(request, "limit", service.DEFAULT_LIMIT)
    async with ctx.sessions() as session:
        items = await service.suggest(session, user, typed, limit=limit)
    return JSONResponse({"items": items}, headers={"Cache-Control": "private, no-store"})


routes = [Route("/api/v1/mentions", suggestions)]
