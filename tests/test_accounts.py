from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from server.clock import FakeClock
from server.config import Settings
from server.context import Context
from server.errors import Conflict, Forbidden, TooManyRequests, Unauthorized, ValidationFailed
from server.services import accounts
from server.storage.accounts import get_user_by_username, list_api_tokens
from tests.conftest import make_settings


async def _create(ctx: Context, name: str = "alice", password: str = "correct horse battery") -> None:
    async with ctx.transaction() as session:
        await accounts.create_user(
            session,
            ctx.settings,
            ctx.clock.now(),
            username=name,
            email=f"{name}@corp.example",
            password=password,
        )


async def _login(ctx: Context, login: str, password: str, ip: str = "192.0.2.1") -> str:
    async with ctx.transaction() as session:
        user = await accounts.authenticate(
            session, ctx.settings, ctx.clock.now(), login=login, password=password, ip=ip
        )
    if user is None:
        raise Unauthorized(accounts.BAD_CREDENTIALS)
    return user.username


async def test_passwords_are_argon2id_and_check(ctx: Context) -> None:
    await _create(ctx)
    async with ctx.sessions() as session:
        user = await get_user_by_username(session, "alice")
    assert user is not None and user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert await _login(ctx, "alice", "correct horse battery") == "alice"
    assert await _login(ctx, "ALICE@corp.example", "correct horse battery") == "alice"
    with pytest.raises(Unauthorized):
        await _login(ctx, "alice", "wrong password!")


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("username", {"username": "A"}),
        ("username", {"username": "bad name"}),
        ("email", {"email": "not-an-email"}),
        ("password", {"password": "short"}),
    ],
)
async def test_invalid_input_names_the_field_and_stores_nothing(
    ctx: Context, field: str, values: dict[str, str]
) -> None:
    data = {"username": "bob", "email": "bob@corp.example", "password": "long enough password", **values}
    with pytest.raises(ValidationFailed) as caught:
        async with ctx.transaction() as session:
            await accounts.create_user(session, ctx.settings, ctx.clock.now(), **data)
    assert caught.value.field == field
    async with ctx.sessions() as session:
        assert await get_user_by_username(session, "bob") is None


async def test_duplicate_email_is_a_conflict(ctx: Context) -> None:
    await _create(ctx, "alice")
    with pytest.raises(Conflict) as caught:
        async with ctx.transaction() as session:
            await accounts.create_user(
                session,
                ctx.settings,
                ctx.clock.now(),
                username="alice2",
                email="Alice@corp.example",
                password="x" * 12,
            )
    assert caught.value.field == "email"


async def test_account_is_slowed_after_repeated_failures(ctx: Context, clock: FakeClock) -> None:
    await _create(ctx)
    for _ in range(accounts.ACCOUNT_FREE_FAILURES):
        with pytest.raises(Unauthorized):
            await _login(ctx, "alice", "wrong password!", ip=f"192.0.2.{_}")
    with pytest.raises(TooManyRequests) as caught:
        await _login(ctx, "alice", "correct horse battery", ip="198.51.100.7")
    assert caught.value.retry_after == 1
    clock.advance(timedelta(seconds=2))
    assert await _login(ctx, "alice", "correct horse battery") == "alice"


async def test_one_address_is_slowed_across_accounts(ctx: Context, clock: FakeClock) -> None:
    await _create(ctx)
    for i in range(accounts.IP_FREE_FAILURES + 3):
        with pytest.raises((Unauthorized, TooManyRequests)):
            await _login(ctx, f"nobody{i}", "guess guess guess", ip="203.0.113.9")
        clock.advance(timedelta(seconds=1))
    with pytest.raises(TooManyRequests):
        await _login(ctx, "alice", "correct horse battery", ip="203.0.113.9")
    assert await _login(ctx, "alice", "correct horse battery", ip="203.0.113.10") == "alice"


async def test_disabled_account_cannot_sign_in_and_tokens_stop(ctx: Context) -> None:
    await _create(ctx)
    async with ctx.transaction() as session:
        user = await get_user_by_username(session, "alice")
        assert user is not None
        token = await accounts.create_api_token(session, ctx.clock.now(), user, "script")
    async with ctx.transaction() as session:
        assert await accounts.user_for_token(session, ctx.clock.now(), token.secret) is not None
        await accounts.disable_user(session, ctx.clock.now(), "alice")
    async with ctx.transaction() as session:
        assert await accounts.user_for_token(session, ctx.clock.now(), token.secret) is None
    with pytest.raises(Unauthorized):
        await _login(ctx, "alice", "correct horse battery")


async def test_revoked_token_stops_working(ctx: Context) -> None:
    await _create(ctx)
    async with ctx.transaction() as session:
        user = await get_user_by_username(session, "alice")
        assert user is not None
        token = await accounts.create_api_token(session, ctx.clock.now(), user, "script")
        await accounts.revoke_api_token(session, ctx.clock.now(), user, token.token.id)
    async with ctx.transaction() as session:
        assert await accounts.user_for_token(session, ctx.clock.now(), token.secret) is None


async def test_invite_only_sign_up(database_url: str, tmp_path: Path, clock: FakeClock) -> None:
    from server.context import build_context

    settings: Settings = make_settings(database_url, tmp_path, registration="invite")
    ctx = build_context(settings, clock=clock)
    try:
        data = {"username": "carol", "email": "carol@corp.example", "password": "long enough password"}
        with pytest.raises(ValidationFailed) as caught:
            async with ctx.transaction() as session:
                await accounts.sign_up(session, settings, clock.now(), invitation_code="nope", **data)
        assert caught.value.field == "invitation"
        async with ctx.transaction() as session:
            code = await accounts.create_invitation(session, clock.now(), created_by=None)
        async with ctx.transaction() as session:
            await accounts.sign_up(session, settings, clock.now(), invitation_code=code, **data)
        with pytest.raises(ValidationFailed):
            async with ctx.transaction() as session:
                await accounts.sign_up(
                    session,
                    settings,
                    clock.now(),
                    invitation_code=code,
                    username="dave",
                    email="dave@corp.example",
                    password="long enough password",
                )
    finally:
        await ctx.close()


async def test_closed_sign_up(database_url: str, tmp_path: Path, clock: FakeClock) -> None:
    from server.context import build_context

    settings = make_settings(database_url, tmp_path, registration="closed")
    ctx = build_context(settings, clock=clock)
    try:
        with pytest.raises(Forbidden):
            async with ctx.transaction() as session:
                await accounts.sign_up(
                    session,
                    settings,
                    clock.now(),
                    username="eve",
                    email="eve@corp.example",
                    password="x" * 12,
                )
    finally:
        await ctx.close()


async def test_a_token_records_its_last_use_at_most_every_five_minutes(
    ctx: Context, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await _create(ctx)
    async with ctx.transaction() as session:
        user = await get_user_by_username(session, "alice")
        assert user is not None
        token = await accounts.create_api_token(session, ctx.clock.now(), user, "script")
    headers = {"Authorization": f"Bearer {token.secret}"}

    async def last_used() -> object:
        async with ctx.sessions() as session:
            (listed,) = await list_api_tokens(session, token.token.user_id)
            return listed.last_used_at

    assert await last_used() is None
    first = clock.now()
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    assert await last_used() == first
    clock.advance(timedelta(minutes=4))
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    assert await last_used() == first  # within five minutes: only read
    clock.advance(timedelta(minutes=2))
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    assert await last_used() == clock.now()
    revoked = {"Authorization": f"Bearer {token.secret}x"}
    assert (await client.get("/api/v1/me", headers=revoked)).status_code == 401
