"""The JSON API, version 1: `/api/v1/...`. Authentication by session cookie or bearer token."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.api import mentions
from server.context import Context
from server.errors import ValidationFailed
from server.services import accounts
from server.storage.accounts import list_api_tokens
from server.storage.models import ApiToken, User
from server.web.auth import require_user

MAX_JSON_BYTES = 1024 * 1024


async def json_object(request: Request) -> dict[str, Any]:
    if not request.headers.get("content-type", "").split(";")[0].strip().endswith("json"):
        raise ValidationFailed("the body must be JSON (Content-Type: application/json)", field="body")
    body = await request.body()
    if len(body) > MAX_JSON_BYTES:
        raise ValidationFailed("the body is larger than 1 MiB", field="body")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"is not valid JSON ({exc})", field="body") from exc
    if not isinstance(value, dict):
        raise ValidationFailed("must be a JSON object", field="body")
    return value


def string_field(data: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed("is required and must be a string", field=name)
    return value


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "is_admin": user.is_admin,
        "language": user.language,
        "created_at": user.created_at.isoformat(),
    }


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked": token.revoked_at is not None,
    }


async def me(request: Request) -> Response:
    return JSONResponse(user_json(await require_user(request)))


async def tokens(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    user = await require_user(request)
    if request.method == "POST":
        data = await json_object(request)
        async with ctx.transaction() as session:
            created = await accounts.create_api_token(
                session, ctx.clock.now(), user, string_field(data, "name")
            )
        return JSONResponse({**token_json(created.token), "token": created.secret}, status_code=201)
    async with ctx.sessions() as session:
        rows = await list_api_tokens(session, user.id)
    return JSONResponse({"items": [token_json(t) for t in rows]})


async def revoke_token(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    user = await require_user(request)
    async with ctx.transaction() as session:
        await accounts.revoke_api_token(session, ctx.clock.now(), user, int(request.path_params["token_id"]))
    return Response(status_code=204)


routes = [
    Route("/api/v1/me", me),
    Route("/api/v1/tokens", tokens, methods=["GET", "POST"]),
    Route("/api/v1/tokens/{token_id:int}", revoke_token, methods=["DELETE"]),
    *mentions.routes,
]
