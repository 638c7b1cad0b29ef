"""Background work in one place: inbound activity processing, mail, and (with federation) deliveries.

`cercle run` starts these inside the web process by default (`run_workers_in_process`), so one
command serves a small instance; `cercle worker` runs the same work in a process of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from server.context import Context
from server.federation.state import Federation
from server.mail import worker as mail_worker

logger = logging.getLogger(__name__)

MAIL_INTERVAL_SECONDS = 5.0


class Background:
    def __init__(self, ctx: Context, federation: Federation) -> None:
        self.ctx = ctx
        self.federation = federation
        self._stop: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._stop = asyncio.get_running_loop().create_future()
        self.federation.queue.start()
        self._tasks.append(
            asyncio.create_task(
                mail_worker.run_forever(self.ctx, interval=MAIL_INTERVAL_SECONDS, stop=self._stop),
                name="cercle-mail",
            )
        )
        logger.info("background work started: inbox processing, mail")

    async def stop(self) -> None:
        if self._stop is not None and not self._stop.done():
            self._stop.set_result(None)
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=15)
        self._tasks.clear()
        await self.federation.close()
