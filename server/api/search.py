"""JSON API for search: `GET /api/v1/search` (full text), `GET /api/v1/search/people` (who knows X)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.api.params import query_int, query_str
from server.context import Context
from server.services import search as service
from server.web.auth import require_user

SEARCH_PARAMS = ("q", "kind", "community", "author", "since", "until", "has_attachment", "cursor", "limit")
PEOPLE_PARAMS = ("q", "department", "site", "language", "limit")


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def search(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    limit = query_int(request, "limit", service.DEFAULT_PAGE)
    async with ctx.sessions() as session:
        page = await service.search(
            session,
            ctx.settings,
            user,
            q=query_str(request, "q"),
            kind=query_str(request, "kind"),
            community=query_str(request, "community"),
            author=query_str(request, "author"),
            since=query_str(request, "since"),
            until=query_str(request, "until"),
            has_attachment=query_str(request, "has_attachment"),
            cursor=query_str(request, "cursor"),
            limit=limit,
        )
    return JSONResponse(page)


async def people(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.sessions() as session:
        ranked = await service.who_knows(
            session,
            ctx.clock.now(),
            ctx.charter,
            user,
            topic=query_str(request, "q"),
            department=query_str(request, "department"),
            site=query_str(request, "site"),
            language=query_str(request, "language"),
            limit=query_int(request, "limit", service.DEFAULT_PAGE),
        )
    return JSONResponse(ranked)


routes = [
    Route("/api/v1/search", search),
    Route("/api/v1/search/people", people),
]
