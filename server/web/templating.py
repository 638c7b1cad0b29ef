"""Jinja2 environment for the server-rendered interface: escaping, translations, dates, htmx."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from server.web.common import template_helpers
from server.web.csrf import csrf_token
from server.web.i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    language_of,
    load_catalogs,
    template_gettext,
    template_ngettext,
    translations_of,
)

TEMPLATE_DIR = Path(__file__).parent / "templates"


def _context(request: Request) -> dict[str, Any]:
    return {
        "csrf_token": csrf_token(request.session) if "session" in request.scope else "",
        "user": getattr(request.state, "user", None),
        "settings": request.app.state.ctx.settings,
        "lang": language_of(request),
        "translations": translations_of(request),
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "htmx": request.headers.get("hx-request") == "true",
    }


@pass_context
def _when(context: Context, value: datetime | None, style: str = "medium") -> str:
    if value is None:
        return ""
    return format_datetime(value, format=style, locale=context.get("lang", "en"))


def build_templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        catalogs=load_catalogs(), _=template_gettext, gettext=template_gettext, ngettext=template_ngettext
    )
    env.globals.update(template_helpers())
    env.newstyle_gettext = True  # type: ignore[attr-defined]
    env.filters["when"] = _when
    return Jinja2Templates(env=env, context_processors=[_context])


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, template, context or {}, status_code=status_code, headers=headers
    )
