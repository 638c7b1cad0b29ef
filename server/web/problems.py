"""Errors to HTTP, in one place: RFC 9457 problem+json for the API, an HTML page for people."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from server.errors import CercleError, TooManyRequests
from server.web.common import form_error
from server.web.i18n import gettext_for

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
}


def wants_problem_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.url.path.startswith("/api/") or ("json" in accept and "text/html" not in accept)


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    field: str | None = None,
    field_detail: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if field:
        body["errors"] = [{"field": field, "detail": field_detail or detail}]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def cercle_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CercleError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
    if wants_problem_json(request):
        detail = f"{exc.field}: {exc.message}" if exc.field else exc.message
        return problem(
            exc.status, exc.code, detail, field=exc.field, field_detail=exc.message, headers=headers
        )
    if exc.status == 401:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    return error_page(request, exc.status, form_error(request, exc).message, headers=headers, exc=exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
    if wants_problem_json(request):
        return problem(
            exc.status_code, TITLES.get(exc.status_code, "error").lower().replace(" ", "-"), detail
        )
    return error_page(request, exc.status_code, detail)


async def server_error(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    message = "Something went wrong on our side. The error was logged."
    if wants_problem_json(request):
        return problem(500, "internal-error", message)
    return error_page(request, 500, message)


def error_page(
    request: Request,
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    exc: CercleError | None = None,
) -> Response:
    """The page people see; titles and messages in their language when the catalog knows them."""
    _ = gettext_for(request)
    templates = request.app.state.templates
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request,
        "error.html",
        {
            "status": status,
            "title": _(TITLES.get(status, "Error")),
            "message": _(message),
            "charter_link": exc is not None and form_error(request, exc).charter_link,
        },
        status_code=status,
        headers=headers,
    )
