"""Small builders for social tests."""

from __future__ import annotations

from server.context import Context
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
