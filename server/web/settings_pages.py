"""My settings: interface language, my profile and who sees each of its fields."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.errors import CercleError
from server.services import accounts, profiles
from server.web.auth import require_user
from server.web.common import FormError, ctx_of, form_error, redirect, split_list
from server.web.forms import text
from server.web.i18n import LANGUAGES
from server.web.templating import render

TEXT = ("display_name", "job_title", "department", "site", "bio")
LISTS = ("expertise", "interests", "languages")
CONTACT = tuple(profiles.CONTACT_FIELDS)
VISIBLE = tuple(profiles.DEFAULT_VISIBILITY)


def _form_values(profile: dict[str, Any], display_name: str) -> dict[str, Any]:
    """What the profile form shows: lists as comma-separated text, every field's visibility."""
    return {
        "display_name": display_name,
        **{name: profile.get(name, "") for name in TEXT if name != "display_name"},
        **{name: ", ".join(profile.get(name, [])) for name in LISTS},
        "contact": {key: profile.get("contact", {}).get(key, "") for key in CONTACT},
        "visibility": dict(profile.get("visibility", profiles.DEFAULT_VISIBILITY)),
    }


def _changes(form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    """The update for the profile service, and the same values as the form should show them again."""
    typed: dict[str, Any] = {name: text(form, name, max_length=20_000) for name in (*TEXT, *LISTS)}
    typed["contact"] = {key: text(form, f"contact.{key}", max_length=1000) for key in CONTACT}
    typed["visibility"] = {name: text(form, f"visibility.{name}", max_length=20) for name in VISIBLE}
    changes: dict[str, Any] = {name: typed[name] for name in TEXT}
    changes.update({name: split_list(typed[name]) for name in LISTS})
    changes["contact"] = {key: value or None for key, value in typed["contact"].items()}
    changes["visibility"] = {name: value for name, value in typed["visibility"].items() if value}
    return changes, typed


async def _page(
    request: Request, values: dict[str, Any], error: FormError | None = None, status: int = 200
) -> Response:
    return render(
        request,
        "settings.html",
        {
            "values": values,
            "error": error,
            "contact_fields": CONTACT,
            "visible_fields": VISIBLE,
            "levels": profiles.LEVELS,
            "saved": request.query_params.get("saved"),
        },
        status_code=status,
    )


async def settings_page(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    async with ctx.sessions() as session:
        profile = await profiles.my_profile(session, user)
    return await _page(request, _form_values(profile, user.display_name))


async def save_profile(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    form = await request.form()
    changes, typed = _changes(form)
    try:
        async with ctx.transaction() as session:
            await profiles.update_profile(session, ctx.settings, ctx.clock.now(), user, changes)
    except CercleError as exc:
        return await _page(request, typed, form_error(request, exc), exc.status)
    return redirect("/settings?saved=profile#profile")


async def save_language(request: Request) -> Response:
    """The interface language is a setting of the account (`User.language`); empty means the browser's."""
    ctx, user = ctx_of(request), await require_user(request)
    form = await request.form()
    async with ctx.transaction() as session:
        await accounts.set_language(session, user, text(form, "language", max_length=8), LANGUAGES)
    return redirect("/settings?saved=language")


routes = [
    Route("/settings", settings_page),
    Route("/settings/profile", save_profile, methods=["POST"]),
    Route("/settings/language", save_language, methods=["POST"]),
]
