"""Builders for search tests: people, communities, members and indexed posts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from server.context import Context
from server.services import indexing, posts
from server.storage.models import User
from server.storage.social import Community, Membership, Post, Profile
from tests.social.helpers import community, person

__all__ = ["add_member", "community", "person", "set_profile", "write"]


async def add_member(ctx: Context, place: Community, user: User, role: str = "member") -> None:
    assert user.actor_id is not None
    async with ctx.transaction() as session:
        now = ctx.clock.now()
        session.add(
            Membership(
                community_id=place.id,
                actor_id=user.actor_id,
                role=role,
                state="active",
                created_at=now,
                updated_at=now,
            )
        )


async def write(
    ctx: Context,
    author: User,
    body: str,
    *,
    places: Sequence[str] = (),
    title: str = "",
    on_profile: bool = False,
    language: str | None = None,
    attachment_ids: Sequence[int] = (),
    parent: int | None = None,
) -> Post:
    """A post (or a comment when `parent` is given), indexed as the posts service will do."""
    async with ctx.transaction() as session:
        if parent is not None:
            post = await posts.create_comment(
                session, ctx, ctx.clock.now(), author, parent_id=parent, body=body
            )
        else:
            post = await posts.create_post(
                session,
                ctx,
                ctx.clock.now(),
                author,
                body=body,
                title=title,
                communities=list(places),
                on_profile=on_profile,
                language=language,
                attachment_ids=list(attachment_ids),
            )
        await indexing.index_post(session, post, media_dir=ctx.settings.media_dir)
        return post


async def set_profile(ctx: Context, user: User, **fields: Any) -> None:
    async with ctx.transaction() as session:
        profile = (
            await session.execute(select(Profile).where(Profile.actor_id == user.actor_id))
        ).scalar_one()
        for name, value in fields.items():
            setattr(profile, name, value)
        from server.storage.social import Actor

        actor = await session.get(Actor, user.actor_id)
        assert actor is not None
        await indexing.index_profile(session, actor, profile)
