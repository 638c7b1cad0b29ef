"""Small builders for social tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Context
from server.errors import Forbidden, NotFound
from server.services import accounts, charter, communities
from server.storage.models import User
from server.storage.social import Community


async def person(ctx: Context, name: str, *, admin: bool = False, accept: bool = True) -> User:
    """A local person who has accepted the charter in force (unless `accept` is False)."""
    async with ctx.transaction() as session:
        user = await accounts.create_user(
            session,
            ctx.settings,
            ctx.clock.now(),
            username=name,
            email=f"{name}@corp.example",
            password=None,
            display_name=name.title(),
            is_admin=admin,
        )
        if accept:
            await charter.accept_charter(session, ctx.clock.now(), ctx.charter, user, "en")
        return user


async def community(
    ctx: Context, owner: User, slug: str, visibility: str = "open", kind: str = "project"
) -> Community:
    async with ctx.transaction() as session:
        return await communities.create_community(
            session,
            ctx.settings,
            ctx.clock.now(),
            owner,
            slug=slug,
            name=slug.title(),
            kind=kind,
            visibility=visibility,
        )


async def attempt(ctx: Context, call: Callable[[AsyncSession], Awaitable[object]]) -> str:
    """Run one use case in a transaction that is always rolled back; report how it ended."""
    async with ctx.sessions() as session:
        await session.begin()
        try:
            await call(session)
            return "ok"
        except NotFound:
            return "notfound"
        except Forbidden:
            return "forbidden"
        finally:
            await session.rollback()
