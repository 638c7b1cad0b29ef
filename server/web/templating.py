"""Jinja2 environment for the server-rendered interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from server.web.csrf import csrf_token

TEMPLATE_DIR = Path(__file__).parent / "templates"


def _context(request: Request) -> dict[str, Any]:
    return {
        "csrf_token": csrf_token(request.session) if "session" in request.scope else "",
        "user": getattr(request.state, "user", None),
        "settings": request.app.state.ctx.settings,
    }


def build_templates() -> Jinja2Templates:
    return Jinja2Templates(directory=str(TEMPLATE_DIR), context_processors=[_context])
