"""Real SMTP servers on 127.0.0.1: an aiosmtpd sink receives what Cercle sends, and Cercle's own server
(started on the test's loop) receives what `smtplib` sends."""

from __future__ import annotations

import asyncio
import smtplib
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from server.clock import FakeClock
from server.context import Context, build_context
from server.mail.inbound import serve
from server.mail.worker import WorkReport, run_once
from server.services import communities, posts
from server.storage.models import User
from server.storage.social import Post
from tests.conftest import make_settings
from tests.pg import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Sink:
    """An SMTP server that keeps what it receives. `answer` set to e.g. '451 ...' refuses instead."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    answer: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.answer:
            return self.answer
        raw = envelope.original_content or b""
        message = message_from_bytes(raw, policy=default_policy)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(Received(envelope.mail_from or "", list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.received if address in r.rcpt_tos]

    def take(self) -> list[Received]:
        with self.lock:
            taken, self.received = self.received, []
        return taken


@pytest.fixture
def sink() -> Iterator[Sink]:
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


def mail_settings(database_url: str, tmp_path: Path, port: int, **overrides: Any) -> Any:
    smtp = {"host": "127.0.0.1", "port": port, "from_address": "cercle@localhost", "timeout_seconds": 5}
    smtp.update(overrides.pop("smtp", {}))
    return make_settings(database_url, tmp_path, smtp=smtp, **overrides)


@pytest.fixture
async def ctx(database_url: str, tmp_path: Path, clock: FakeClock, sink: Sink) -> AsyncIterator[Context]:
    context = build_context(mail_settings(database_url, tmp_path, sink.port), clock=clock)
    yield context
    await context.close()


async def work(ctx: Context) -> WorkReport:
    """One round of the mail worker: queue what happened, send it to the sink."""
    return await run_once(ctx)


@pytest.fixture
async def inbound(ctx: Context) -> AsyncIterator[int]:
    """Cercle's own SMTP server on a free port of 127.0.0.1; yields the port."""
    port = free_port()
    server = await serve(ctx, "127.0.0.1", port)
    yield port
    server.close()
    await server.wait_closed()


def _smtp_send(port: int, envelope_from: str, to: list[str], message: bytes) -> dict[str, Any]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        refused = client.sendmail(envelope_from, to, message)
    return dict(refused)


async def smtp_send(port: int, message: EmailMessage, *, envelope_from: str | None = None) -> dict[str, Any]:
    """Send with the standard library's blocking client, in a thread so the server can answer."""
    to = [str(a.addr_spec) for a in message["To"].addresses]
    sender = message["From"].addresses[0].addr_spec if envelope_from is None else envelope_from
    return await asyncio.to_thread(_smtp_send, port, sender, to, message.as_bytes())


def mail(sender: str, to: str, subject: str, body: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash((sender, to, subject, body)))}@mail.corp.example>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


async def join(ctx: Context, user: User, slug: str) -> None:
    async with ctx.transaction() as session:
        await communities.join(session, ctx, ctx.clock.now(), user, slug)


async def write(ctx: Context, user: User, slug: str | None, body: str, title: str = "") -> Post:
    async with ctx.transaction() as session:
        return await posts.create_post(
            session,
            ctx,
            ctx.clock.now(),
            user,
            body=body,
            title=title,
            communities=[slug] if slug else [],
            on_profile=slug is None,
        )


async def answer(ctx: Context, user: User, parent_id: int, body: str) -> Post:
    async with ctx.transaction() as session:
        return await posts.create_comment(session, ctx, ctx.clock.now(), user, parent_id=parent_id, body=body)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content
