"""The charter in the API: read and accept it, cross-border consents, and the legal team's tools
(audit log, acceptance export, legal holds; administrators only). Handlers hold no policy: they parse,
call `server.services.charter` and shape the answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from server.api.v1 import json_object, string_field
from server.context import Context
from server.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.policy import POINT_IN_TIME_HINT, localize, point_in_time
from server.services import charter as service
from server.services import outbox
from server.services.compliance.exports import (
    ACCEPTANCE_COLUMNS,
    acceptance_row,
    audit_row,
    hold_row,
    write_rows,
)
from server.storage import compliance_queries as store
from server.storage.audit import AuditFilter, list_audit_entries
from server.storage.compliance import CrossBorderConsent
from server.storage.models import User
from server.web.auth import current_user, require_user

MAX_PAGE = 500


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def require_admin(request: Request) -> User:
    user = await require_user(request)
    if not user.is_admin:
        raise Forbidden("only administrators may do this", code="admin-only")
    return user


def _language(request: Request, ctx: Context, user: User | None) -> str:
    header = request.headers.get("accept-language", "").split(",")[0].split(";")[0].strip()
    return service.charter_language(
        ctx.charter, request.query_params.get("lang"), user.language if user else None, header
    )


def _moment(request: Request, name: str) -> datetime | None:
    """An ISO 8601 date-time, or a period back from now ("30d")."""
    text = request.query_params.get(name)
    if not text:
        return None
    try:
        return point_in_time(_ctx(request).clock.now(), text)
    except ValueError as exc:
        raise ValidationFailed(POINT_IN_TIME_HINT, field=name) from exc


def _int(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValidationFailed(f"must be a whole number from {low} to {high}", field=name)
    return int(text)


def _body_datetime(data: dict[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationFailed("must be a date or date-time (ISO 8601)", field=name) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _optional_int(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise ValidationFailed("must be a whole number", field=name)
    return value


def consent_json(consent: CrossBorderConsent) -> dict[str, Any]:
    return {
        "jurisdiction": consent.jurisdiction,
        "text_version": consent.text_version,
        "given_at": consent.given_at.isoformat(),
    }


async def charter_in_force(request: Request) -> Response:
    """The charter this instance applies, in the viewer's language; whether the viewer must accept it."""
    ctx = _ctx(request)
    user = await current_user(request)
    charter = ctx.charter
    lang = _language(request, ctx, user)
    body: dict[str, Any] = {
        "id": charter.id,
        "version": charter.version,
        "jurisdiction": charter.jurisdiction,
        "language": lang,
        "languages": list(charter.languages),
        "title": localize(charter.title, lang),
        "articles": [
            {"id": a.id, "title": localize(a.title, lang), "text": localize(a.text, lang)}
            for a in charter.articles
        ],
        "accepted_version": None,
        "must_accept": None,
    }
    if user is not None:
        async with ctx.sessions() as session:
            accepted, version = await service.acceptance_status(session, charter, user)
        body.update(accepted_version=version, must_accept=not accepted)
    return JSONResponse(body)


async def accept(request: Request) -> Response:
    ctx = _ctx(request)
    user = await require_user(request)
    data = await json_object(request) if await request.body() else {}
    version = data.get("version")
    if version is not None and version != ctx.charter.version:
        raise Conflict(
            f"version {ctx.charter.version} of the charter is in force, not {version}", field="version"
        )
    lang = string_field(data, "language", required=False) or _language(request, ctx, user)
    async with ctx.transaction() as session:
        accepted = await service.accept_charter(session, ctx.clock.now(), ctx.charter, user, lang)
        body = {
            "charter_id": accepted.charter_id,
            "version": accepted.charter_version,
            "language": accepted.language,
            "accepted_at": accepted.accepted_at.isoformat(),
        }
    return JSONResponse(body, status_code=201)


async def consents(request: Request) -> Response:
    ctx = _ctx(request)
    user = await require_user(request)
    if request.method == "POST":
        data = await json_object(request)
        async with ctx.transaction() as session:
            given = await service.give_consent(
                session,
                ctx.clock.now(),
                user,
                string_field(data, "jurisdiction"),
                string_field(data, "text_version"),
            )
            await outbox.consent_given(session, ctx, ctx.clock.now(), user, given.jurisdiction)
            body = consent_json(given)
        return JSONResponse(body, status_code=201)
    if request.method == "DELETE":
        jurisdiction = request.query_params.get("jurisdiction")
        if jurisdiction is None:
            jurisdiction = string_field(await json_object(request), "jurisdiction")
        async with ctx.transaction() as session:
            withdrawn = await service.withdraw_consent(session, ctx.clock.now(), user, jurisdiction)
        if not withdrawn:
            raise NotFound(f"no consent for {jurisdiction} to withdraw")
        return Response(status_code=204)
    async with ctx.sessions() as session:
        items = [consent_json(c) for c in await service.list_consents(session, user)]
    return JSONResponse({"items": items})


async def audit_log(request: Request) -> Response:
    ctx = _ctx(request)
    await require_admin(request)
    limit = _int(request, "limit", 100, 1, MAX_PAGE) or 100
    where = AuditFilter(
        since=_moment(request, "since"),
        until=_moment(request, "until"),
        article_id=request.query_params.get("article"),
        action=request.query_params.get("action"),
        point=request.query_params.get("point"),
        subject_kind=request.query_params.get("subject_kind"),
        subject=request.query_params.get("subject"),
        before_id=_int(request, "cursor", None, 1, 2**62),
    )
    async with ctx.sessions() as session:
        entries = await list_audit_entries(session, where, limit=limit)
    items = [audit_row(e) for e in entries]
    next_cursor = str(entries[-1].id) if len(entries) == limit else None
    return JSONResponse({"items": items, "next_cursor": next_cursor})


async def acceptances(request: Request) -> Response:
    ctx = _ctx(request)
    await require_admin(request)
    async with ctx.sessions() as session:
        rows = [acceptance_row(r) for r in await store.list_acceptances(session)]
    if request.query_params.get("format") == "csv":
        return Response(
            write_rows(rows, ACCEPTANCE_COLUMNS, "csv") + "\n",
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="charter-acceptances.csv"'},
        )
    return JSONResponse({"items": rows})


async def legal_holds(request: Request) -> Response:
    ctx = _ctx(request)
    admin = await require_admin(request)
    if request.method == "POST":
        data = await json_object(request)
        async with ctx.transaction() as session:
            by_person, by_community = await service.targets_by_name(
                session,
                data["person"] if isinstance(data.get("person"), str) else None,
                data["community"] if isinstance(data.get("community"), str) else None,
            )
            person_actor_id = by_person or _optional_int(data, "person_actor_id")
            community_id = by_community or _optional_int(data, "community_id")
            placed = await service.place_hold(
                session,
                ctx.clock.now(),
                ctx.charter,
                admin,
                person_actor_id=person_actor_id,
                community_id=community_id,
                period_start=_body_datetime(data, "period_start"),
                period_end=_body_datetime(data, "period_end"),
                reason=string_field(data, "reason"),
            )
            body = hold_row(placed)
        return JSONResponse(body, status_code=201)
    active_at = None if request.query_params.get("all") in ("1", "true") else ctx.clock.now()
    async with ctx.sessions() as session:
        items = [hold_row(h) for h in await store.list_legal_holds(session, active_at=active_at)]
    return JSONResponse({"items": items})


async def release_legal_hold(request: Request) -> Response:
    ctx = _ctx(request)
    admin = await require_admin(request)
    async with ctx.transaction() as session:
        released = await service.release_hold(
            session, ctx.clock.now(), ctx.charter, admin, int(request.path_params["hold_id"])
        )
        body = hold_row(released)
    return JSONResponse(body)


routes: list[BaseRoute] = [
    Route("/api/v1/charter", charter_in_force),
    Route("/api/v1/charter/accept", accept, methods=["POST"]),
    Route("/api/v1/charter/consents", consents, methods=["GET", "POST", "DELETE"]),
    Route("/api/v1/charter/acceptances", acceptances),
    Route("/api/v1/audit", audit_log),
    Route("/api/v1/legal-holds", legal_holds, methods=["GET", "POST"]),
    Route("/api/v1/legal-holds/{hold_id:int}/release", release_legal_hold, methods=["POST"]),
]
