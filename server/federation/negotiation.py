"""Content negotiation for the URLs that are both a page and an ActivityStreams document.

``application/activity+json``, ``application/ld+json`` (with or without the ActivityStreams profile) and
``application/json`` ask for the document; ``text/html``, ``application/xhtml+xml`` and wildcards ask for the
page. The document wins only when its best quality value is at least the page's, so a browser's
``text/html,...,*/*;q=0.8`` gets the page and a peer's ``application/activity+json`` the document.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from server.activitypub.vocabulary import ACTIVITY_JSON
from server.web.problems import PROBLEM_JSON

_DOCUMENT_TYPES = frozenset({"application/activity+json", "application/ld+json", "application/json"})
_PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "*/*", "text/*"})
VARY = {"Vary": "Accept"}


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value.strip())))
            except ValueError:
                return 0.0
    return 1.0


def wants_document(accept: str | None) -> bool:
    best_document = best_page = 0.0
    for member in (accept or "").split(","):
        media, *params = member.split(";")
        media = media.strip().lower()
        quality = _quality(params)
        if media in _DOCUMENT_TYPES:
            best_document = max(best_document, quality)
        elif media in _PAGE_TYPES:
            best_page = max(best_page, quality)
    return best_document > 0 and best_document >= best_page


class DocumentRoute(Route):
    """A route that matches only requests asking for an ActivityStreams document, so that a web page
    mounted at the same path (``/c/<slug>`` is also the community's page) still answers browsers."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.NONE or wants_document(Headers(scope=scope).get("accept")):
            return match, child
        return Match.NONE, {}


def activity_response(document: dict[str, Any], status: int = 200) -> Response:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status, media_type=ACTIVITY_JSON, headers=dict(VARY))


def problem_response(status: int, code: str, detail: str) -> JSONResponse:
    """RFC 9457 problem+json; federation endpoints answer peers, never a login redirect or an HTML page."""
    body = {"type": f"/problems/{code}", "title": code.replace("-", " "), "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("server.federation", "templates"), autoescape=select_autoescape(["html"])
    )


def page_response(request: Request, template: str, **values: Any) -> HTMLResponse:
    html = _environment().get_template(template).render(**values)
    return HTMLResponse(html, headers=dict(VARY))
