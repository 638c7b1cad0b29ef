"""Fan-out: one post into a community with members on N peer instances, until every instance has it.

    python bench/fanout.py                     # SQLite, N = 3, 10, 30, 20 posts each, 2,000 deliveries
    python bench/fanout.py --quick             # a short run (about 40 s)
    python bench/fanout.py --db postgresql     # same on a throwaway PostgreSQL cluster (tests/pg.py)
    python bench/fanout.py --profile           # where a worker's time goes: bookkeeping, HTTP, signing

The receivers are one subprocess (`bench/fanout_receivers.py`) running 30 uvicorn servers on free ports
of 127.0.0.1, each an honest shared inbox that answers 202 and reports the arrival time of each activity
(CLOCK_MONOTONIC, shared with this process). The sending instance is a Cercle database (charter "us",
which lets content go anywhere) with the 30 receivers configured as peers (jurisdiction US, scheme http),
one local author, communities `fan3`, `fan10` and `fan30`, and two remote members per instance (Actor
rows with active memberships, inserted directly: this measures delivery, not joining). Posts go through
`server.services.posts.create_post`, so the deliveries are enqueued by the real outbox in the post's
transaction. One `DeliveryWorker` with the real `DeliverySender` does the sending, in this process's
event loop, on uvloop as `cercle worker` runs it (without the inbox and mail loops).

Measured, in one run:

1. Post to arrival: the time from the post's commit until every member instance has it, p50/p99 over
   `--posts` posts per N, twice: with the worker polling as deployed (`run_forever`, which sleeps
   0.5 s when a round found nothing), and with the worker woken at commit (`run_once` right after it:
   what a wake-up from the enqueuing transaction would give). Receivers verify signatures here.
2. Deliveries per second from one worker: `--deliveries` deliveries (posts into `fan<--rate-n>`)
   enqueued first, then timed until the queue is empty; with the peers' `signature` set to "rfc9421"
   (Ed25519) and then "cavage" (RSA-2048), each with the receivers verifying signatures and not.
3. The baseline, in the same run: a bare client (httpx on the aiohttp transport the instance's client
   uses; the worker posts on that transport's aiohttp session) POSTing the same payloads, unsigned, to
   the same receivers with the same concurrency (one request in flight per destination, like the
   worker's streams), no queue, no database.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from sqlalchemy import event, select  # noqa: E402

from server.cli_support import run_loop  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.context import Context, build_context, outbound_transport  # noqa: E402
from server.delivery.worker import DeliveryWorker, SendResult  # noqa: E402
from server.federation.sender import DeliverySender  # noqa: E402
from server.federation.state import Federation  # noqa: E402
from server.services import accounts, charter, communities, posts  # noqa: E402
from server.services.actors import ensure_actor_keys  # noqa: E402
from server.storage import delivery as store  # noqa: E402
from server.storage import migrate  # noqa: E402
from server.storage.delivery import PendingDelivery  # noqa: E402
from server.storage.delivery_models import Delivery  # noqa: E402
from server.storage.engine import create_engine  # noqa: E402
from server.storage.models import User  # noqa: E402
from server.storage.social import Actor, Membership  # noqa: E402

DOMAIN = "fanout.localhost"
SIZES = (3, 10, 30)
MEMBERS_PER_INSTANCE = 2
WAIT_SECONDS = 30.0
BODY = (
    "Quarterly update from the platform team: the new build pipeline is live, median CI time is down "
    "from 14 to 9 minutes, and the flaky integration suite is quarantined. Details and the migration "
    "guide are in the wiki; questions welcome here. #platform #ci"
)


# --- the receivers -----------------------------------------------------------------------------------


@dataclass
class Receivers:
    """The receiver subprocess, and what it reports: arrival times per activity and port."""

    process: asyncio.subprocess.Process
    ports: list[int]
    arrivals: dict[str, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    count: int = 0
    failures: list[str] = field(default_factory=list)
    _waiters: dict[str, tuple[set[int], asyncio.Future[None]]] = field(default_factory=dict)
    _counted: tuple[int, asyncio.Future[None]] | None = None
    _reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, count: int, keys: Path) -> Receivers:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(REPO / "bench" / "fanout_receivers.py"),
            "--count",
            str(count),
            "--keys",
            str(keys),
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 20,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        if not line.startswith(b"READY"):
            raise RuntimeError(f"receivers did not start: {line!r}")
        receivers = cls(process, [int(p) for p in line.split()[1:]])
        receivers._reader = asyncio.create_task(receivers._read())
        return receivers

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            parts = line.decode().split()
            if parts[0] == "F":
                self.failures.append(" ".join(parts[1:]))
                continue
            if parts[0] != "A":
                continue
            port, at, outer, inner = int(parts[1]), float(parts[2]), parts[3], parts[4]
            key = inner if inner != "-" else outer
            self.arrivals[key].setdefault(port, at)
            self.count += 1
            if self._counted is not None and self.count >= self._counted[0] and not self._counted[1].done():
                self._counted[1].set_result(None)
            waiting = self._waiters.get(key)
            if waiting is not None and waiting[0] <= self.arrivals[key].keys() and not waiting[1].done():
                waiting[1].set_result(None)

    async def wait_for(self, key: str, ports: Sequence[int]) -> dict[int, float]:
        """Arrival time at each of `ports` of the activity (or the Create inside an Announce) `key`."""
        wanted = set(ports)
        if not wanted <= self.arrivals[key].keys():
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters[key] = (wanted, future)
            try:
                async with asyncio.timeout(WAIT_SECONDS):
                    await future
            finally:
                del self._waiters[key]
        return {port: self.arrivals[key][port] for port in wanted}

    async def settle(self, expected: int) -> None:
        """Wait until the reader has seen `expected` arrivals in all (lines may trail the 202s)."""
        if self.count >= expected:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._counted = (expected, future)
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                await future
        except TimeoutError:
            pass  # reported by the caller, which compares counts
        finally:
            self._counted = None

    async def set_verify(self, on: bool) -> None:
        async with httpx.AsyncClient() as client:
            await client.post(f"http://127.0.0.1:{self.ports[0]}/_verify/{int(on)}")

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            self._reader.cancel()


# --- the sending instance ----------------------------------------------------------------------------


def settings_values(workdir: Path, url: str, ports: Sequence[int], signature: str) -> dict[str, Any]:
    return {
        "domain": DOMAIN,
        "scheme": "http",
        "secret_key": secrets.token_urlsafe(48),
        "database_url": url,
        "charter": "us",
        "charter_dir": str(REPO / "charter"),
        "data_dir": str(workdir / "var"),
        "media_dir": str(workdir / "var" / "media"),
        "run_workers_in_process": False,
        "peers": [{"domain": f"127.0.0.1:{p}", "jurisdiction": "US", "signature": signature} for p in ports],
    }


@asynccontextmanager
async def instance(values: dict[str, Any], signature: str) -> AsyncIterator[Context]:
    ctx = build_context(load_settings(None, **{**values, "peers": with_signature(values, signature)}))
    try:
        yield ctx
    finally:
        await ctx.close()


def with_signature(values: dict[str, Any], signature: str) -> list[dict[str, str]]:
    return [{**peer, "signature": signature} for peer in values["peers"]]


async def seed(values: dict[str, Any], ports: Sequence[int], keys_file: Path) -> int:
    """Migrate, then add the author, the communities and the remote members; returns the author's id."""
    engine = create_engine(values["database_url"])
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    public_keys: dict[str, str] = {}
    async with instance(values, "rfc9421") as ctx, ctx.transaction() as session:
        now = ctx.clock.now()
        author = await accounts.create_user(
            session, ctx.settings, now, username="ada", email="ada@corp.example", password=None
        )
        await charter.accept_charter(session, now, ctx.charter, author, "en")
        author_id = author.id
        remote: list[Actor] = []
        for index, port in enumerate(ports):
            domain = f"127.0.0.1:{port}"
            for m in range(MEMBERS_PER_INSTANCE):
                uri = f"http://{domain}/users/m{m}"
                remote.append(
                    Actor(
                        uri=uri,
                        kind="Person",
                        local=False,
                        domain=domain,
                        username=f"m{m}",
                        display_name=f"Member {m} of peer {index}",
                        summary="",
                        inbox_url=f"{uri}/inbox",
                        shared_inbox_url=f"http://{domain}/inbox",
                        followers_url=f"{uri}/followers",
                        manually_approves=False,
                        jurisdiction="US",
                        created_at=now,
                        fetched_at=now,
                    )
                )
        session.add_all(remote)
        await session.flush()
        for n in SIZES:
            community = await communities.create_community(
                session,
                ctx.settings,
                now,
                author,
                slug=f"fan{n}",
                name=f"Fan-out {n}",
                kind="project",
                visibility="open",
            )
            for actor in remote[: n * MEMBERS_PER_INSTANCE]:
                session.add(
                    Membership(
                        community_id=community.id,
                        actor_id=actor.id,
                        role="member",
                        state="active",
                        created_at=now,
                        updated_at=now,
                    )
                )
            group = await session.get(Actor, community.actor_id)
            assert group is not None
            for key in (await ensure_actor_keys(session, group, now)).by_algorithm.values():
                public_keys[key.key_id] = key.public_pem
    keys_file.write_text(json.dumps(public_keys))  # noqa: ASYNC240 - once, before any delivery
    return author_id


async def post(ctx: Context, author_id: int, n: int, number: int) -> tuple[str, float, float]:
    """One post into `fan<n>`; returns (its Create's id, monotonic commit time, seconds in create_post)."""
    started = time.monotonic()
    async with ctx.transaction() as session:
        author = await session.get(User, author_id)
        assert author is not None
        created = await posts.create_post(
            session,
            ctx,
            ctx.clock.now(),
            author,
            body=BODY,
            title=f"Update {number}",
            communities=[f"fan{n}"],
        )
        uri = created.uri
    committed = time.monotonic()
    return f"{uri}/create", committed, committed - started


def new_worker(ctx: Context) -> tuple[DeliveryWorker, Federation]:
    federation = Federation(ctx)
    return DeliveryWorker(ctx, DeliverySender(federation)), federation


async def drain(worker: DeliveryWorker) -> int:
    total = 0
    while attempts := await worker.run_once():
        total += attempts
    return total


# --- the measurements --------------------------------------------------------------------------------


def own_cpu() -> float:
    """CPU seconds of this process, all threads (aiosqlite runs SQLite in threads of its own)."""
    times = os.times()
    return times.user + times.system


def process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Meter:
    """Wall time and the CPU time of this process and of the receivers, over one phase."""

    receivers_pid: int
    started: float = 0.0
    cpu: float = 0.0
    rx_cpu: float = 0.0

    def start(self) -> Meter:
        self.started, self.cpu, self.rx_cpu = time.monotonic(), own_cpu(), process_cpu(self.receivers_pid)
        return self

    def rate(self, label: str, deliveries: int, enqueue_seconds: float = 0.0) -> Rate:
        return Rate(
            label,
            deliveries,
            time.monotonic() - self.started,
            enqueue_seconds,
            (own_cpu() - self.cpu) / deliveries * 1000,
            (process_cpu(self.receivers_pid) - self.rx_cpu) / deliveries * 1000,
        )


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Latency:
    n: int
    mode: str
    last_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)
    commit_ms: list[float] = field(default_factory=list)


async def latency(
    values: dict[str, Any], author_id: int, receivers: Receivers, *, reps: int, woken: bool
) -> list[Latency]:
    rng = random.Random(7)
    results = []
    async with instance(values, "rfc9421") as ctx:
        worker, federation = new_worker(ctx)
        stop = asyncio.Event()
        background = None if woken else asyncio.create_task(worker.run_forever(stop))
        try:
            for n in SIZES:
                ports = receivers.ports[:n]
                result = Latency(n, "woken at commit" if woken else "polling (0.5 s idle)")
                for rep in range(reps + 1):  # the first post of each N warms connections up
                    await asyncio.sleep(rng.uniform(0, 0.5) if not woken else 0.02)
                    key, committed, spent = await post(ctx, author_id, n, rep)
                    if woken:
                        await drain(worker)
                    arrived = await receivers.wait_for(key, ports)
                    if rep == 0:
                        continue
                    result.last_ms.append((max(arrived.values()) - committed) * 1000)
                    result.first_ms.append((min(arrived.values()) - committed) * 1000)
                    result.commit_ms.append(spent * 1000)
                results.append(result)
        finally:
            stop.set()
            if background is not None:
                await background
            await federation.close()
    return results


@dataclass
class Rate:
    label: str
    deliveries: int
    seconds: float
    enqueue_seconds: float = 0.0
    cpu_ms: float = 0.0  # CPU of the sending process per delivery
    rx_cpu_ms: float = 0.0  # CPU of the receivers per delivery

    @property
    def per_second(self) -> float:
        return self.deliveries / self.seconds if self.seconds else 0.0


async def enqueue_batch(ctx: Context, author_id: int, n: int, deliveries: int) -> tuple[int, float]:
    started = time.monotonic()
    count = -(-deliveries // n)
    for number in range(count):
        await post(ctx, author_id, n, number)
    return count * n, time.monotonic() - started


async def pending_payloads(ctx: Context) -> list[tuple[str, dict[str, Any]]]:
    async with ctx.sessions() as session:
        query = (
            select(Delivery.destination, Delivery.payload)
            .where(Delivery.state == "pending")
            .order_by(Delivery.id)
        )
        return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def pending_destinations(ctx: Context) -> list[str]:
    async with ctx.sessions() as session:
        query = select(Delivery.destination).where(Delivery.state == "pending").distinct()
        return list((await session.execute(query)).scalars())


async def baseline(rows: Sequence[tuple[str, dict[str, Any]]], receivers: Receivers) -> Rate:
    """Unsigned POSTs of the same payloads: one sequential sender per destination, all at once."""
    streams: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for destination, payload in rows:
        streams[destination].append(payload)
    expected = receivers.count + len(rows)
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(10.0, connect=5.0), transport=outbound_transport()
    ) as client:

        async def one(destination: str, payloads: list[dict[str, Any]]) -> None:
            for payload in payloads:
                body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
                response = await client.post(
                    destination, content=body, headers={"Content-Type": "application/activity+json"}
                )
                assert response.status_code == 202, response.status_code

        await asyncio.gather(*(one(d, p[:1]) for d, p in streams.items()))  # connections warm
        meter = Meter(receivers.process.pid).start()
        await asyncio.gather(*(one(d, p) for d, p in streams.items()))
        rate = meter.rate("bare client (same transport), unsigned, no queue", len(rows))
    await receivers.settle(expected + len(streams))
    return rate


async def throughput(
    values: dict[str, Any],
    author_id: int,
    receivers: Receivers,
    *,
    signature: str,
    verify: bool,
    n: int,
    deliveries: int,
    with_baseline: bool = False,
    profile: bool = False,
) -> list[Rate]:
    rates = []
    await receivers.set_verify(verify)
    async with instance(values, signature) as ctx:
        worker, federation = new_worker(ctx)
        try:
            await post(ctx, author_id, n, -1)  # warm-up: keys loaded, connections open
            await drain(worker)
            enqueued, enqueue_seconds = await enqueue_batch(ctx, author_id, n, deliveries)
            if with_baseline:
                rates.append(await baseline(await pending_payloads(ctx), receivers))
            failures = len(receivers.failures)
            expected = receivers.count + enqueued
            profiler = cProfile.Profile() if profile else None
            meter = Meter(receivers.process.pid).start()
            if profiler is not None:
                profiler.enable()
            sent = await drain(worker)
            if profiler is not None:
                profiler.disable()
            algorithm = "Ed25519, RFC 9421" if signature == "rfc9421" else "RSA-2048, cavage"
            label = f"worker, {algorithm}, receivers {'verify' if verify else 'do not verify'}"
            rate = meter.rate(label, enqueued, enqueue_seconds)
            await receivers.settle(expected)
            if sent != enqueued or len(receivers.failures) != failures or receivers.count < expected:
                print(
                    f"  ! {label}: {sent} attempts for {enqueued} deliveries, "
                    f"{receivers.count - expected + enqueued} arrived, "
                    f"{len(receivers.failures) - failures} refused ({receivers.failures[-3:]})",
                    file=sys.stderr,
                )
            rates.append(rate)
            if profiler is not None:
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out)
                stats.sort_stats("tottime").print_stats(20)
                print(out.getvalue())
        finally:
            await federation.close()
    return rates


# --- where the time goes (--profile) ----------------------------------------------------------------


class Statements:
    """Counts the SQL statements and commits an engine runs."""

    def __init__(self, ctx: Context) -> None:
        self.seen: Counter[str] = Counter()
        event.listen(ctx.engine.sync_engine, "before_cursor_execute", self._statement)
        event.listen(ctx.engine.sync_engine, "commit", self._commit)

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = statement.split()
        table = words[words.index("FROM") + 1] if words[0] == "SELECT" and "FROM" in words else words[2]
        self.seen[f"{words[0]} {table}"] += 1

    def _commit(self, conn: Any) -> None:
        self.seen["COMMIT"] += 1

    def per(self, count: int) -> str:
        total = sum(v for k, v in self.seen.items() if k != "COMMIT")
        parts = ", ".join(f"{k} {v / count:.2f}" for k, v in self.seen.most_common(8))
        return f"{total / count:.1f} statements ({parts})"


async def decompose(values: dict[str, Any], author_id: int, receivers: Receivers, n: int, count: int) -> None:
    """The worker's cost split: queue bookkeeping alone, sign + HTTP alone, signing alone, profile."""
    async with instance(values, "rfc9421") as ctx:
        statements = Statements(ctx)
        federation = Federation(ctx)
        sender = DeliverySender(federation)
        await post(ctx, author_id, n, -1)
        await drain(DeliveryWorker(ctx, sender))
        statements.seen.clear()
        await post(ctx, author_id, n, -2)
        print(f"enqueue, one post to N = {n}: {statements.per(1)}")

        async def answered(row: PendingDelivery) -> SendResult:
            return SendResult(status=202)

        enqueued, _ = await enqueue_batch(ctx, author_id, n, count)
        statements.seen.clear()
        meter = Meter(receivers.process.pid).start()
        await drain(DeliveryWorker(ctx, answered))
        rate = meter.rate("", enqueued)
        print(
            f"queue bookkeeping alone (send answers 202 at once): {rate.per_second:.0f}/s, "
            f"{rate.cpu_ms:.2f} ms CPU per delivery; per delivery {statements.per(enqueued)}"
        )
        await enqueue_batch(ctx, author_id, n, count)
        streams: dict[str, list[PendingDelivery]] = {}
        async with ctx.sessions() as session:
            for destination in await pending_destinations(ctx):
                streams[destination] = await store.pending_deliveries(session, destination, limit=count)
        rows = [row for queue in streams.values() for row in queue]

        async def one(queue: list[PendingDelivery]) -> None:
            for row in queue:
                await sender(row)

        meter = Meter(receivers.process.pid).start()
        await asyncio.gather(*(one(queue) for queue in streams.values()))
        rate = meter.rate("", len(rows))
        print(
            f"sign (Ed25519) + HTTP alone, no database: {rate.per_second:.0f}/s, "
            f"{rate.cpu_ms:.2f} ms CPU per delivery (receivers {rate.rx_cpu_ms:.2f} ms)"
        )
        auth = await sender.auth_for(rows[0].signer_actor_id)
        bodies = [json.dumps(r.payload, separators=(",", ":"), ensure_ascii=False).encode() for r in rows]
        started = time.perf_counter()
        for row in rows:
            json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
        encode = (time.perf_counter() - started) / len(rows)
        fresh = DeliverySender(federation)
        started = time.perf_counter()
        for row in rows:
            fresh.body(row)
        once = (time.perf_counter() - started) / len(rows)
        print(
            f"JSON decoding + encoding: {encode * 1e6:.0f} us per delivery ({len(bodies[0])} bytes); "
            f"once per payload (the sender's): {once * 1e6:.0f} us"
        )
        for fmt in ("rfc9421", "cavage"):
            requests = [
                ctx.http.build_request("POST", r.destination, content=b)
                for r, b in zip(rows, bodies, strict=True)
            ]
            started = time.perf_counter()
            for request in requests:
                auth.sign(request, fmt)
            spent = (time.perf_counter() - started) / len(requests)
            print(f"signing alone, {fmt}: {spent * 1e6:.0f} us per request")
        await federation.close()
    print("\nthe whole worker under cProfile (SQLite work runs in aiosqlite threads, not listed):")
    await throughput(
        values, author_id, receivers, signature="rfc9421", verify=False, n=n, deliveries=count, profile=True
    )


# --- the run -----------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, url: str, workdir: Path) -> None:
    keys_file = workdir / "keys.json"
    receivers = await Receivers.start(max(SIZES), keys_file)
    try:
        values = settings_values(workdir, url, receivers.ports, "rfc9421")
        author_id = await seed(values, receivers.ports, keys_file)
        if args.profile:
            await decompose(values, author_id, receivers, args.rate_n, args.deliveries)
            return
        print(f"[{args.db}] {len(receivers.ports)} receivers up on 127.0.0.1; timing...")
        await receivers.set_verify(True)
        latencies = await latency(values, author_id, receivers, reps=args.posts, woken=False)
        latencies += await latency(values, author_id, receivers, reps=args.posts, woken=True)
        rates: list[Rate] = []
        for signature, verify, with_baseline in (
            ("rfc9421", False, True),
            ("rfc9421", True, False),
            ("cavage", False, False),
            ("cavage", True, False),
        ):
            rates += await throughput(
                values,
                author_id,
                receivers,
                signature=signature,
                verify=verify,
                n=args.rate_n,
                deliveries=args.deliveries,
                with_baseline=with_baseline,
            )
        report(args, latencies, rates, receivers)
    finally:
        await receivers.stop()


def report(args: argparse.Namespace, latencies: list[Latency], rates: list[Rate], rx: Receivers) -> None:
    print()
    print(
        f"[{args.db}] post to arrival at every member instance: {args.posts} posts per N, one worker in "
        "the bench process, receivers verifying signatures (Ed25519, RFC 9421)"
    )
    heading = ("N", "worker", "p50 ms", "p99 ms", "max ms", "first p50", "commit")
    row = "  {:>3}  {:<22} {:>8} {:>8} {:>8} {:>10} {:>8}"
    print(row.format(*heading))
    for result in latencies:
        figures = (pct(result.last_ms, 50), pct(result.last_ms, 99), max(result.last_ms))
        first, commit = pct(result.first_ms, 50), statistics.fmean(result.commit_ms)
        print(row.format(result.n, result.mode, *(f"{v:.1f}" for v in (*figures, first, commit))))
    print("  (first p50: until the first instance has it; commit: mean ms inside create_post's transaction)")
    print()
    base = next(r for r in rates if r.label.startswith("bare"))
    print(
        f"[{args.db}] deliveries per second from one worker: {rates[-1].deliveries} deliveries, "
        f"N = {args.rate_n} destinations, one request in flight per destination"
    )
    row = "  {:<52} {:>7} {:>8} {:>11} {:>11} {:>9}"
    print(row.format("", "per s", "of bare", "CPU ms/del.", "receivers", "enqueue s"))
    for rate in rates:
        print(
            row.format(
                rate.label,
                f"{rate.per_second:.0f}",
                f"{rate.per_second / base.per_second:.1%}",
                f"{rate.cpu_ms:.2f}",
                f"{rate.rx_cpu_ms:.2f}",
                f"{rate.enqueue_seconds:.1f}" if rate.enqueue_seconds else "-",
            )
        )
    print(
        "  (CPU ms/del.: CPU of the sending process, all threads, per delivery; receivers: of the receiver "
        f"process; enqueue s: {rates[-1].deliveries // args.rate_n} posts through create_post)"
    )
    ed = next(r for r in rates if r.label.startswith("worker, Ed25519") and "do not" in r.label).per_second
    p99 = pct(next(r for r in latencies if r.n == 10 and r.mode.startswith("polling")).last_ms, 99)
    print()
    print(f"  aim >= 1,000 deliveries/s with Ed25519: {'met' if ed >= 1000 else 'NOT met'} ({ed:.0f}/s)")
    verdict = "met" if p99 < 1000 else "NOT met"
    print(f"  aim p99 post-to-arrival < 1 s at N = 10 (worker polling as deployed): {verdict} ({p99:.0f} ms)")
    if rx.failures:
        print(f"  receivers refused {len(rx.failures)} requests, e.g. {rx.failures[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--posts", type=int, default=20, help="posts timed per N")
    parser.add_argument("--deliveries", type=int, default=2000, help="deliveries per throughput phase")
    parser.add_argument(
        "--rate-n", type=int, default=30, choices=SIZES, help="destinations in throughput phases"
    )
    parser.add_argument("--quick", action="store_true", help="5 posts per N, 300 deliveries")
    parser.add_argument("--profile", action="store_true", help="split the worker's cost instead")
    args = parser.parse_args()
    if args.quick:
        args.posts, args.deliveries = 5, 300
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cercle-fanout-") as tmp:
        workdir = Path(tmp)
        if args.db == "sqlite":
            run_loop(run(args, f"sqlite+aiosqlite:///{workdir / 'cercle.db'}", workdir))
        else:
            from tests.pg import throwaway_database

            with throwaway_database("cercle_fanout") as url:
                run_loop(run(args, url, workdir))
    print(f"  (whole run {time.monotonic() - started:.0f} s; pid {os.getpid()})")


if __name__ == "__main__":
    main()
