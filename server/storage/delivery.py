"""Storage verbs of the delivery queue: enqueue with the content, claim streams, record outcomes."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Integer, String, Table, Text, bindparam, func, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.delivery_models import Delivery, DeliveryStream, PeerHealth
from server.storage.social import Post


async def enqueue(session: AsyncSession, now: datetime, rows: Sequence[Delivery]) -> None:
    """Add deliveries in the caller's transaction (the one that writes the content they carry)."""
    if not rows:
        return
    session.add_all(rows)
    await _count_into_streams(session, now, rows)


async def _count_into_streams(session: AsyncSession, now: datetime, rows: Sequence[Delivery]) -> None:
    per_stream = Counter(row.destination for row in rows)
    domains = {row.destination: row.peer_domain for row in rows}
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    for destination, count in per_stream.items():
        statement = insert(DeliveryStream).values(
            destination=destination,
            peer_domain=domains[destination],
            next_attempt_at=now,
            failures=0,
            pending=count,
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["destination"],
                set_={"pending": DeliveryStream.pending + statement.excluded.pending},
            )
        )
    await session.flush()


async def release_awaiting_consent(
    session: AsyncSession, now: datetime, author_actor_id: int, domains: Sequence[str]
) -> int:
    """Deliveries about this person (their posts, or signed by them) waiting for a consent become pending."""
    if not domains:
        return 0
    query = (
        select(Delivery)
        .outerjoin(Post, Post.id == Delivery.post_id)
        .where(
            Delivery.state == "awaiting_consent",
            or_(Post.author_id == author_actor_id, Delivery.signer_actor_id == author_actor_id),
            Delivery.peer_domain.in_(set(domains)),
        )
        .order_by(Delivery.id)
    )
    rows = list((await session.execute(query)).scalars())
    for row in rows:
        row.state = "pending"
    await session.flush()
    await _count_into_streams(session, now, rows)
    return len(rows)


async def claim_streams(
    session: AsyncSession, now: datetime, *, limit: int, lease: timedelta
) -> list[DeliveryStream]:
    """Due streams with work, leased to the caller; on PostgreSQL, rows locked by others are skipped."""
    query = (
        select(DeliveryStream)
        .where(
            DeliveryStream.pending > 0,
            DeliveryStream.next_attempt_at <= now,
            or_(DeliveryStream.leased_until.is_(None), DeliveryStream.leased_until < now),
        )
        .order_by(DeliveryStream.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    streams = list((await session.execute(query)).scalars())
    for stream in streams:
        stream.leased_until = now + lease
    await session.flush()
    return streams


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """A pending delivery as the worker needs it, read with the Core: no ORM identity map, no JSON decoding.

    `payload_json` is the payload as stored; the sender encodes what it sends from it (once per distinct
    payload, where an activity goes to many inboxes).
    """

    id: int
    destination: str
    peer_domain: str
    activity_uri: str
    signer_actor_id: int
    created_at: datetime
    payload_json: str

    @property
    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.payload_json)
        return loaded


_DELIVERIES = cast(Table, Delivery.__table__)
_PENDING = select(
    _DELIVERIES.c.id,
    _DELIVERIES.c.destination,
    _DELIVERIES.c.peer_domain,
    _DELIVERIES.c.activity_uri,
    _DELIVERIES.c.signer_actor_id,
    _DELIVERIES.c.created_at,
    sql_cast(_DELIVERIES.c.payload, Text),  # the stored text, undecoded (PostgreSQL json keeps it as sent)
).where(_DELIVERIES.c.destination == bindparam("destination"), _DELIVERIES.c.state == "pending")


async def pending_deliveries(session: AsyncSession, destination: str, *, limit: int) -> list[PendingDelivery]:
    """The stream's pending rows, oldest first."""
    query = _PENDING.order_by(_DELIVERIES.c.id).limit(limit)
    result = await session.execute(query, {"destination": destination})
    return [PendingDelivery(*row) for row in result]


@dataclass(frozen=True)
class Finished:
    """A delivery the peer answered for good: delivered (2xx) or given up (a refusal)."""

    delivery_id: int
    delivered: bool
    at: datetime
    status: int | None
    error: str | None


_FINISH = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id == bindparam("row_id"), _DELIVERIES.c.state == "pending")
    .values(
        state=bindparam("new_state"),
        last_status=bindparam("status"),
        last_error=bindparam("error"),
        delivered_at=bindparam("at"),
        attempts=_DELIVERIES.c.attempts + 1,
    )
)


async def finish_deliveries(
    session: AsyncSession, destination: str, finished: Sequence[Finished], *, lease_until: datetime
) -> None:
    """Record a batch of answers in one statement, recount the stream, and renew its lease.

    A row is only finished while still pending (a worker whose lease ran out may answer late);
    the stream's `pending` count is taken again from the rows, so it can never drift.
    """
    if finished:
        await session.execute(
            _FINISH,
            [
                {
                    "row_id": item.delivery_id,
                    "new_state": "delivered" if item.delivered else "given_up",
                    "status": item.status,
                    "error": item.error,
                    "at": item.at if item.delivered else None,
                }
                for item in finished
            ],
        )
    await session.execute(_RECOUNT, {"stream": destination, "lease_until": lease_until})


_STREAMS = cast(Table, DeliveryStream.__table__)
_STREAM = bindparam("stream", type_=String)
_RECOUNT = (
    update(_STREAMS)
    .where(_STREAMS.c.destination == _STREAM)
    .values(
        pending=select(func.count())
        .select_from(_DELIVERIES)
        .where(_DELIVERIES.c.destination == _STREAM, _DELIVERIES.c.state == "pending")
        .scalar_subquery(),
        leased_until=bindparam("lease_until"),
    )
)


async def record_failed_attempt(
    session: AsyncSession, delivery_id: int, *, status: int | None, error: str | None
) -> None:
    row = await session.get(Delivery, delivery_id)
    if row is not None:
        row.attempts += 1
        row.last_status, row.last_error = status, error


async def give_up_stream(session: AsyncSession, destination: str, *, error: str) -> int:
    result = await session.execute(
        update(Delivery)
        .where(Delivery.destination == destination, Delivery.state == "pending")
        .values(state="given_up", last_error=error)
    )
    await session.execute(
        update(DeliveryStream).where(DeliveryStream.destination == destination).values(pending=0)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def release_stream(
    session: AsyncSession,
    destination: str,
    *,
    next_attempt_at: datetime,
    failures: int,
    first_failure_at: datetime | None,
) -> None:
    await session.execute(
        _RELEASE,
        {
            "stream": destination,
            "next_attempt": next_attempt_at,
            "failures_now": failures,
            "failing_since": first_failure_at,
        },
    )


_RELEASE = (
    update(_STREAMS)
    .where(_STREAMS.c.destination == _STREAM)
    .values(
        leased_until=None,
        next_attempt_at=bindparam("next_attempt"),
        failures=bindparam("failures_now"),
        first_failure_at=bindparam("failing_since"),
    )
)


async def get_peer_health(session: AsyncSession, domain: str) -> PeerHealth:
    """The peer's health row, made on first use (streams to one peer run in parallel: insert-or-ignore)."""
    health = await session.get(PeerHealth, domain)
    if health is None:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        await session.execute(
            insert(PeerHealth)
            .values(domain=domain, consecutive_failures=0, delivered=0, failed=0)
            .on_conflict_do_nothing(index_elements=["domain"])
        )
        health = await session.get(PeerHealth, domain, populate_existing=True)
        assert health is not None
    return health


_HEALTH = cast(Table, PeerHealth.__table__)


async def peer_answered(session: AsyncSession, domain: str, *, delivered: int, now: datetime) -> None:
    """The peer answered: its failures are forgotten, its circuit closed, `delivered` added to its count.

    One statement, whose addition is done by the database: streams to one peer write concurrently.
    """
    values = {"peer": domain, "now": now, "more": delivered}
    if int(getattr(await session.execute(_ANSWERED, values), "rowcount", 0) or 0) == 0:
        await get_peer_health(session, domain)  # not made yet: make it, then count
        await session.execute(_ANSWERED, values)


_ANSWERED = (
    update(_HEALTH)
    .where(_HEALTH.c.domain == bindparam("peer"))
    .values(
        consecutive_failures=0,
        circuit_open_until=None,
        first_failure_at=None,
        unreachable_since=None,
        last_success_at=bindparam("now"),
        delivered=_HEALTH.c.delivered + bindparam("more", type_=Integer),
    )
)


async def lineage(session: AsyncSession, post_id: int) -> Sequence[Delivery]:
    """Every delivery about this post: to which instance, when, in what state, under which article."""
    query = select(Delivery).where(Delivery.post_id == post_id).order_by(Delivery.id)
    return (await session.execute(query)).scalars().all()


async def queue_summary(session: AsyncSession) -> list[tuple[str, str, int]]:
    """(peer_domain, state, count) for the whole queue."""
    query = select(Delivery.peer_domain, Delivery.state, func.count()).group_by(
        Delivery.peer_domain, Delivery.state
    )
    return [(row[0], row[1], int(row[2])) for row in (await session.execute(query)).all()]


async def all_peer_health(session: AsyncSession) -> Sequence[PeerHealth]:
    return (await session.execute(select(PeerHealth).order_by(PeerHealth.domain))).scalars().all()


async def pending_count(session: AsyncSession) -> int:
    query = select(func.count()).where(Delivery.state == "pending")
    return int((await session.execute(query)).scalar_one())
