"""The mail worker: fan out new notifications and posts into the outbox, then send what is due."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from server.context import Context
from server.mail.fanout import collect
from server.mail.outbox import Sender, SmtpSender, send_due

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkReport:
    queued: int
    sent: int
    retried: int
    failed: int


async def run_once(ctx: Context, sender: Sender | None = None) -> WorkReport:
    queued = await collect(ctx)
    report = await send_due(ctx, sender or SmtpSender(ctx.settings.smtp))
    return WorkReport(queued, report.sent, report.retried, report.failed)


async def run_forever(
    ctx: Context, *, interval: float, stop: asyncio.Future[None], sender: Sender | None = None
) -> None:
    """Work every `interval` seconds until `stop` is done; an error is logged and the next round runs."""
    while not stop.done():
        try:
            await run_once(ctx, sender)
        except Exception:
            log.exception("mail worker round failed")
        await asyncio.wait({stop}, timeout=interval)
