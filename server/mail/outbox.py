"""The outbound mail queue: mails are rows in the database, a worker sends them with aiosmtplib.

How it works. Whatever wants to send a mail (the fan-out of notifications and posts, digests, answers
to incoming mail) writes an `OutboundMail` row with the complete message, in its own transaction; no
request ever talks to an SMTP server. Each row has a `dedupe_key` (e.g. `post:<user>:<post>`), so
producing the same mail twice is a no-op, and a person mentioned in a post of a community they follow
gets one mail, not two.

The worker claims due rows in a short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
several workers never take the same row), pushes their next attempt one lease ahead and counts the
attempt, commits, and only then talks SMTP. A worker killed mid-send leaves the row to be retried
when the lease ends: delivery is at least once, and a repeated mail keeps its Message-ID, which lets
mail servers and clients drop the copy. The outcome of one attempt follows `OUTCOMES` below.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Smtp
from server.context import Context
from server.mail.messages import serialize
from server.storage import mail as store
from server.storage.mail import OutboundMail

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
MAX_BACKOFF = timedelta(hours=6)

# What one attempt's outcome does to the row.
OUTCOMES = {
    "sent": "sent_at = now",
    "permanent": "failed_at = now (a 5xx answer: the server will never take it)",
    "temporary": "retry after base × 2^(attempts-1), ±10 % jitter, at most 6 h; failed after max_attempts",
}


class Sender(Protocol):
    async def send(self, envelope_from: str, recipient: str, message: str) -> None: ...


class SmtpSender:
    """Sends through the configured SMTP server, one connection per mail (simple, and enough)."""

    def __init__(self, smtp: Smtp) -> None:
        self.smtp = smtp

    async def send(self, envelope_from: str, recipient: str, message: str) -> None:
        smtp = self.smtp
        client = aiosmtplib.SMTP(
            hostname=smtp.host, port=smtp.port, timeout=smtp.timeout_seconds, start_tls=smtp.starttls
        )
        async with client:
            if smtp.username and smtp.password:
                await client.login(smtp.username, smtp.password.get_secret_value())
            # sendmail, not send(): an answer to incoming mail goes from the null sender '<>'
            await client.sendmail(envelope_from, [recipient], message)


def classify(error: BaseException) -> str:
    """`permanent` for a 5xx answer, `temporary` for a 4xx answer, a timeout or a network error."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in error.recipients]
        return "permanent" if codes and all(code >= 500 for code in codes) else "temporary"
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return "permanent" if error.code >= 500 else "temporary"
    return "temporary"


def backoff(attempts: int, base_seconds: float) -> timedelta:
    delay = min(base_seconds * 2 ** max(attempts - 1, 0), MAX_BACKOFF.total_seconds())
    return timedelta(seconds=delay * random.uniform(0.9, 1.1))


async def enqueue(
    session: AsyncSession,
    now: datetime,
    message: EmailMessage,
    *,
    dedupe_key: str,
    kind: str,
    recipient: str,
    user_id: int | None = None,
    envelope_from: str,
) -> bool:
    """Queue `message` for `recipient`; False when a mail with this key was already queued."""
    if await store.is_queued(session, dedupe_key):
        return False
    await store.add_outbound(
        session,
        OutboundMail(
            dedupe_key=dedupe_key,
            kind=kind,
            user_id=user_id,
            envelope_from=envelope_from,
            recipient=recipient,
            message_id=str(message["Message-ID"] or ""),
            message=serialize(message),
            created_at=now,
            next_attempt_at=now,
            attempts=0,
        ),
    )
    return True


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


async def _claim(ctx: Context, limit: int) -> list[tuple[int, str, str, str, int]]:
    now = ctx.clock.now()
    async with ctx.transaction() as session:
        rows = await store.claim_due(session, now, limit, skip_locked=ctx.settings.is_postgres)
        for row in rows:
            row.attempts += 1
            row.next_attempt_at = now + LEASE
        return [(r.id, r.envelope_from, r.recipient, r.message, r.attempts) for r in rows]


async def _attempt(
    sender: Sender, envelope_from: str, recipient: str, message: str
) -> tuple[str, str | None]:
    try:
        await sender.send(envelope_from, recipient, message)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return classify(exc), f"{type(exc).__name__}: {exc}"[:500]
    return "sent", None


async def send_due(ctx: Context, sender: Sender, *, limit: int = 100, parallel: int = 4) -> SendReport:
    """Send the mails that are due now, at most `parallel` at a time."""
    claimed = await _claim(ctx, limit)
    if not claimed:
        return SendReport()
    gate = asyncio.Semaphore(parallel)

    async def one(item: tuple[int, str, str, str, int]) -> tuple[int, int, str, str | None]:
        mail_id, envelope_from, recipient, message, attempts = item
        async with gate:
            outcome, error = await _attempt(sender, envelope_from, recipient, message)
        return mail_id, attempts, outcome, error

    results: Sequence[tuple[int, int, str, str | None]] = await asyncio.gather(*(one(i) for i in claimed))
    now = ctx.clock.now()
    counts = {"sent": 0, "retried": 0, "failed": 0}
    smtp = ctx.settings.smtp
    async with ctx.transaction() as session:
        for mail_id, attempts, outcome, error in results:
            row = await store.get_outbound(session, mail_id)
            if row is None:
                continue
            row.last_error = error
            if outcome == "sent":
                row.sent_at = now
                counts["sent"] += 1
            elif outcome == "permanent" or attempts >= smtp.max_attempts:
                row.failed_at = now
                counts["failed"] += 1
                log.warning(
                    "mail %s to %s given up after %s attempt(s): %s", mail_id, row.recipient, attempts, error
                )
            else:
                row.next_attempt_at = now + backoff(attempts, smtp.retry_base_seconds)
                counts["retried"] += 1
                log.info("mail %s: attempt %s failed, retrying: %s", mail_id, attempts, error)
    return SendReport(**counts)
