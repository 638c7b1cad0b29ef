"""Administrators and legal teams: peers and their delivery health, the charter in force with its acceptance
figures, the audit log, legal holds. Anyone else gets the plain "not found" of an unknown address, so the
pages do not reveal themselves. Handlers hold no policy: like `server.api.charter`, they parse, call
`server.services.charter` (holds are placed and released there, and audited) and shape the page.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.context import Context
from server.errors import CercleError, ValidationFailed
from server.policy import POINT_IN_TIME_HINT, point_in_time
from server.policy.describe import describe_rule
from server.policy.schema import ACTIONS, POINTS
from server.services import charter as service
from server.services.rendering import render_markdown
from server.storage import communities as community_store
from server.storage import compliance_queries as compliance_store
from server.storage import delivery as delivery_store
from server.storage import posts as post_store
from server.storage.audit import AuditFilter, list_audit_entries
from server.storage.models import User
from server.web.auth import current_user
from server.web.common import FormError, ctx_of, form_error, redirect
from server.web.forms import text
from server.web.i18n import language_of
from server.web.templating import render

AUDIT_PAGE = 50
AUDIT_ACTIONS = (*ACTIONS, "release")
DELIVERY_STATES = ("pending", "delivered", "given_up", "awaiting_consent")


async def require_admin(request: Request) -> User:
    """The signed-in administrator; anyone else (signed in or not) is told the page does not exist."""
    user = await current_user(request)
    if user is None or not user.is_admin:
        raise HTTPException(404, "Not found")
    return user


# --- overview ----------------------------------------------------------------------------------------------


async def overview(request: Request) -> Response:
    await require_admin(request)
    return render(request, "admin.html", {})


# --- peers -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerRow:
    domain: str
    jurisdiction: str
    counts: dict[str, int]
    health: str  # ok | failing | paused | unreachable
    failures: int
    since: datetime | None  # paused until, or unreachable since
    last_success_at: datetime | None


async def peers(request: Request) -> Response:
    ctx = ctx_of(request)
    await require_admin(request)
    now = ctx.clock.now()
    async with ctx.sessions() as session:
        summary = await delivery_store.queue_summary(session)
        health = {h.domain: h for h in await delivery_store.all_peer_health(session)}
    counts: dict[str, Counter[str]] = {}
    for domain, state, count in summary:
        counts.setdefault(domain, Counter())[state] += count
    rows: list[PeerRow] = []
    for peer in ctx.settings.peers:
        h = health.get(peer.domain)
        state, failures, since, last = "ok", 0, None, None
        if h is not None:
            failures, last = h.consecutive_failures, h.last_success_at
            if h.unreachable_since is not None:
                state, since = "unreachable", h.unreachable_since
            elif h.circuit_open_until is not None and h.circuit_open_until > now:
                state, since = "paused", h.circuit_open_until
            elif h.consecutive_failures:
                state = "failing"
        per_state = counts.get(peer.domain, Counter())
        rows.append(
            PeerRow(
                peer.domain,
                peer.jurisdiction,
                {s: per_state.get(s, 0) for s in DELIVERY_STATES},
                state,
                failures,
                since,
                last,
            )
        )
    return render(request, "admin_peers.html", {"peers": rows})


# --- the charter in force ----------------------------------------------------------------------------------


async def charter_page(request: Request) -> Response:
    ctx = ctx_of(request)
    await require_admin(request)
    force = ctx.charter
    lang = service.charter_language(force, language_of(request))
    articles = [
        {
            "id": article.id,
            "title": service.localize(article.title, lang),
            "html": render_markdown(service.localize(article.text, lang)),
            "rules": [describe_rule(rule, lang) for rule in article.rules],
        }
        for article in force.articles
    ]
    async with ctx.sessions() as session:
        figures = await service.acceptance_figures(session, force)
    return render(
        request,
        "admin_charter.html",
        {
            "charter": force,
            "charter_lang": lang,
            "charter_title": service.localize(force.title, lang),
            "articles": articles,
            "figures": figures,
        },
    )


# --- the audit log -----------------------------------------------------------------------------------------


def _since(ctx: Context, value: str) -> datetime | None:
    """An ISO 8601 date or date-time, or a period back from now ("30d"), as the API reads it."""
    if not value:
        return None
    try:
        return point_in_time(ctx.clock.now(), value)
    except ValueError as exc:
        raise ValidationFailed(POINT_IN_TIME_HINT, field="since") from exc


async def audit(request: Request) -> Response:
    ctx = ctx_of(request)
    await require_admin(request)
    params = request.query_params
    filters = {name: params.get(name, "").strip()[:100] for name in ("since", "article", "action", "point")}
    before = params.get("before", "")
    error: FormError | None = None
    entries: list[Any] = []
    status = 200
    try:
        where = AuditFilter(
            since=_since(ctx, filters["since"]),
            article_id=filters["article"] or None,
            action=filters["action"] or None,
            point=filters["point"] or None,
            before_id=int(before) if before.isdigit() and len(before) < 19 else None,
        )
    except CercleError as exc:
        error, status = form_error(request, exc), exc.status
    else:
        async with ctx.sessions() as session:
            entries = list(await list_audit_entries(session, where, limit=AUDIT_PAGE))
    older = None
    if len(entries) == AUDIT_PAGE:
        older = {**{k: v for k, v in filters.items() if v}, "before": str(entries[-1].id)}
    return render(
        request,
        "admin_audit.html",
        {
            "entries": entries,
            "filters": filters,
            "error": error,
            "older": older,
            "articles": [a.id for a in ctx.charter.articles],
            "points": POINTS,
            "actions": AUDIT_ACTIONS,
        },
        status,
    )


# --- legal holds -------------------------------------------------------------------------------------------

HOLD_FIELDS = ("person", "community", "period_start", "period_end", "reason")


def _day(values: dict[str, str], name: str) -> datetime | None:
    """A date from a date field: midnight UTC of that day."""
    value = values[name]
    if not value:
        return None
    try:
        day = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed("must be a date (YYYY-MM-DD)", field=name) from exc
    day = day.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if day.tzinfo is not None else day.replace(tzinfo=UTC)


async def _holds_page(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    error: FormError | None = None,
    status: int = 200,
) -> Response:
    ctx = ctx_of(request)
    show_all = request.query_params.get("all") == "1"
    async with ctx.sessions() as session:
        holds = await compliance_store.list_legal_holds(
            session, active_at=None if show_all else ctx.clock.now()
        )
        people = await post_store.load_actors(
            session, [h.person_actor_id for h in holds if h.person_actor_id]
        )
        communities = await community_store.get_communities(
            session, [h.community_id for h in holds if h.community_id]
        )
    return render(
        request,
        "admin_holds.html",
        {
            "holds": holds,
            "people": people,
            "communities": communities,
            "show_all": show_all,
            "values": values or dict.fromkeys(HOLD_FIELDS, ""),
            "error": error,
            "done": request.query_params.get("done", ""),
        },
        status,
    )


async def holds(request: Request) -> Response:
    """The holds (in force, or all with `?all=1`); POST places one."""
    ctx = ctx_of(request)
    admin = await require_admin(request)
    if request.method != "POST":
        return await _holds_page(request)
    form: FormData = await request.form()
    values = {name: text(form, name, max_length=2000).strip() for name in HOLD_FIELDS}
    try:
        async with ctx.transaction() as session:
            person_actor_id, community_id = await service.targets_by_name(
                session, values["person"], values["community"]
            )
            await service.place_hold(
                session,
                ctx.clock.now(),
                ctx.charter,
                admin,
                person_actor_id=person_actor_id,
                community_id=community_id,
                period_start=_day(values, "period_start"),
                period_end=_day(values, "period_end"),
                reason=values["reason"],
            )
    except CercleError as exc:
        return await _holds_page(request, values=values, error=form_error(request, exc), status=exc.status)
    return redirect("/admin/holds?done=placed")


async def release_hold(request: Request) -> Response:
    ctx = ctx_of(request)
    admin = await require_admin(request)
    if request.method != "POST":
        return redirect("/admin/holds")
    try:
        async with ctx.transaction() as session:
            await service.release_hold(
                session, ctx.clock.now(), ctx.charter, admin, int(request.path_params["hold_id"])
            )
    except CercleError as exc:
        error = form_error(request, exc)
        return await _holds_page(request, error=FormError(None, error.message), status=exc.status)
    return redirect("/admin/holds?done=released")


routes: list[BaseRoute] = [
    Route("/admin", overview),
    Route("/admin/peers", peers),
    Route("/admin/charter", charter_page),
    Route("/admin/audit", audit),
    Route("/admin/holds", holds, methods=["GET", "POST"]),
    Route("/admin/holds/{hold_id:int}/release", release_hold, methods=["GET", "POST"]),
]
