"""Who may report and who may open the queue: every standing × visibility, through the real services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Context
from server.services import moderation, posts
from server.services.permissions import STANDINGS, VISIBILITIES, Action, allowed
from server.storage import communities as community_store
from server.storage.models import User
from server.storage.social import Membership
from tests.social.helpers import attempt, community, person


def expected(action: Action, visibility: str, who: str | None) -> str:
    if allowed(action, visibility, who):
        return "ok"
    hidden_by = Action.READ if action is Action.REPORT else Action.SEE
    return "notfound" if not allowed(hidden_by, visibility, who) else "forbidden"


def test_reporting_is_for_participants_and_the_queue_for_moderators() -> None:
    for visibility in VISIBILITIES:
        assert allowed(Action.REPORT, visibility, "guest") and allowed(Action.REPORT, visibility, "member")
        assert not allowed(Action.REPORT, visibility, "banned") and not allowed(
            Action.REPORT, visibility, None
        )
        assert allowed(Action.MODERATE, visibility, "moderator")
        assert not allowed(Action.MODERATE, visibility, "member")


@pytest.mark.parametrize("visibility", VISIBILITIES)
async def test_matrix(ctx: Context, visibility: str) -> None:
    owner = await person(ctx, "owner")
    place = await community(ctx, owner, f"c-{visibility}", visibility)
    writer = await person(ctx, "writer")
    async with ctx.transaction() as session:
        await community_store.add_membership(
            session,
            Membership(
                community_id=place.id,
                actor_id=writer.actor_id,
                role="member",
                state="active",
                created_at=ctx.clock.now(),
                updated_at=ctx.clock.now(),
            ),
        )
    async with ctx.transaction() as session:
        post = await posts.create_post(
            session, ctx, ctx.clock.now(), writer, body="Hi", communities=[place.slug]
        )
    people: dict[str | None, User] = {}
    for who in STANDINGS:
        user = await person(ctx, f"p-{who or 'none'}")
        people[who] = user
        if who is None or who == "owner":
            continue
        active = who in ("manager", "moderator", "member", "guest")
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
    people["owner"] = owner
    now = ctx.clock.now()
    calls: dict[Action, Callable[[User], Callable[[AsyncSession], Awaitable[object]]]] = {
        Action.REPORT: lambda u: lambda s: moderation.report(s, ctx, now, u, post.id, category="spam"),
        Action.MODERATE: lambda u: lambda s: moderation.queue(s, u, place.slug),
    }
    mismatches = []
    for who, user in people.items():
        for action, make in calls.items():
            got = await attempt(ctx, make(user))
            want = expected(action, visibility, who)
            if got != want:
                mismatches.append(f"{visibility}/{who}/{action.value}: got {got}, expected {want}")
    assert mismatches == []
