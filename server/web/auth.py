"""Who is asking: a bearer API token, or the signed session cookie."""

from __future__ import annotations

from starlette.requests import Request

from server.context import Context
from server.errors import Unauthorized
from server.services import accounts
from server.storage.accounts import get_user
from server.storage.models import User
from server.web.csrf import csrf_token

_UNSET = object()


async def current_user(request: Request) -> User | None:
    cached = getattr(request.state, "user", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    ctx: Context = request.app.state.ctx
    user: User | None = None
    authorization = request.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        async with ctx.transaction() as session:
            user = await accounts.user_for_token(session, ctx.clock.now(), authorization[7:].strip())
        if user is None:
            raise Unauthorized("the API token is invalid or was revoked", code="invalid-token")
    elif "uid" in request.session:
        async with ctx.sessions() as session:
            user = await get_user(session, int(request.session["uid"]))
        if user is None or not user.is_active or user.session_epoch != request.session.get("epoch"):
            request.session.clear()
            user = None
    request.state.user = user
    return user


async def require_user(request: Request) -> User:
    user = await current_user(request)
    if user is None:
        raise Unauthorized("sign in first", code="not-signed-in")
    return user


def start_session(request: Request, user: User) -> None:
    """A fresh session for `user`: the old one (and its CSRF token) is dropped, against fixation."""
    request.session.clear()
    request.session["uid"] = user.id
    request.session["epoch"] = user.session_epoch
    csrf_token(request.session)
    request.state.user = user


def end_session(request: Request) -> None:
    request.session.clear()
    request.state.user = None
