"""Adoption dashboards: `/c/{slug}/dashboard` for a community's animators (owners and managers, and
administrators) and `/admin/dashboard` for administrators. The figures come from
`server.services.analytics`, which has already applied the charter: a withheld figure arrives as None with
the reason, and is shown as "fewer than N people" (or as withheld under the charter), never estimated.
The charts are the service's server-side SVG, drawn with titles in the person's language."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.errors import CercleError
from server.services import analytics, communities
from server.web.admin_pages import require_admin
from server.web.auth import require_user
from server.web.common import ctx_of
from server.web.community_header import header_context
from server.web.i18n import Gettext, gettext_for
from server.web.templating import render

WEEK_CHOICES = analytics.WEEK_CHOICES
TOO_SMALL = "analytics.group_too_small"
PER_PERSON_FORBIDDEN = "analytics.per_person_forbidden"


def chart_titles(_: Gettext) -> dict[str, str]:
    return {
        "members": _("Members"),
        "active_members": _("Active members per week"),
        "posts": _("Posts per week"),
        "comments": _("Comments per week"),
        "reactions": _("Reactions per week"),
    }


def _weeks(request: Request) -> int:
    value = request.query_params.get("weeks", "")
    return int(value) if value.isdigit() and int(value) in WEEK_CHOICES else analytics.DEFAULT_WEEKS


def _view(request: Request, report: analytics.Report, weeks: int) -> dict[str, Any]:
    titles = chart_titles(gettext_for(request))
    charts = [
        (name, titles.get(name, name), analytics.svg_chart(points, title=titles.get(name, name)))
        for name, points in report.series.items()
    ]
    first = next(iter(report.series.values()), [])
    rows = [
        (point.week_start, [report.series[name][index].value for name in report.series])
        for index, point in enumerate(first)
    ]
    return {
        "report": report,
        "charts": charts,
        "series_names": [titles.get(name, name) for name in report.series],
        "rows": rows,
        "weeks": weeks,
        "weeks_shown": len(first),
        "week_choices": WEEK_CHOICES,
        "too_small": TOO_SMALL,
        "per_person_forbidden": PER_PERSON_FORBIDDEN,
        "charter_article": request.app.state.ctx.charter.analytics.article,
    }


async def _community_header(request: Request, slug: str) -> dict[str, Any]:
    """The community's header and tabs, as on its other pages; empty for an administrator who may not
    see the community as a person (a secret one they are not in)."""
    ctx, user = ctx_of(request), await require_user(request)
    async with ctx.sessions() as session:
        try:
            found = await communities.access(session, slug, user)
        except CercleError:
            return {}
        return {**await header_context(session, found), "tab": "dashboard"}


async def community_dashboard(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    slug = request.path_params["slug"].strip().lower()
    weeks = _weeks(request)
    async with ctx.transaction() as session:  # the charter's refusals are audited
        report = await analytics.community_report(
            session, ctx.clock.now(), ctx.charter, user, slug, weeks=weeks
        )
    header = await _community_header(request, slug)
    context = {
        **_view(request, report, weeks),
        **header,
        "scope": "community",
        "slug": slug,
        "csv_url": f"/api/v1/communities/{slug}/analytics?format=csv&weeks={weeks}",
        "here": f"/c/{slug}/dashboard",
    }
    return render(request, "dashboard.html", context)


async def instance_dashboard(request: Request) -> Response:
    ctx = ctx_of(request)
    user = await require_admin(request)
    weeks = _weeks(request)
    async with ctx.transaction() as session:
        report = await analytics.instance_report(
            session,
            ctx.clock.now(),
            ctx.charter,
            user,
            weeks=weeks,
            max_age=analytics.snapshot_max_age(ctx.settings.analytics_refresh_seconds),
        )
    context = {
        **_view(request, report, weeks),
        "scope": "instance",
        "csv_url": f"/api/v1/analytics?format=csv&weeks={weeks}",
        "here": "/admin/dashboard",
    }
    return render(request, "dashboard.html", context)


routes = [
    Route("/c/{slug}/dashboard", community_dashboard),
    Route("/admin/dashboard", instance_dashboard),
]
