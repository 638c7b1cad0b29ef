from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from server.context import Context
from server.storage import accounts as store
from server.storage.models import User


def _user(name: str, now: datetime) -> User:
    return User(
        username=name, email=f"{name}@example.com", display_name=name.title(), session_epoch=0, created_at=now
    )


async def test_timestamps_come_back_aware_and_in_utc(ctx: Context) -> None:
    paris = timezone(timedelta(hours=1))
    created = datetime(2026, 3, 1, 10, 30, tzinfo=paris)
    async with ctx.transaction() as session:
        await store.add_user(session, _user("ada", created))
    async with ctx.sessions() as session:
        found = await store.get_user_by_username(session, "ADA")
    assert found is not None
    assert found.created_at.tzinfo is not None
    assert found.created_at == created
    assert found.created_at.utcoffset() == timedelta(0)


async def test_naive_timestamps_are_refused(ctx: Context) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with ctx.transaction() as session:
            await store.add_user(session, _user("naive", datetime(2026, 1, 1)))


async def test_usernames_are_unique(ctx: Context) -> None:
    now = datetime.now(UTC)
    async with ctx.transaction() as session:
        await store.add_user(session, _user("grace", now))
    with pytest.raises(IntegrityError):
        async with ctx.transaction() as session:
            await store.add_user(session, _user("grace", now))
    async with ctx.sessions() as session:
        assert await store.count_users(session) == 1


async def test_login_throttle_counts_and_clears(ctx: Context) -> None:
    now = datetime.now(UTC)
    async with ctx.transaction() as session:
        await store.record_login_failure(session, "ip:10.0.0.1", now)
        await store.record_login_failure(session, "ip:10.0.0.1", now)
    async with ctx.sessions() as session:
        rows = await store.get_throttles(session, ["ip:10.0.0.1"])
    assert [r.failures for r in rows] == [2]
    async with ctx.transaction() as session:
        await store.clear_login_failures(session, "ip:10.0.0.1")
    async with ctx.sessions() as session:
        assert await store.get_throttles(session, ["ip:10.0.0.1"]) == []
