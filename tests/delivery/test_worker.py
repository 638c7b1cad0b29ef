"""The delivery worker against a fake peer at the sending interface, with a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select

from server.clock import FakeClock
from server.context import Context
from server.delivery.worker import DeliveryWorker, SendResult
from server.storage import delivery as store
from server.storage.delivery_models import Delivery, DeliveryStream, PeerHealth
from tests.social.helpers import person


class Peer:
    """Answers like a peer inbox would, and remembers what reached it and when."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.received: dict[str, list[str]] = defaultdict(list)
        self.attempts: list[tuple[datetime, str]] = []
        self.answer: int | None = 202
        self.retry_after: str | None = None

    async def __call__(self, row: Delivery) -> SendResult:
        self.attempts.append((self.clock.now(), row.activity_uri))
        if self.answer is None:
            return SendResult(status=None, error="ConnectError: connection refused")
        if 200 <= self.answer < 300:
            self.received[row.destination].append(row.activity_uri)
        return SendResult(status=self.answer, retry_after=self.retry_after)


async def enqueue(ctx: Context, signer_id: int, destination: str, count: int, prefix: str = "a") -> list[str]:
    uris = [f"https://paris.example/activities/{prefix}{i}" for i in range(count)]
    async with ctx.transaction() as session:
        await store.enqueue(
            session,
            ctx.clock.now(),
            [
                Delivery(
                    destination=destination,
                    peer_domain=destination.split("/")[2],
                    activity_uri=uri,
                    payload={"id": uri, "type": "Create"},
                    signer_actor_id=signer_id,
                    state="pending",
                    attempts=0,
                    created_at=ctx.clock.now(),
                )
                for uri in uris
            ],
        )
    return uris


async def next_due(ctx: Context) -> datetime | None:
    async with ctx.sessions() as session:
        rows = (
            (await session.execute(select(DeliveryStream).where(DeliveryStream.pending > 0))).scalars().all()
        )
    return min((r.next_attempt_at for r in rows), default=None)


async def signer(ctx: Context) -> int:
    user = await person(ctx, "ada")
    assert user.actor_id is not None
    return user.actor_id


async def test_each_destination_gets_its_activities_in_order(ctx: Context, clock: FakeClock) -> None:
    me = await signer(ctx)
    peer = Peer(clock)
    a = await enqueue(ctx, me, "https://munich.example/inbox", 5, "m")
    b = await enqueue(ctx, me, "https://chicago.example/inbox", 3, "c")
    observed: list[tuple[str, str, float]] = []
    worker = DeliveryWorker(ctx, peer, rng=random.Random(1), observe=lambda *args: observed.append(args))
    assert await worker.run_once() == 8
    assert peer.received == {"https://munich.example/inbox": a, "https://chicago.example/inbox": b}
    assert (
        sorted((d, o) for d, o, _ in observed)
        == [("chicago.example", "delivered")] * 3 + [("munich.example", "delivered")] * 5
    )
    assert await worker.run_once() == 0
    async with ctx.sessions() as session:
        assert await store.pending_count(session) == 0
        states = {(d.state, d.attempts) for d in (await session.execute(select(Delivery))).scalars()}
    assert states == {("delivered", 1)}


async def test_a_peer_down_for_two_hours_gets_everything_in_order(ctx: Context, clock: FakeClock) -> None:
    me = await signer(ctx)
    peer = Peer(clock)
    peer.answer = None
    destination = "https://munich.example/inbox"
    sent = await enqueue(ctx, me, destination, 4)
    worker = DeliveryWorker(ctx, peer, rng=random.Random(3))
    back_at = clock.now() + timedelta(hours=2)
    while (due := await next_due(ctx)) is not None:
        if due > clock.now():
            clock.advance(due - clock.now())
        if clock.now() >= back_at:
            peer.answer = 202
        await worker.run_once()
        sent += await enqueue(ctx, me, destination, 1, f"late{len(sent)}") if len(sent) < 6 else []
    assert peer.received[destination] == sent
    failed_times = [t for t, _ in peer.attempts if t < back_at]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(failed_times)]
    assert len(gaps) >= 5
    for failures, gap in enumerate(gaps, start=1):
        ceiling = min(30 * 2 ** (failures - 1), 3600)
        assert gap >= ceiling / 2, (failures, gap)
    first_success = next(t for t, _ in peer.attempts if t >= back_at)
    assert first_success - back_at <= timedelta(hours=1)
    async with ctx.sessions() as session:
        health = await session.get(PeerHealth, "munich.example")
    assert health is not None and health.consecutive_failures == 0 and health.delivered == 6


async def test_retry_after_is_honoured(ctx: Context, clock: FakeClock) -> None:
    me = await signer(ctx)
    peer = Peer(clock)
    peer.answer, peer.retry_after = 429, "600"
    await enqueue(ctx, me, "https://munich.example/inbox", 1)
    worker = DeliveryWorker(ctx, peer, rng=random.Random(1))
    await worker.run_once()
    due = await next_due(ctx)
    assert due == clock.now() + timedelta(seconds=600)
    clock.advance(timedelta(seconds=599))
    assert await worker.run_once() == 0
    peer.answer = 202
    clock.advance(timedelta(seconds=1))
    assert await worker.run_once() == 1


async def test_a_refusal_is_given_up_and_the_stream_goes_on(ctx: Context, clock: FakeClock) -> None:
    me = await signer(ctx)
    refused_once = {"done": False}
    peer = Peer(clock)

    async def picky(row: Delivery) -> SendResult:
        if not refused_once["done"]:
            refused_once["done"] = True
            return SendResult(status=410)
        return await peer(row)

    uris = await enqueue(ctx, me, "https://munich.example/inbox", 3)
    await DeliveryWorker(ctx, picky, rng=random.Random(1)).run_once()
    assert peer.received["https://munich.example/inbox"] == uris[1:]
    async with ctx.sessions() as session:
        first = (await session.execute(select(Delivery).order_by(Delivery.id))).scalars().first()
    assert first is not None and first.state == "given_up" and first.last_status == 410


async def test_an_unreachable_peer_is_given_up_after_the_configured_time(
    ctx: Context, clock: FakeClock
) -> None:
    me = await signer(ctx)
    peer = Peer(clock)
    peer.answer = 503
    await enqueue(ctx, me, "https://gone.example/inbox", 2)
    worker = DeliveryWorker(ctx, peer, rng=random.Random(5), unreachable_after=timedelta(hours=6))
    while (due := await next_due(ctx)) is not None:
        clock.advance(max(due - clock.now(), timedelta(0)))
        await worker.run_once()
    async with ctx.sessions() as session:
        rows = (await session.execute(select(Delivery))).scalars().all()
        health = await session.get(PeerHealth, "gone.example")
    assert {r.state for r in rows} == {"given_up"}
    assert health is not None and health.unreachable_since is not None
    assert clock.now() - health.unreachable_since >= timedelta(hours=6)


async def test_two_workers_on_postgresql_never_send_a_delivery_twice(pg_url: str, tmp_path: object) -> None:
    from pathlib import Path

    from server.context import build_context
    from tests.conftest import make_settings

    assert isinstance(tmp_path, Path)
    settings = make_settings(pg_url, tmp_path)
    ctx = build_context(settings)
    try:
        me = await signer(ctx)
        for n in range(20):
            await enqueue(ctx, me, f"https://peer{n}.example/inbox", 10, f"p{n}-")
        seen: dict[str, int] = defaultdict(int)

        async def slow_peer(row: Delivery) -> SendResult:
            seen[row.activity_uri] += 1
            await asyncio.sleep(0.001)
            return SendResult(status=202)

        workers = [DeliveryWorker(ctx, slow_peer, parallel_streams=3, rows_per_stream=4) for _ in range(2)]

        async def drain(worker: DeliveryWorker) -> None:
            for _ in range(200):
                await worker.run_once()

        await asyncio.gather(*(drain(w) for w in workers))
        assert len(seen) == 200
        assert set(seen.values()) == {1}
    finally:
        await ctx.close()


async def test_answers_are_written_in_batches_and_an_unwritten_batch_is_sent_again(
    ctx: Context, clock: FakeClock
) -> None:
    """A worker that dies mid-stream loses only the answers of the batch it had not written yet."""
    me = await signer(ctx)
    uris = await enqueue(ctx, me, "https://munich.example/inbox", 25, "k")
    peer = Peer(clock)

    async def dies_at_the_twelfth(row: Delivery) -> SendResult:
        if len(peer.attempts) == 11:
            raise asyncio.CancelledError  # what a killed process looks like from inside
        return await peer(row)

    worker = DeliveryWorker(ctx, dies_at_the_twelfth, rng=random.Random(1), batch_size=5)
    with contextlib.suppress(asyncio.CancelledError):
        await worker.run_once()
    async with ctx.sessions() as session:
        states = [d.state for d in (await session.execute(select(Delivery).order_by(Delivery.id))).scalars()]
        stream = await session.get(DeliveryStream, "https://munich.example/inbox")
    assert states == ["delivered"] * 10 + ["pending"] * 15  # two batches of 5 written, the 11th lost
    assert stream is not None and stream.pending == 15 and stream.leased_until is not None

    clock.advance(timedelta(seconds=ctx.settings.delivery_lease_seconds + 1))  # the lease runs out
    assert await DeliveryWorker(ctx, peer, rng=random.Random(1), batch_size=5).run_once() == 15
    assert peer.received["https://munich.example/inbox"] == uris[:11] + uris[10:]  # the 11th twice
    async with ctx.sessions() as session:
        assert await store.pending_count(session) == 0
        health = await session.get(PeerHealth, "munich.example")
    assert health is not None and health.delivered == 25


async def test_an_answer_counts_for_a_peer_without_a_health_row_yet(ctx: Context, clock: FakeClock) -> None:
    async with ctx.transaction() as session:
        await store.peer_answered(session, "new.example", delivered=3, now=clock.now())
        await store.peer_answered(session, "new.example", delivered=2, now=clock.now())
    async with ctx.sessions() as session:
        health = await session.get(PeerHealth, "new.example")
    assert health is not None and health.delivered == 5 and health.last_success_at == clock.now()
