"""Background work in one place: inbound activity processing, mail, (with federation) deliveries and
the backfill of communities newly joined, and the instance's adoption figures counted ahead of time.

`cercle run` starts these inside the web process by default (`run_workers_in_process`), so one
command serves a small instance; `cercle worker` runs the same work in a process of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from server.context import Context
from server.delivery.worker import DeliveryWorker
from server.federation import backfill
from server.federation.sender import DeliverySender
from server.federation.state import Federation
from server.mail import worker as mail_worker
from server.services import analytics
from server.web.metrics import Metrics

logger = logging.getLogger(__name__)

MAIL_INTERVAL_SECONDS = 5.0
INBOX_POLL_SECONDS = 1.0
RETRY_POLL_SECONDS = 30.0
DELIVERY_IDLE_SECONDS = 0.1  # how soon new deliveries leave: one small query per tick while idle
BACKFILL_POLL_SECONDS = 5.0  # how soon a newly joined community's history is fetched


class Background:
    def __init__(
        self,
        ctx: Context,
        federation: Federation,
        *,
        poll_inbox: bool = False,
        metrics: Metrics | None = None,
    ) -> None:
        """`poll_inbox` for a worker process: it also takes activities that web processes stored."""
        self.ctx = ctx
        self.federation = federation
        self.poll_inbox = poll_inbox
        self._stop: asyncio.Future[None] | None = None
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.delivery = DeliveryWorker(
            ctx, DeliverySender(federation), observe=metrics.observe_delivery if metrics is not None else None
        )

    async def start(self) -> None:
        self._stop = asyncio.get_running_loop().create_future()
        self.federation.queue.start()
        if self.ctx.settings.smtp.send:
            self._tasks.append(
                asyncio.create_task(
                    mail_worker.run_forever(self.ctx, interval=MAIL_INTERVAL_SECONDS, stop=self._stop),
                    name="cercle-mail",
                )
            )
        self._tasks.append(
            asyncio.create_task(
                self.delivery.run_forever(self._stopping, idle_seconds=DELIVERY_IDLE_SECONDS),
                name="cercle-delivery",
            )
        )
        # A worker process takes what web processes stored, at once; a web process, which queues what it
        # receives itself, only picks up what failed (a passing error) or was left behind, now and then.
        interval = INBOX_POLL_SECONDS if self.poll_inbox else RETRY_POLL_SECONDS
        self._tasks.append(asyncio.create_task(self._poll_inbox(interval), name="cercle-inbox-poll"))
        self._tasks.append(asyncio.create_task(self._backfills(), name="cercle-backfill"))
        if self.ctx.settings.analytics_refresh_seconds > 0:
            self._tasks.append(
                asyncio.create_task(
                    self._analytics(float(self.ctx.settings.analytics_refresh_seconds)),
                    name="cercle-analytics",
                )
            )
        logger.info("background work started: inbox processing, deliveries, mail, analytics")

    async def _poll_inbox(self, interval: float) -> None:
        """Queue unprocessed inbox rows; a row is queued again only after `RETRY_POLL_SECONDS`."""
        submitted: dict[int, float] = {}
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            try:
                pending = await self.federation.pending_ids()
                now = loop.time()
                for row_id in pending:
                    if row_id not in submitted and not self.poll_inbox:
                        submitted[row_id] = now  # the inbox of this process queued it already
                    elif now - submitted.get(row_id, -RETRY_POLL_SECONDS) >= RETRY_POLL_SECONDS:
                        self.federation.queue.submit(row_id)
                        submitted[row_id] = now
                submitted = {row_id: at for row_id, at in submitted.items() if row_id in set(pending)}
            except Exception:  # a database hiccup must not end the loop
                logger.exception("polling the inbox failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=interval)

    async def _backfills(self) -> None:
        """Fetch the history of communities newly joined (`server.federation.backfill`)."""
        while not self._stopping.is_set():
            try:
                await backfill.run_due(self.federation)
            except Exception:  # a database hiccup must not end the loop
                logger.exception("running backfills failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=BACKFILL_POLL_SECONDS)

    async def _analytics(self, interval: float) -> None:
        """Count the instance's adoption figures for the dashboard every `interval` seconds, from the
        start. With several processes, a period another one counted in the last half interval is left."""
        while not self._stopping.is_set():
            try:
                await analytics.refresh_instance_snapshots(
                    self.ctx.sessions, self.ctx.clock, self.ctx.charter, keep=timedelta(seconds=interval / 2)
                )
            except Exception:  # a database hiccup must not end the loop
                logger.exception("counting the instance's adoption figures failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=interval)

    async def stop(self) -> None:
        if self._stop is not None and not self._stop.done():
            self._stop.set_result(None)
        self._stopping.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=15)
        self._tasks.clear()
        await self.federation.close()
