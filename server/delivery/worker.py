"""The delivery worker: sends queued activities to peer inboxes, in order, with retries.

How it works. Deliveries are rows written in the same transaction as the content they carry
(see `server.storage.delivery.enqueue`), grouped into one *stream* per destination inbox.
A worker claims due streams by taking a short lease on them (on PostgreSQL with
`FOR UPDATE SKIP LOCKED`, so any number of worker processes share the work and never hold
the same stream), then sends each stream's pending rows one after another, oldest first:
order is kept per destination, and streams run in parallel up to `parallel_streams`.

Each answer is classified by the one table in `server.delivery.outcomes`. Answers that finish a
row (delivered, or refused for good) are written in batches: one transaction per `batch_size`
answers, or sooner once a third of the lease (`delivery_lease_seconds`) has passed, which also
renews the lease. So a killed worker loses at most one batch of answers: another worker takes the
stream when the lease runs out and sends those rows again, and receivers dedupe by activity id.
A failed attempt stops the stream and schedules it again: after the
peer's `Retry-After`, or after an exponential backoff with jitter. Failures also count
against the peer: past `CIRCUIT_THRESHOLD` in a row the circuit opens and no stream to
that peer is tried until it closes; a stream failing for longer than the configured
`unreachable_after` gives up its rows (recorded) and marks the peer unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Context
from server.delivery.outcomes import Next, backoff, classify
from server.storage import delivery as store
from server.storage.delivery import PendingDelivery

logger = logging.getLogger(__name__)

CIRCUIT_THRESHOLD = 5


@dataclass(frozen=True)
class SendResult:
    status: int | None
    retry_after: str | None = None
    error: str | None = None


Sender = Callable[[PendingDelivery], Awaitable[SendResult]]
# (peer domain, outcome, seconds since the delivery was queued): feeds the Prometheus metrics.
Observer = Callable[[str, str, float], None]


class DeliveryWorker:
    def __init__(
        self,
        ctx: Context,
        send: Sender,
        *,
        rng: random.Random | None = None,
        parallel_streams: int = 32,
        rows_per_stream: int = 100,
        batch_size: int = 50,
        lease: timedelta | None = None,
        unreachable_after: timedelta | None = None,
        observe: Observer | None = None,
    ) -> None:
        self.ctx = ctx
        self.send = send
        self.rng = rng or random.Random()
        self.parallel_streams = parallel_streams
        self.rows_per_stream = rows_per_stream
        self.batch_size = batch_size
        self.lease = lease or timedelta(seconds=ctx.settings.delivery_lease_seconds)
        self.unreachable_after = unreachable_after or timedelta(
            hours=ctx.settings.peer_unreachable_after_hours
        )
        self.observe = observe

    async def run_once(self) -> int:
        """Claim the due streams and work them; returns the number of attempts made."""
        now = self.ctx.clock.now()
        async with self.ctx.transaction() as session:
            streams = await store.claim_streams(session, now, limit=self.parallel_streams, lease=self.lease)
            claimed = [(s.destination, s.peer_domain, s.failures, s.first_failure_at) for s in streams]
        if not claimed:
            return 0
        counts = await asyncio.gather(*(self._work(*stream) for stream in claimed))
        return sum(counts)

    async def run_forever(self, stop: asyncio.Event, *, idle_seconds: float = 0.5) -> None:
        while not stop.is_set():
            try:
                attempts = await self.run_once()
            except Exception:  # a bug or a database hiccup must not end the worker
                logger.exception("delivery round failed")
                attempts = 0
            if attempts == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle_seconds)

    async def _work(
        self, destination: str, domain: str, failures: int, first_failure_at: datetime | None
    ) -> int:
        now = self.ctx.clock.now()
        async with self.ctx.transaction() as session:
            health = await store.get_peer_health(session, domain)
            circuit = health.circuit_open_until
            rows = (
                []
                if circuit and circuit > now
                else await store.pending_deliveries(session, destination, limit=self.rows_per_stream)
            )
        if circuit and circuit > now:
            async with self.ctx.transaction() as session:
                await store.release_stream(
                    session,
                    destination,
                    next_attempt_at=circuit,
                    failures=failures,
                    first_failure_at=first_failure_at,
                )
            return 0
        answered = _Answered(started=now)
        attempts = 0
        next_attempt = now
        for row in rows:
            attempts += 1
            result = await self._send(row)
            now = self.ctx.clock.now()
            outcome = classify(result.status, result.retry_after, now=now)
            if self.observe is not None:  # latency: from the moment the content was written
                self.observe(domain, outcome.next.value, (now - row.created_at).total_seconds())
            if outcome.next in (Next.DELIVERED, Next.GIVE_UP):
                answered.add(row.id, outcome.next is Next.DELIVERED, now, result)
                failures, first_failure_at = 0, None
                if outcome.next is Next.GIVE_UP:
                    logger.warning(
                        "delivery %s to %s refused with %s: given up", row.id, domain, result.status
                    )
                if len(answered.rows) >= self.batch_size or now - answered.started >= self.lease / 3:
                    async with self.ctx.transaction() as session:
                        await self._record(session, destination, domain, answered, now)
                    answered = _Answered(started=now)
                continue
            failures += 1
            first_failure_at = first_failure_at or now
            delay = outcome.retry_after if outcome.next is Next.RETRY_AFTER and outcome.retry_after else None
            next_attempt = now + (delay or backoff(failures, self.rng))
            logger.info(
                "delivery to %s failed (%s, attempt %s); next try at %s",
                domain,
                result.status or result.error,
                failures,
                next_attempt.isoformat(),
            )
            async with self.ctx.transaction() as session:
                await self._record(session, destination, domain, answered, now)
                answered = _Answered(started=now)
                await store.record_failed_attempt(session, row.id, status=result.status, error=result.error)
                await self._peer_failed(session, domain, now)
                if now - first_failure_at >= self.unreachable_after:
                    given_up = await store.give_up_stream(
                        session, destination, error=f"unreachable since {first_failure_at.isoformat()}"
                    )
                    health = await store.get_peer_health(session, domain)
                    health.unreachable_since = health.unreachable_since or first_failure_at
                    logger.warning("peer %s unreachable: %s deliveries given up", domain, given_up)
                    failures, first_failure_at = 0, None
            break
        async with self.ctx.transaction() as session:
            await self._record(session, destination, domain, answered, now)
            await store.release_stream(
                session,
                destination,
                next_attempt_at=next_attempt,
                failures=failures,
                first_failure_at=first_failure_at,
            )
        return attempts

    async def _record(
        self, session: AsyncSession, destination: str, domain: str, answered: _Answered, now: datetime
    ) -> None:
        """Write the answers gathered so far in one go; this also renews the stream's lease."""
        if not answered.rows:
            return
        await store.finish_deliveries(session, destination, answered.rows, lease_until=now + self.lease)
        delivered = sum(item.delivered for item in answered.rows)
        await store.peer_answered(session, domain, delivered=delivered, now=now)

    async def _send(self, row: PendingDelivery) -> SendResult:
        try:
            return await self.send(row)
        except Exception as exc:  # any failure to get an answer is a network failure for the table
            return SendResult(status=None, error=f"{type(exc).__name__}: {exc}"[:500])

    async def _peer_failed(self, session: AsyncSession, domain: str, now: datetime) -> None:
        """Count a failure against the peer; past `CIRCUIT_THRESHOLD` in a row, open its circuit."""
        health = await store.get_peer_health(session, domain)
        health.consecutive_failures += 1
        health.failed += 1
        health.first_failure_at = health.first_failure_at or now
        if health.consecutive_failures >= CIRCUIT_THRESHOLD:
            health.circuit_open_until = now + backoff(
                health.consecutive_failures - CIRCUIT_THRESHOLD + 1, self.rng
            )


@dataclass
class _Answered:
    """Answers not yet written: the worker records them in batches, not one transaction each."""

    started: datetime
    rows: list[store.Finished] = field(default_factory=list)

    def add(self, delivery_id: int, delivered: bool, at: datetime, result: SendResult) -> None:
        self.rows.append(store.Finished(delivery_id, delivered, at, result.status, result.error))
