"""The outbound queue: a 4xx or a dead server is retried with backoff (by moving the clock), a 5xx is
given up, nothing is sent twice."""

from __future__ import annotations

from datetime import timedelta

import aiosmtplib
import pytest

from server.clock import FakeClock
from server.context import Context
from server.mail.outbox import backoff, classify, send_due
from server.mail.worker import run_once
from server.storage import mail as store
from tests.mail.conftest import Sink, work, write
from tests.pg import free_port
from tests.social.helpers import community, person


async def _one_mail(ctx: Context) -> None:
    bob = await person(ctx, "bob")
    await person(ctx, "ada")
    await community(ctx, bob, "design")
    await write(ctx, bob, "design", "@ada hello")


async def _row(ctx: Context) -> store.OutboundMail:
    async with ctx.sessions() as session:
        (row,) = await store.list_outbound(session)
    return row


async def test_a_temporary_refusal_is_retried_later(ctx: Context, sink: Sink, clock: FakeClock) -> None:
    await _one_mail(ctx)
    sink.answer = "451 4.3.0 Try again later"
    report = await work(ctx)
    assert (report.sent, report.retried) == (0, 1)
    row = await _row(ctx)
    assert row.attempts == 1 and "451" in (row.last_error or "")
    assert row.next_attempt_at >= clock.now() + timedelta(seconds=54)
    sink.answer = None
    assert (await work(ctx)).sent == 0  # not due yet
    clock.advance(timedelta(seconds=70))
    assert (await work(ctx)).sent == 1
    assert len(sink.to("ada@corp.example")) == 1
    clock.advance(timedelta(hours=1))
    assert (await work(ctx)).sent == 0


async def test_a_permanent_refusal_is_given_up(ctx: Context, sink: Sink) -> None:
    await _one_mail(ctx)
    sink.answer = "550 5.1.1 No such user"
    assert (await work(ctx)).failed == 1
    row = await _row(ctx)
    assert row.failed_at is not None and row.sent_at is None


async def test_an_unreachable_server_is_retried_then_given_up(ctx: Context, clock: FakeClock) -> None:
    ctx.settings = ctx.settings.model_copy(
        update={"smtp": ctx.settings.smtp.model_copy(update={"port": free_port(), "max_attempts": 2})}
    )
    await _one_mail(ctx)
    assert (await run_once(ctx)).retried == 1
    clock.advance(timedelta(hours=1))
    assert (await run_once(ctx)).failed == 1
    assert (await _row(ctx)).attempts == 2


async def test_a_claimed_row_waits_for_its_lease(ctx: Context, sink: Sink, clock: FakeClock) -> None:
    await _one_mail(ctx)

    class Crash:
        async def send(self, envelope_from: str, recipient: str, message: str) -> None:
            raise WorkerKilled

    from server.mail.fanout import collect

    await collect(ctx)
    with pytest.raises(WorkerKilled):
        await send_due(ctx, Crash())  # the worker dies mid-send
    assert (await work(ctx)).sent == 0  # the row is leased
    clock.advance(timedelta(minutes=11))
    assert (await work(ctx)).sent == 1


class WorkerKilled(BaseException):
    """Stands for the process dying: not an error the worker may catch."""


def test_outcomes_table() -> None:
    assert classify(aiosmtplib.SMTPResponseException(550, "no")) == "permanent"
    assert classify(aiosmtplib.SMTPResponseException(421, "busy")) == "temporary"
    assert classify(
        aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no", "a@b")])
    ) == ("permanent")
    assert classify(aiosmtplib.SMTPConnectError("down")) == "temporary"
    assert classify(TimeoutError()) == "temporary"
    assert timedelta(seconds=54) <= backoff(1, 60) <= timedelta(seconds=66)
    assert timedelta(seconds=216) <= backoff(3, 60) <= timedelta(seconds=264)
    assert backoff(30, 60) <= timedelta(hours=6, minutes=36)
