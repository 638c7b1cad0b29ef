"""Reading HTML forms: every field comes back as a trimmed string, never as a surprise type."""

from __future__ import annotations

from starlette.datastructures import FormData


def text(form: FormData, name: str, *, max_length: int = 10_000) -> str:
    value = form.get(name)
    return value[:max_length] if isinstance(value, str) else ""


def safe_next(value: str) -> str:
    """A local path to go to after signing in; anything else (another site) becomes '/'."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"
