"""Scale-out: two `cercle run` web processes and two `cercle worker` processes on one PostgreSQL.

The web processes run with `run_workers_in_process = false`, as OPERATIONS.md says to run them behind a
load balancer; the workers do the background work. A fake peer instance (real HTTP, real signatures)
sends signed activities to both web processes — some of them to both — and receives what the instance
delivers. Local people post through the JSON API of both web processes. In the end every inbound activity
must be processed exactly once (one row per id, processed, effects not doubled) and every delivery made
exactly once (the peer saw each activity once per inbox; every delivery row delivered at the first attempt).
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.scale.harness import (
    FakePeer,
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

PEOPLE = 6  # people on the peer, who join the community and react
LOCAL_POSTS = 24  # posts through the API, half on each web process
REMOTE_POSTS = 12  # Creates from the peer, one in three sent to both web processes


def test_two_web_processes_two_workers_one_database(pg_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with FakePeer(PEOPLE) as peer, processes(tmp_path) as procs, httpx.Client(timeout=20) as http:
        ports = [unused_port(), unused_port()]
        instance = write_config(tmp_path / "paris", pg_url, f"127.0.0.1:{ports[0]}", peer)
        cercle_init(instance)
        prepare(instance, "alice", "ops")
        group = instance.group_uri("ops")
        webs = [procs.web(f"web{i}", instance, port) for i, port in enumerate(ports)]
        workers = [procs.worker(f"worker{i}", instance) for i in range(2)]
        for child, port in zip(webs, ports, strict=True):
            procs.wait_ready(child, port)
        for child in workers:
            procs.wait_started(child)
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        sent: list[str] = []

        def inbound(i: int, doc: dict[str, object], path: str, *, both: bool = False) -> None:
            person = peer.people[i % PEOPLE]
            targets = bases if both else [bases[i % 2]]
            for base in targets:
                answer = send_signed(http, person, instance.base, base, path, doc)
                assert answer.status_code == 202, answer.text
            sent.append(str(doc["id"]))

        # Everyone on the peer joins the open community; every Follow goes to both web processes.
        for i, person in enumerate(peer.people):
            inbound(i, activity(person, "Follow", group, "follow"), "/c/ops/inbox", both=True)
        wait_until(
            lambda: (
                scalar(
                    pg_url,
                    "SELECT count(*) FROM memberships m JOIN actors a ON a.id = m.actor_id "
                    "WHERE NOT a.local AND m.state = 'active'",
                )
                == PEOPLE
            ),
            "the peer's people to be members",
            30,
        )

        # Local posts through the API of both web processes, and remote posts, at the same time.
        def local_post(i: int) -> None:
            answer = http.post(
                f"{bases[i % 2]}/api/v1/posts",
                json={"title": f"Local {i}", "body": f"Local post {i}", "communities": ["ops"]},
                headers={"Authorization": f"Bearer {instance.token}", "Host": instance.domain},
            )
            assert answer.status_code == 201, answer.text

        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(local_post, i) for i in range(LOCAL_POSTS)]
            for i in range(REMOTE_POSTS):
                inbound(
                    i, create_note(peer.people[i % PEOPLE], group, f"n{i}"), "/c/ops/inbox", both=i % 3 == 0
                )
            for future in futures:
                future.result()

        # Everyone on the peer likes the first local post (each Like to both web processes).
        first_post = scalar(pg_url, "SELECT uri FROM posts WHERE local AND title = 'Local 0'")
        assert first_post
        for i, person in enumerate(peer.people):
            inbound(i, activity(person, "Like", first_post, "like-0"), "/c/ops/inbox", both=True)

        def settled() -> bool:
            unprocessed = scalar(pg_url, "SELECT count(*) FROM inbox_activities WHERE processed_at IS NULL")
            pending = scalar(pg_url, "SELECT count(*) FROM deliveries WHERE state = 'pending'")
            rows = scalar(pg_url, "SELECT count(*) FROM deliveries")
            return bool(unprocessed == 0 and pending == 0 and sum(peer.snapshot().values()) >= rows)

        wait_until(settled, "the inbox and the delivery queue to drain", 45)
        time.sleep(1.5)  # a late duplicate would show up here

        # Inbound: one row per activity id, all processed, each with the outcome of a first processing.
        rows = query(pg_url, "SELECT activity_uri, processed_at, outcome, attempts FROM inbox_activities")
        assert sorted(r[0] for r in rows) == sorted(sent)
        assert all(r[1] is not None for r in rows)
        outcomes = Counter(str(r[2]) for r in rows)
        assert outcomes == {
            "follow of a community": PEOPLE,
            "post stored": REMOTE_POSTS,
            "reaction": PEOPLE,
        }, outcomes
        # Effects once: each remote note stored once, each person's like counted once.
        assert scalar(pg_url, "SELECT count(*) FROM posts WHERE NOT local") == REMOTE_POSTS
        assert scalar(pg_url, "SELECT count(*) FROM posts WHERE local") == LOCAL_POSTS
        assert scalar(pg_url, "SELECT reaction_count FROM posts WHERE uri = $1", first_post) == PEOPLE
        assert scalar(pg_url, "SELECT count(*) FROM reactions") == PEOPLE

        # Deliveries: every row delivered at the first attempt, and the peer saw each exactly once.
        deliveries = query(pg_url, "SELECT destination, activity_uri, state, attempts FROM deliveries")
        assert {(r[2], r[3]) for r in deliveries} == {("delivered", 1)}, Counter(
            (r[2], r[3]) for r in deliveries
        )
        received = peer.snapshot()
        duplicates = {key: times for key, times in received.items() if times > 1}
        assert not duplicates, f"delivered more than once: {duplicates}"
        expected = Counter((r[0].removeprefix(peer.base), str(r[1])) for r in deliveries)
        assert received == expected
        # What was expected to leave did: an Accept per member, an Announce per post (local and remote)
        # and per reaction.
        assert len(deliveries) == PEOPLE + LOCAL_POSTS + REMOTE_POSTS + PEOPLE
        for child in (*webs, *workers):
            assert child.popen.poll() is None, f"{child.name} died:\n{child.log_text()[-3000:]}"
    assert time.monotonic() - started < 90
