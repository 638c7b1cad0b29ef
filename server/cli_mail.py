"""`cercle mail ...` and `cercle import mbox`: the mail server, the mail worker, digests, archive import."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import TypeVar

import click

from server.cli_support import run_async, settings_of
from server.context import Context

T = TypeVar("T")


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


@click.group()
def mail() -> None:
    """Mail: receive posts and replies, send notifications and digests."""


@mail.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2525, show_default=True, type=click.IntRange(1, 65535))
@click.option("--lmtp", is_flag=True, help="Speak LMTP (behind the company's mail server) instead of SMTP.")
@click.pass_context
def mail_serve(ctx: click.Context, host: str, port: int, lmtp: bool) -> None:
    """Receive mail: community+SLUG@domain becomes a post, reply+TOKEN@domain a comment."""
    from server.mail.addresses import mail_domain
    from server.mail.inbound import serve

    settings = settings_of(ctx)

    async def go(context: Context) -> None:
        server = await serve(context, host, port, lmtp=lmtp)
        protocol = "LMTP" if lmtp else "SMTP"
        click.echo(f"Cercle mail ({protocol}) for @{mail_domain(settings)} listening on {host}:{port}")
        try:
            await _until_stopped()
        finally:
            server.close()
            await server.wait_closed()

    run_async(go, settings)


@mail.command("send-queue")
@click.option("--loop", "forever", is_flag=True, help="Keep running: a worker process.")
@click.option("--interval", default=10.0, show_default=True, type=click.FloatRange(0.1, 3600))
@click.pass_context
def mail_send_queue(ctx: click.Context, forever: bool, interval: float) -> None:
    """Turn new notifications and posts into mails and send what is due (once, or with --loop forever)."""
    from server.mail.worker import run_forever, run_once

    settings = settings_of(ctx)

    async def go(context: Context) -> str:
        if forever:
            await run_forever(context, interval=interval, stop=asyncio.create_task(_until_stopped()))
            return "Mail worker stopped."
        report = await run_once(context)
        return (
            f"Queued {report.queued}, sent {report.sent}, to retry {report.retried}, failed {report.failed}."
        )

    click.echo(run_async(go, settings))


@mail.command("digest")
@click.option("--daily", "frequency", flag_value="daily", help="The daily digest.")
@click.option("--weekly", "frequency", flag_value="weekly", help="The weekly digest.")
@click.pass_context
def mail_digest(ctx: click.Context, frequency: str | None) -> None:
    """Queue the daily or weekly digests (run it from cron); the worker sends them."""
    from server.mail.digests import queue_digests

    if frequency is None:
        raise click.UsageError("choose --daily or --weekly")
    settings = settings_of(ctx)

    async def go(context: Context) -> int:
        return await queue_digests(context, frequency)

    click.echo(f"Queued {run_async(go, settings)} {frequency} digest(s).")


@click.group("import")
def import_group() -> None:
    """Import content from elsewhere."""


@import_group.command("mbox")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--community", "slug", required=True, help="The local community to import into.")
@click.option("--dry-run", is_flag=True, help="Report what would be imported; store nothing.")
@click.pass_context
def import_mbox_command(ctx: click.Context, file: Path, slug: str, dry_run: bool) -> None:
    """Import a mailing-list archive as threads (idempotent: importing again adds nothing)."""
    from server.mail.mbox import ImportReport, import_mbox

    settings = settings_of(ctx)

    async def go(context: Context) -> ImportReport:
        return await import_mbox(context, file, slug, dry_run=dry_run)

    report = run_async(go, settings)
    prefix = "Would import" if report.dry_run else "Imported"
    click.echo(
        f"{prefix} {report.posts} thread(s) and {report.comments} comment(s) "
        f"from {report.messages} message(s); {report.already_imported} already imported; "
        f"{report.external_authors} external author(s)."
    )


commands: list[click.Command] = [mail, import_group]
