"""Reading query parameters and JSON fields for the API, with errors that name the field."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from server.errors import ValidationFailed


def query_int(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ValidationFailed("must be a whole number", field=name) from exc


def query_str(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value else None


def path_int(request: Request, name: str) -> int:
    return int(request.path_params[name])


def json_str(
    data: dict[str, Any], name: str, *, default: str | None = None, max_length: int = 100_000
) -> str:
    value = data.get(name, default)
    if not isinstance(value, str):
        raise ValidationFailed(
            "is required and must be a string" if default is None else "must be a string", field=name
        )
    if len(value) > max_length:
        raise ValidationFailed(f"must be at most {max_length:,} characters", field=name)
    return value


def json_optional_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise ValidationFailed("must be a string", field=name)
    return value


def json_bool(data: dict[str, Any], name: str, *, default: bool = False) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise ValidationFailed("must be true or false", field=name)
    return value


def json_int(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationFailed("is required and must be a whole number", field=name)
    return value


def json_str_list(data: dict[str, Any], name: str, *, required: bool = False) -> list[str] | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationFailed("must be a list of strings", field=name)
    return value


def json_int_list(data: dict[str, Any], name: str) -> list[int]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValidationFailed("must be a list of whole numbers", field=name)
    return value
