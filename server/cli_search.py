"""`cercle search reindex` and `cercle analytics export`."""

from __future__ import annotations

from pathlib import Path

import click

from server.cli_support import run_async, settings_of
from server.context import Context
from server.errors import NotFound


@click.group()
def search() -> None:
    """The full-text search index."""


@search.command("reindex")
@click.pass_context
def search_reindex(ctx: click.Context) -> None:
    """Rebuild the whole index from posts, attachments, communities and profiles."""
    from server.services import indexing

    settings = settings_of(ctx)

    async def go(context: Context) -> dict[str, int]:
        async with context.transaction() as session:
            return await indexing.reindex_all(session, context.settings.media_dir)

    counts = run_async(go, settings)
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "nothing"
    click.echo(f"Indexed {summary}.")


@click.group()
def analytics() -> None:
    """Adoption figures, under the charter's analytics rules."""


@analytics.command("export")
@click.option("--community", "slug", default=None, help="A community's slug (default: the whole instance).")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("--weeks", default=12, show_default=True, type=click.IntRange(1, 52))
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: stdout."
)
@click.pass_context
def analytics_export(ctx: click.Context, slug: str | None, fmt: str, weeks: int, output: Path | None) -> None:
    """Export figures as CSV, as an administrator would see them (withheld figures stay empty)."""
    from server.services import analytics as service
    from server.storage.models import User

    settings = settings_of(ctx)

    async def go(context: Context) -> str:
        operator = User(username="cli", email="", display_name="cli", is_admin=True, actor_id=None)
        async with context.transaction() as session:
            now = context.clock.now()
            if slug:
                report = await service.community_report(
                    session, now, context.charter, operator, slug, weeks=weeks
                )
            else:
                report = await service.instance_report(session, now, context.charter, operator, weeks=weeks)
        return service.report_csv(report)

    try:
        text = run_async(go, settings)
    except NotFound as exc:
        raise click.ClickException(exc.message) from exc
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output}")


commands: list[click.Command] = [search, analytics]
