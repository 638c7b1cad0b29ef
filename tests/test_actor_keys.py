"""An actor's key pairs are made on first use, once, even when two requests ask at the same moment."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from server.context import Context
from server.services.actors import create_local_person, stored_keys
from server.storage.social import ActorKey
from tests.web.test_mentions_web import remote_person


async def test_two_requests_making_the_first_keys_at_once_get_the_same_keys(ctx: Context) -> None:
    async with ctx.transaction() as session:
        actor = await create_local_person(
            session, ctx.settings, ctx.clock.now(), username="pierre", display_name="Pierre"
        )
    first, second = await asyncio.gather(stored_keys(ctx, actor.id), stored_keys(ctx, actor.id))
    assert sorted(first) == sorted(second) == ["ed25519", "rsa"]
    for algorithm in ("rsa", "ed25519"):
        assert first[algorithm].public_pem == second[algorithm].public_pem
    async with ctx.sessions() as session:
        stored = (await session.execute(select(func.count()).select_from(ActorKey))).scalar_one()
    assert stored == 2
    assert (await stored_keys(ctx, actor.id))["rsa"].public_pem == first["rsa"].public_pem


async def test_no_keys_are_made_for_a_remote_actor(ctx: Context) -> None:
    alice = await remote_person(ctx, "alice", "Alice")
    with pytest.raises(LookupError):
        await stored_keys(ctx, alice.id)
