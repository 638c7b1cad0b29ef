"""CSRF protection for every state-changing request made with a session cookie.

The token lives in the signed session and must come back either in the `csrf_token` form
field or in the `X-CSRF-Token` header (htmx and the JSON API use the header). Requests that
carry no session cookie at all cannot be forged by a third-party page, so bearer-token API
calls and signed federation POSTs pass untouched. The body is buffered to read the form
field and then replayed to the application unchanged.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
MAX_FORM_BYTES = 64 * 1024 * 1024


def csrf_token(session: dict[str, Any]) -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


class CSRFMiddleware:
    def __init__(self, app: ASGIApp, *, cookie_name: str) -> None:
        self.app = app
        self.cookie_name = cookie_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if self.cookie_name not in request.cookies:
            await self.app(scope, receive, send)
            return
        expected = scope.get("session", {}).get("csrf")
        supplied = request.headers.get("x-csrf-token")
        body = b""
        if supplied is None:
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                message = await receive()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > MAX_FORM_BYTES:
                    await PlainTextResponse("request body too large", status_code=413)(scope, receive, send)
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
            replay_once = _replay(body)
            form = await Request(scope, replay_once).form()
            value = form.get("csrf_token")
            supplied = value if isinstance(value, str) else None
            await form.close()
            receive = _replay(body)
        if not expected or not supplied or not hmac.compare_digest(str(expected), supplied):
            response = PlainTextResponse(
                "This form has expired or did not come from Cercle. Reload the page and try again.",
                status_code=403,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
