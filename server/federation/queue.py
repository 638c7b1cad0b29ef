"""The in-process queue of accepted inbox activities waiting to be processed.

The inbox answers 202 as soon as the activity's row is committed, and puts the row id here. A few worker
tasks take ids and run the processing function. When the queue starts it first loads every row still
unprocessed (left by a crash or a restart), so no accepted activity is lost; a row processed twice does no
harm, because processing marks a row done only if nobody did (see ``finish_inbox_activity``).

A failed attempt stays unprocessed and is tried again at the next start-up; processing gives up, recorded,
after a few attempts. With several processes, each drains at start-up and the guard keeps it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class InboxQueue:
    def __init__(
        self,
        process: Callable[[int], Awaitable[None]],
        pending: Callable[[], Awaitable[list[int]]],
        *,
        workers: int = 2,
    ) -> None:
        self._process = process
        self._pending = pending
        self._workers = workers
        self._queue: asyncio.Queue[int] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._drain: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        return self._queue is not None

    def start(self) -> None:
        if self._queue is not None:
            return
        self._queue = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._work(), name=f"inbox-{i}") for i in range(self._workers)]
        self._drain = asyncio.create_task(self._load_pending(), name="inbox-drain")

    def submit(self, row_id: int) -> None:
        if self._queue is None:
            self.start()
        assert self._queue is not None
        self._queue.put_nowait(row_id)

    async def join(self) -> None:
        """Wait until everything submitted so far (and the start-up backlog) is processed."""
        if self._drain is not None:
            await self._drain
        if self._queue is not None:
            await self._queue.join()

    async def close(self, grace_seconds: float = 10.0) -> None:
        """Finish what is queued (up to `grace_seconds`), then stop the workers while they wait for work:
        cancelling one in the middle of a database call would strand its connection."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.join(), grace_seconds)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks, self._drain, self._queue = [], None, None

    async def _load_pending(self) -> None:
        try:
            ids = await self._pending()
        except Exception:
            logger.exception("could not load unprocessed inbox activities")
            return
        if ids:
            logger.info("resuming %d unprocessed inbox activities", len(ids))
        for row_id in ids:
            self.submit(row_id)

    async def _work(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            row_id = await queue.get()
            try:
                await self._process(row_id)
            except Exception:
                logger.exception("processing inbox activity %s failed", row_id)
            finally:
                queue.task_done()
