"""Background work: which inbox rows get (re)queued, and when."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server import workers
from server.context import Context
from server.workers import Background


class FakeQueue:
    def __init__(self) -> None:
        self.submitted: list[int] = []

    def submit(self, row_id: int) -> None:
        self.submitted.append(row_id)


class FakeFederation:
    """Stands in for the federation state: rows 1 and 2 stay unprocessed."""

    def __init__(self) -> None:
        self.queue = FakeQueue()

    async def pending_ids(self) -> list[int]:
        return [1, 2]


async def _poll(ctx: Context, *, worker: bool, seconds: float) -> list[int]:
    federation: Any = FakeFederation()
    background = Background(ctx, federation, poll_inbox=worker)
    task = asyncio.create_task(background._poll_inbox(0.01))
    await asyncio.sleep(seconds)
    background._stopping.set()
    await task
    return list(federation.queue.submitted)


@pytest.fixture
def quick_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "RETRY_POLL_SECONDS", 0.2)


async def test_a_worker_queues_unprocessed_rows_at_once_and_again_only_after_the_retry_delay(
    ctx: Context, quick_retry: None
) -> None:
    submitted = await _poll(ctx, worker=True, seconds=0.1)
    assert submitted == [1, 2]
    submitted = await _poll(ctx, worker=True, seconds=0.3)
    assert submitted == [1, 2, 1, 2]


async def test_a_web_process_requeues_only_what_stayed_unprocessed(ctx: Context, quick_retry: None) -> None:
    assert await _poll(ctx, worker=False, seconds=0.1) == []  # its own inbox queued them already
    assert await _poll(ctx, worker=False, seconds=0.3) == [1, 2]  # still there after the delay: retried
