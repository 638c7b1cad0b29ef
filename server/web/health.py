"""Probes for orchestrators: `/healthz` (the process answers) and `/readyz` (it can serve)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from server.context import Context
from server.storage.engine import ping
from server.storage.migrate import current_revision, head_revision


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    checks: dict[str, str] = {}
    try:
        await ping(ctx.engine)
        checks["database"] = "ok"
        current, head = await current_revision(ctx.engine), head_revision()
        checks["migrations"] = (
            "ok" if current == head else f"at {current}, head is {head}: run `cercle migrate`"
        )
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
