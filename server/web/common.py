"""What every page handler needs: the context, form errors in the person's language, redirects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.context import Context
from server.errors import CercleError
from server.services.charter import CharterNotAccepted, CharterRefusal
from server.storage.social import Actor
from server.web.forms import safe_next, text
from server.web.i18n import gettext_for


def ctx_of(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


@dataclass(frozen=True)
class FormError:
    """What went wrong: the field it concerns (or None) and a sentence in the person's language."""

    field: str | None
    message: str
    charter_link: bool = False


def form_error(request: Request, exc: CercleError) -> FormError:
    _ = gettext_for(request)
    if isinstance(exc, CharterRefusal):
        message = _("Refused under article %(article)s of charter %(charter)s: %(message)s") % {
            "article": exc.article_id or "?",
            "charter": f"{exc.charter_id} {exc.charter_version}",
            "message": exc.message,
        }
        return FormError(None, message, charter_link=True)
    if isinstance(exc, CharterNotAccepted):
        message = _("Accept version %(version)s of the usage charter first.") % {
            "version": exc.charter_version
        }
        return FormError(None, message, charter_link=True)
    field = exc.field.split(".", 1)[0] if exc.field else None
    return FormError(field, _(exc.message))


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def back(form: FormData, default: str) -> Response:
    """Back to the page the form came from (a local path only), for browsers without JavaScript."""
    return redirect(safe_next(text(form, "next") or default))


def handle(actor: Actor) -> str:
    """How a person or a community is written: @name here, @name@domain when from another instance."""
    return f"@{actor.username}" if actor.local else f"@{actor.username}@{actor.domain}"


def person_path(actor: Actor) -> str:
    return f"/people/{actor.username}" if actor.local else f"/people/{actor.username}@{actor.domain}"


def split_list(value: str) -> list[str]:
    """Comma- or line-separated entries of a text field, trimmed, empty ones dropped."""
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


def template_helpers() -> dict[str, Any]:
    return {"handle": handle, "person_path": person_path}
