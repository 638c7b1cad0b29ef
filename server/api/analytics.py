"""JSON API for adoption figures: per community (its owners and managers, administrators) and per
instance (administrators). `?format=csv` exports, `?format=svg&series=posts` draws one weekly series.
The instance's figures may come from the snapshot the background work counted (`figures_as_of`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.api.params import query_int, query_str
from server.context import Context
from server.errors import ValidationFailed
from server.services import analytics as service
from server.web.auth import require_user

FORMATS = ("json", "csv", "svg")


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def _format(request: Request) -> str:
    wanted = query_str(request, "format") or "json"
    if wanted not in FORMATS:
        raise ValidationFailed(f"must be one of: {', '.join(FORMATS)}", field="format")
    return wanted


def _answer(request: Request, report: service.Report) -> Response:
    wanted = _format(request)
    if wanted == "csv":
        name = f"cercle-analytics-{report.scope}.csv"
        return Response(
            service.report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    if wanted == "svg":
        series = query_str(request, "series") or "members"
        if series not in report.series:
            raise ValidationFailed(f"must be one of: {', '.join(report.series)}", field="series")
        svg = service.svg_chart(report.series[series], title=f"{report.name}: {series.replace('_', ' ')}")
        return Response(
            svg, media_type="image/svg+xml", headers={"Content-Security-Policy": "default-src 'none'"}
        )
    return JSONResponse(service.report_json(report))


async def community(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    _format(request)
    async with ctx.transaction() as session:
        report = await service.community_report(
            session,
            ctx.clock.now(),
            ctx.charter,
            user,
            request.path_params["slug"],
            weeks=query_int(request, "weeks", service.DEFAULT_WEEKS),
        )
    return _answer(request, report)


async def instance(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    _format(request)
    async with ctx.transaction() as session:
        report = await service.instance_report(
            session,
            ctx.clock.now(),
            ctx.charter,
            user,
            weeks=query_int(request, "weeks", service.DEFAULT_WEEKS),
            max_age=service.snapshot_max_age(ctx.settings.analytics_refresh_seconds),
        )
    return _answer(request, report)


routes = [
    Route("/api/v1/communities/{slug}/analytics", community),
    Route("/api/v1/analytics", instance),
]
