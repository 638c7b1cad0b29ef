"""Helpers of the charter tests: contexts on other charters, and people, communities and posts in storage."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from sqlalchemy import select

from server.clock import FakeClock
from server.context import Context, build_context
from server.services import accounts
from server.services.actors import create_local_group
from server.storage.base import Base
from server.storage.compliance import AuditEntry
from server.storage.models import User
from server.storage.social import Attachment, Community, Post, PostCommunity, PostTag
from tests.conftest import REPO, make_settings

MakeContext = Callable[..., Awaitable[Context]]


@pytest.fixture
async def make_ctx(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[MakeContext]:
    """Contexts on the same database with another charter (`charter="fr"`, `charter_dir=...`)."""
    made: list[Context] = []

    async def make(**overrides: Any) -> Context:
        context = build_context(make_settings(database_url, tmp_path, **overrides), clock=clock)
        made.append(context)
        return context

    yield make
    for context in made:
        await context.close()


def charter_dir_with(tmp_path: Path, name: str, text: str) -> Path:
    """A copy of the repository's charters plus (or replacing) `name` written from `text`."""
    directory = tmp_path / "charters"
    if not directory.exists():
        shutil.copytree(REPO / "charter", directory)
    (directory / name).write_text(dedent(text), encoding="utf-8")
    return directory


async def add_user(ctx: Context, username: str, *, admin: bool = False, language: str | None = None) -> User:
    async with ctx.transaction() as session:
        user = await accounts.create_user(
            session,
            ctx.settings,
            ctx.clock.now(),
            username=username,
            email=f"{username}@corp.example",
            password=None,
            is_admin=admin,
        )
        user.language = language
    return user


async def add_community(ctx: Context, slug: str, *, kind: str = "project", tags: Sequence[str] = ()) -> int:
    async with ctx.transaction() as session:
        actor = await create_local_group(
            session, ctx.settings, ctx.clock.now(), slug=slug, name=slug.title(), manually_approves=False
        )
        community = Community(
            actor_id=actor.id,
            slug=slug,
            name=slug.title(),
            kind=kind,
            tags=list(tags),
            visibility="open",
            local=True,
            created_at=ctx.clock.now(),
        )
        session.add(community)
        await session.flush()
        return community.id


async def add_post(
    ctx: Context,
    author: User,
    text: str,
    *,
    created_at: datetime,
    kind: str = "post",
    community_id: int | None = None,
    tags: Sequence[str] = (),
    attachment: tuple[str, int] | None = None,
) -> int:
    """A stored post (as the posts service would have stored it), optionally in a community."""
    async with ctx.transaction() as session:
        assert author.actor_id is not None
        count = len((await session.execute(select(Post.id))).all())
        post = Post(
            uri=f"{ctx.settings.base_url}/posts/{count + 1}",
            author_id=author.actor_id,
            kind=kind,
            source=text,
            content_html=f"<p>{text}</p>",
            local=True,
            created_at=created_at,
        )
        session.add(post)
        await session.flush()
        if community_id is not None:
            session.add(PostCommunity(post_id=post.id, community_id=community_id, created_at=created_at))
        for tag in tags:
            session.add(PostTag(post_id=post.id, tag=tag))
        if attachment is not None:
            session.add(
                Attachment(
                    post_id=post.id,
                    owner_id=author.actor_id,
                    media_type=attachment[0],
                    filename="file",
                    size=attachment[1],
                    sha256="0" * 64,
                    path=f"files/{post.id}.bin",
                    created_at=created_at,
                )
            )
        return post.id


async def audit_entries(ctx: Context) -> list[AuditEntry]:
    async with ctx.sessions() as session:
        return list((await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars())


async def snapshot(ctx: Context) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that something changed nothing."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with ctx.sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found


async def bearer(ctx: Context, user: User) -> dict[str, str]:
    """Headers of an API call made by `user`."""
    async with ctx.transaction() as session:
        created = await accounts.create_api_token(session, ctx.clock.now(), user, "tests")
    return {"Authorization": f"Bearer {created.secret}"}
