"""Worker crash: a `cercle worker` killed with SIGKILL in the middle of a batch, then restarted.

One `cercle run` (with `run_workers_in_process = false`) and one `cercle worker` on PostgreSQL; a fake
peer that answers each delivery after 200 ms, so that the kill lands while the worker waits for an answer.
Forty posts into a community with members on the peer make forty deliveries in one stream (the peer's
shared inbox); inbound activities arrive before and during the outage. After the restart nothing may be
lost, and nothing applied twice: inbound activities once (their effects once), every delivery reaches the
peer, and the only ones sent twice are those whose answers the dead worker had not written yet (at most
one batch: the one in flight and the answered ones since the last batch was recorded), which the peer
dedupes by activity id (as the design of `server.delivery.worker` promises).

The stream the dead worker held stays leased to it for `delivery_lease_seconds` (5 s here): the test checks
that the restarted worker waits for the lease to run out, then takes the stream over.
"""

from __future__ import annotations

import inspect
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from server.delivery.worker import DeliveryWorker
from tests.scale.harness import (
    FakePeer,
    Instance,
    Processes,
    activity,
    cercle_init,
    create_note,
    prepare,
    processes,
    query,
    scalar,
    send_signed,
    unused_port,
    wait_until,
    write_config,
)

PEOPLE = 3
LOCAL_POSTS = 40
REMOTE_BEFORE = 6  # Creates from the peer accepted before the kill
REMOTE_DURING = 3  # ... and while no worker runs
SLOW_ANSWER = 0.2
BATCH = inspect.signature(DeliveryWorker).parameters["batch_size"].default  # answers written at once


def _start(procs: Processes, instance: Instance, port: int, *, worker: bool = True) -> None:
    web = procs.web("web", instance, port)
    procs.wait_ready(web, port)
    if worker:
        procs.wait_started(procs.worker("worker", instance))


def _members(pg_url: str) -> int:
    return int(
        scalar(
            pg_url,
            "SELECT count(*) FROM memberships m JOIN actors a ON a.id = m.actor_id "
            "WHERE NOT a.local AND m.state = 'active'",
        )
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def test_a_killed_worker_loses_nothing_and_applies_nothing_twice(pg_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with (
        FakePeer(PEOPLE, delay=SLOW_ANSWER) as peer,
        processes(tmp_path) as procs,
        httpx.Client(timeout=20) as http,
    ):
        port = unused_port()
        instance = write_config(tmp_path / "paris", pg_url, f"127.0.0.1:{port}", peer)
        cercle_init(instance)
        prepare(instance, "alice", "ops")
        group, base = instance.group_uri("ops"), f"http://127.0.0.1:{port}"
        _start(procs, instance, port)
        worker = procs.children[-1]
        sent: list[str] = []

        def inbound(i: int, doc: dict[str, object]) -> None:
            answer = send_signed(http, peer.people[i % PEOPLE], instance.base, base, "/c/ops/inbox", doc)
            assert answer.status_code == 202, answer.text
            sent.append(str(doc["id"]))

        for i, person in enumerate(peer.people):
            inbound(i, activity(person, "Follow", group, "follow"))
        wait_until(lambda: _members(pg_url) == PEOPLE, "the peer's people to be members", 30)
        wait_until(lambda: peer.arrivals >= PEOPLE, "the Accepts to reach the peer", 30)

        for i in range(LOCAL_POSTS):
            answer = http.post(
                f"{base}/api/v1/posts",
                json={"title": f"Local {i}", "body": f"Local post {i}", "communities": ["ops"]},
                headers={"Authorization": f"Bearer {instance.token}"},
            )
            assert answer.status_code == 201, answer.text
        first_post = scalar(pg_url, "SELECT uri FROM posts WHERE local AND title = 'Local 0'")
        for i in range(REMOTE_BEFORE):
            inbound(i, create_note(peer.people[i % PEOPLE], group, f"before-{i}"))
        for i, person in enumerate(peer.people):
            inbound(i, activity(person, "Like", first_post, "like-0"))

        # Kill the worker while the peer is still answering one of its deliveries (mid-batch).
        target = PEOPLE + 12
        assert peer.wait_arrivals(target, 30), "the worker did not start delivering"
        procs.kill(worker)
        delivered = scalar(pg_url, "SELECT count(*) FROM deliveries WHERE state = 'delivered'")
        total = scalar(pg_url, "SELECT count(*) FROM deliveries")
        assert PEOPLE < delivered < total, (delivered, total)

        # While no worker runs, the web process still accepts activities.
        for i in range(REMOTE_DURING):
            inbound(i, create_note(peer.people[i % PEOPLE], group, f"during-{i}"))

        # The stream the dead worker held stays leased to it until the lease runs out (5 s here).
        leased = [_aware(r[0]) for r in query(pg_url, "SELECT leased_until FROM delivery_streams") if r[0]]
        assert leased and max(leased) <= datetime.now(UTC) + timedelta(seconds=6), leased
        procs.wait_started(procs.worker("worker-again", instance))

        def drained() -> bool:
            unprocessed = scalar(pg_url, "SELECT count(*) FROM inbox_activities WHERE processed_at IS NULL")
            pending = scalar(pg_url, "SELECT count(*) FROM deliveries WHERE state = 'pending'")
            return bool(unprocessed == 0 and pending == 0)

        wait_until(drained, "the queues to drain after the restart", 40)
        time.sleep(1.0)

        # Inbound: every accepted activity processed exactly once; effects once.
        rows = query(pg_url, "SELECT activity_uri, processed_at, outcome FROM inbox_activities")
        assert sorted(r[0] for r in rows) == sorted(sent)
        assert all(r[1] is not None for r in rows)
        outcomes = Counter(str(r[2]) for r in rows)
        remote = REMOTE_BEFORE + REMOTE_DURING
        assert outcomes == {"follow of a community": PEOPLE, "post stored": remote, "reaction": PEOPLE}
        assert scalar(pg_url, "SELECT count(*) FROM posts WHERE NOT local") == remote
        assert scalar(pg_url, "SELECT reaction_count FROM posts WHERE uri = $1", first_post) == PEOPLE
        assert scalar(pg_url, "SELECT count(*) FROM reactions") == PEOPLE

        # Deliveries: none lost; only the batch not yet recorded at the kill was sent twice (the peer
        # dedupes); with a 200 ms peer and a 5 s lease, a batch is recorded at least every 1.7 s.
        deliveries = query(pg_url, "SELECT destination, activity_uri, state, attempts FROM deliveries")
        assert len(deliveries) == PEOPLE + LOCAL_POSTS + remote + PEOPLE
        assert {r[2] for r in deliveries} == {"delivered"}
        expected = {(r[0].removeprefix(peer.base), str(r[1])) for r in deliveries}
        received = peer.snapshot()
        assert set(received) == expected, "lost or unexpected deliveries"
        twice = {key: times for key, times in received.items() if times > 1}
        assert len(twice) <= BATCH and set(twice.values()) <= {2}, twice
        # The resent row's first attempt died with the worker: the database counts one attempt.
        assert {r[3] for r in deliveries} == {1}
        assert worker.popen.returncode == -9
    assert time.monotonic() - started < 90


def test_a_web_process_without_workers_leaves_inbound_processing_to_them(pg_url: str, tmp_path: Path) -> None:
    with FakePeer(1) as peer, processes(tmp_path) as procs, httpx.Client(timeout=20) as http:
        port = unused_port()
        instance = write_config(tmp_path / "paris", pg_url, f"127.0.0.1:{port}", peer)
        cercle_init(instance)
        prepare(instance, "alice", "ops")
        _start(procs, instance, port, worker=False)
        follow = activity(peer.people[0], "Follow", instance.group_uri("ops"), "follow")
        answer = send_signed(
            http, peer.people[0], instance.base, f"http://127.0.0.1:{port}", "/c/ops/inbox", follow
        )
        assert answer.status_code == 202, answer.text
        time.sleep(3.0)
        assert scalar(pg_url, "SELECT count(*) FROM inbox_activities WHERE processed_at IS NULL") == 1
        procs.wait_started(procs.worker("worker", instance))
        wait_until(
            lambda: scalar(pg_url, "SELECT count(*) FROM inbox_activities WHERE processed_at IS NULL") == 0,
            "the worker to process the Follow",
            20,
        )
