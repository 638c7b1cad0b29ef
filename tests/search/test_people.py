"""Who knows about X: declared expertise first, activity in communities on X next, visibility respected."""

from __future__ import annotations

from typing import Any

from server.context import Context
from server.services import indexing
from server.services import search as service
from server.storage.models import User
from tests.search.helpers import add_member, community, person, set_profile, write


async def experts(ctx: Context, viewer: User, topic: str, **filters: Any) -> list[str]:
    async with ctx.sessions() as session:
        found = await service.who_knows(session, ctx.clock.now(), ctx.charter, viewer, topic=topic, **filters)
    return [item["person"]["username"] for item in found["items"]]


async def test_expertise_then_activity_in_communities_on_the_subject(ctx: Context) -> None:
    ada, bob, cyd, dan, eve = [await person(ctx, n) for n in ("ada", "bob", "cyd", "dan", "eve")]
    await set_profile(ctx, ada, expertise=["Kubernetes", "networking"], department="Platform")
    await set_profile(ctx, bob, expertise=["kubernetes"], department="Sales")
    await set_profile(ctx, dan, expertise=["kubernetes"], visibility={"expertise": "nobody"})
    place = await community(ctx, cyd, "k8s")
    place.tags = ["kubernetes"]
    async with ctx.transaction() as session:
        merged = await session.merge(place)
        await indexing.index_community(session, merged)
    await add_member(ctx, place, bob)
    for n in range(3):
        await write(ctx, cyd, f"Cluster upgrade notes {n}", places=["k8s"])
    await write(ctx, bob, "Helm chart review", places=["k8s"])

    ranked = await experts(ctx, eve, "kubernetes")
    assert ranked[:2] == ["bob", "ada"] and ranked[2] == "cyd"  # bob: expertise and activity
    assert "dan" not in ranked  # his expertise is hidden from colleagues
    assert await experts(ctx, eve, "kubernetes", department="platform") == ["ada"]


async def test_a_secret_community_does_not_make_anyone_an_expert(ctx: Context) -> None:
    ada, eve = await person(ctx, "ada"), await person(ctx, "eve")
    place = await community(ctx, ada, "takeover", visibility="secret")
    place.description = "Acquisition of Initech"
    async with ctx.transaction() as session:
        await indexing.index_community(session, await session.merge(place))
    await write(ctx, ada, "Initech due diligence", places=["takeover"])
    assert await experts(ctx, eve, "initech") == []
    assert await experts(ctx, ada, "initech") == ["ada"]
