"""The permission matrix: every standing × visibility × action, through the real services.

Expected outcomes come from the table in `server.services.permissions`; this test checks
that every use case applies it, with 404 wherever the person may not know the thing exists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Context
from server.services import communities, feeds, posts
from server.services.permissions import STANDINGS, VISIBILITIES, Action, allowed, can_assign_role
from server.storage import communities as community_store
from server.storage.models import User
from server.storage.social import Membership
from tests.social.helpers import attempt, community, person

POST_LEVEL = {Action.COMMENT, Action.REACT}


def expected(action: Action, visibility: str, who: str | None) -> str:
    if allowed(action, visibility, who):
        return "ok"
    hidden_by = Action.READ if action in POST_LEVEL else Action.SEE
    return "notfound" if not allowed(hidden_by, visibility, who) else "forbidden"


def test_the_table_hides_secret_communities_from_non_members() -> None:
    for who in (None, "pending", "banned"):
        assert not allowed(Action.SEE, "secret", who)
    assert allowed(Action.SEE, "closed", None) and not allowed(Action.READ, "closed", None)
    assert allowed(Action.COMMENT, "open", "guest") and not allowed(Action.POST, "open", "guest")
    assert not allowed(Action.LIST_MEMBERS, "open", "guest")


def test_role_assignment_rules() -> None:
    assert can_assign_role("owner", "member", "owner")
    assert can_assign_role("manager", "member", "moderator")
    assert not can_assign_role("manager", "manager", "member")
    assert not can_assign_role("manager", "member", "owner")
    assert not can_assign_role("moderator", "member", "guest")


@pytest.mark.parametrize("visibility", VISIBILITIES)
async def test_matrix(ctx: Context, visibility: str) -> None:
    owner = await person(ctx, "owner")
    place = await community(ctx, owner, f"c-{visibility}", visibility)
    async with ctx.transaction() as session:
        post = await posts.create_post(
            session, ctx, ctx.clock.now(), owner, body="Hello", communities=[place.slug]
        )
    people: dict[str | None, User] = {}
    for who in STANDINGS:
        user = await person(ctx, f"p-{who or 'none'}")
        people[who] = user
        if who is None:
            continue
        active = who in ("owner", "manager", "moderator", "member", "guest")
        async with ctx.transaction() as session:
            await community_store.add_membership(
                session,
                Membership(
                    community_id=place.id,
                    actor_id=user.actor_id,
                    role=who if active else "member",
                    state="active" if active else who,
                    created_at=ctx.clock.now(),
                    updated_at=ctx.clock.now(),
                ),
            )
    now = ctx.clock.now() + timedelta(minutes=1)
    slug = place.slug
    calls: dict[Action, Callable[[User], Callable[[AsyncSession], Awaitable[object]]]] = {
        Action.SEE: lambda u: lambda s: communities.access(s, slug, u),
        Action.READ: lambda u: lambda s: feeds.community_feed(s, now, u, slug),
        Action.LIST_MEMBERS: lambda u: lambda s: communities.members(s, u, slug),
        Action.JOIN: lambda u: lambda s: communities.join(s, ctx, now, u, slug),
        Action.POST: lambda u: lambda s: posts.create_post(s, ctx, now, u, body="Hi", communities=[slug]),
        Action.COMMENT: lambda u: (
            lambda s: posts.create_comment(s, ctx, now, u, parent_id=post.id, body="Hi")
        ),
        Action.REACT: lambda u: lambda s: posts.react(s, ctx, now, u, post.id, "like"),
        Action.MODERATE: lambda u: lambda s: posts.pin(s, u, post.id, slug, pinned=True),
        Action.MANAGE: lambda u: lambda s: communities.update_community(s, now, u, slug, description="New"),
    }
    mismatches = []
    for who, user in people.items():
        for action, make in calls.items():
            got = await attempt(ctx, make(user))
            want = expected(action, visibility, who)
            if got != want:
                mismatches.append(f"{visibility}/{who}/{action.value}: got {got}, expected {want}")
    assert mismatches == []


async def test_secret_community_is_absent_from_the_directory_for_non_members(ctx: Context) -> None:
    owner, outsider = await person(ctx, "owner"), await person(ctx, "outsider")
    await community(ctx, owner, "hidden-project", "secret")
    await community(ctx, owner, "open-project", "open")
    async with ctx.sessions() as session:
        seen_by_outsider = [c.slug for c in await communities.directory(session, outsider)]
        seen_by_owner = [c.slug for c in await communities.directory(session, owner)]
    assert seen_by_outsider == ["open-project"]
    assert sorted(seen_by_owner) == ["hidden-project", "open-project"]
