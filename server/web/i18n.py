"""Languages of the interface: Babel catalogs (`i18n/<lang>/LC_MESSAGES/messages.po`) and the choice of one.

The `.po` files are read with Babel's reader and compiled in memory when the app factory builds the
templates, so there is no build step and nothing is read at import time. English is the source
language. A person's language is their setting (`User.language`), then the browser's
`Accept-Language`, then the instance's `default_language`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from gettext import GNUTranslations, NullTranslations
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.requests import Request

LANGUAGES = ("en", "fr", "de")
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "de": "Deutsch"}
CATALOG_DIR = Path(__file__).parent / "i18n"

Gettext = Callable[[str], str]


def load_catalogs(directory: Path = CATALOG_DIR) -> dict[str, NullTranslations]:
    """One translation table per language; English (the source) translates to itself."""
    tables: dict[str, NullTranslations] = {"en": NullTranslations()}
    for lang in LANGUAGES[1:]:
        path = directory / lang / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as stream:
            catalog = read_po(stream, locale=lang)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        tables[lang] = GNUTranslations(compiled)
    return tables


def parse_accept_language(header: str) -> list[str]:
    """Language tags from an `Accept-Language` header, best first (q=0 dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(preferred: list[str]) -> str | None:
    """The first of our languages that the browser prefers; a regional tag (fr-CH) counts as its language."""
    for tag in preferred:
        base = tag.lower().replace("_", "-").split("-", 1)[0]
        if base in LANGUAGES:
            return base
    return None


def language_of(request: Request) -> str:
    """The interface language for this request (cached on the request)."""
    cached = getattr(request.state, "lang", None)
    if isinstance(cached, str):
        return cached
    user = getattr(request.state, "user", None)
    chosen: str | None = None
    if user is not None and user.language in LANGUAGES:
        chosen = user.language
    if chosen is None:
        chosen = negotiate(parse_accept_language(request.headers.get("accept-language", "")))
    if chosen is None:
        chosen = request.app.state.ctx.settings.default_language
    lang = chosen if chosen in LANGUAGES else "en"
    request.state.lang = lang
    return lang


def translations_of(request: Request) -> NullTranslations:
    tables: Mapping[str, NullTranslations] = request.app.state.templates.env.globals["catalogs"]
    return tables[language_of(request)]


def gettext_for(request: Request) -> Gettext:
    """`_` for Python code: plain strings (the templates escape them)."""
    return translations_of(request).gettext


@pass_context
def template_gettext(context: Context, message: str, **variables: Any) -> Markup:
    """`_()` in templates: the translation is trusted markup; the variables are escaped."""
    tables: NullTranslations = context["translations"]
    # Translations are ours (the catalogs), so trusted markup; `%` escapes the variables.
    return Markup(tables.gettext(message)) % variables  # noqa: S704


@pass_context
def template_ngettext(context: Context, singular: str, plural: str, num: int, **variables: Any) -> Markup:
    tables: NullTranslations = context["translations"]
    variables.setdefault("num", num)
    return Markup(tables.ngettext(singular, plural, num)) % variables  # noqa: S704
