"""`cercle charter ...` and `cercle audit`: the tools of legal teams.

`check`, `show` and `diff` read charter files only: they need no database, no secret and no config
(the charter folder is `CERCLE_CHARTER_DIR`, else the config's `charter_dir`, else `./charter`).
The other commands open the configured database.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from server.cli_support import config_path, run_async, settings_of
from server.config import SettingsError, read_config_file
from server.context import Context
from server.errors import CercleError
from server.policy import (
    Charter,
    CharterError,
    SimulationReport,
    charter_files,
    check_files,
    diff_charters,
    load_charter,
    localize,
    parse_duration,
)
from server.policy.describe import render_charter
from server.services import charter as service
from server.services import retention
from server.services.compliance.exports import (
    ACCEPTANCE_COLUMNS,
    AUDIT_COLUMNS,
    acceptance_row,
    audit_row,
    hold_row,
    write_rows,
)
from server.storage import compliance_queries as store
from server.storage.audit import AuditFilter, list_audit_entries

T = TypeVar("T")


def charter_dir(ctx: click.Context) -> Path:
    if os.environ.get("CERCLE_CHARTER_DIR"):
        return Path(os.environ["CERCLE_CHARTER_DIR"])
    path = config_path(ctx)
    if path is not None:
        try:
            value = read_config_file(path).get("charter_dir")
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc
        if value:
            return Path(value)
    return Path("charter")


def _load(ctx: click.Context, ref: str) -> Charter:
    """A charter by file path (anything ending in .toml or existing) or by id in the charter folder."""
    path = Path(ref)
    try:
        if ref.endswith(".toml") or path.is_file():
            return load_charter(path.parent, path.stem)
        return load_charter(charter_dir(ctx), ref)
    except CharterError as exc:
        for line in exc.errors:
            click.echo(line, err=True)
        raise click.exceptions.Exit(1) from exc


def since_of(text: str | None, now: datetime) -> datetime | None:
    if text is None or text == "all":
        return None
    try:
        return now - parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc


def moment(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"not a date: {text!r} (write e.g. 2026-01-31)", param_hint=name) from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@click.group()
def charter() -> None:
    """Check, show, compare and simulate usage charters; export acceptances; purge; legal holds."""


@charter.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def charter_check(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """List every mistake in FILES (default: every charter of the charter folder), one per line."""
    paths = list(files) or charter_files(charter_dir(ctx))
    if not paths:
        raise click.ClickException(f"no charter files in {charter_dir(ctx)}")
    errors = check_files(paths)
    for line in errors:
        click.echo(line, err=True)
    if errors:
        raise click.exceptions.Exit(1)


@charter.command("show")
@click.argument("ref", metavar="ID")
@click.option("--lang", default=None, help="Language of the texts (default: the charter's first).")
@click.pass_context
def charter_show(ctx: click.Context, ref: str, lang: str | None) -> None:
    """Show a charter as its users read it, its rules in plain words and its settings."""
    loaded = _load(ctx, ref)
    click.echo("\n".join(render_charter(loaded, service.charter_language(loaded, lang))))


@charter.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--lang", default="en", show_default=True)
@click.pass_context
def charter_diff(ctx: click.Context, old: str, new: str, lang: str) -> None:
    """What changed from OLD to NEW (files or charter ids)."""
    lines = diff_charters(_load(ctx, old), _load(ctx, new), lang)
    click.echo("\n".join(lines) if lines else "No differences.")


@charter.command("simulate")
@click.argument("file")
@click.option("--since", default="90d", show_default=True, help="Content stored in this period, or 'all'.")
@click.option("--examples", default=5, show_default=True, type=click.IntRange(0, 100))
@click.pass_context
def charter_simulate(ctx: click.Context, file: str, since: str, examples: int) -> None:
    """Replay stored posts and comments through the charter FILE; changes nothing."""
    proposed = _load(ctx, file)
    settings = settings_of(ctx)

    async def go(context: Context) -> SimulationReport:
        now = context.clock.now()
        async with context.sessions() as session:
            try:
                return await service.simulate_stored(
                    session, proposed, now, since=since_of(since, now), examples=examples
                )
            finally:
                await session.rollback()

    report = run_async(go, settings)
    click.echo(f"Charter {report.charter_id} {report.charter_version} over {report.total} stored items")
    for outcome in ("rejected", "held", "labelled", "purgeable"):
        click.echo(f"  {outcome}: {report.outcomes.get(outcome, 0)}")
    for tally in report.articles:
        article = proposed.article(tally.article_id)
        title = localize(article.title, proposed.languages[0]) if article else ""
        click.echo(f"§ {tally.article_id} {title}")
        for outcome, count in tally.counts.items():
            if count:
                shown = ", ".join(tally.examples.get(outcome, ()))
                click.echo(f"  {outcome}: {count}" + (f" (e.g. posts {shown})" if shown else ""))


@charter.command("acceptances")
@click.option("--format", "form", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.pass_context
def charter_acceptances(ctx: click.Context, form: str) -> None:
    """Export every charter acceptance (who, which version, in which language, when)."""
    settings = settings_of(ctx)

    async def go(context: Context) -> list[dict[str, Any]]:
        async with context.sessions() as session:
            return [acceptance_row(r) for r in await store.list_acceptances(session)]

    click.echo(write_rows(run_async(go, settings), ACCEPTANCE_COLUMNS, form))


@charter.command("purge")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.pass_context
def charter_purge(ctx: click.Context, dry_run: bool) -> None:
    """Delete the content whose retention period is over, except what legal holds keep."""
    settings = settings_of(ctx)

    async def go(context: Context) -> retention.PurgeReport:
        now = context.clock.now()
        if dry_run:
            async with context.sessions() as session:
                try:
                    return await retention.purge_expired(session, context, now, dry_run=True)
                finally:
                    await session.rollback()
        async with context.transaction() as session:
            report = await retention.purge_expired(session, context, now)
        retention.remove_files(settings.media_dir, report)
        return report

    report = run_async(go, settings)
    verb = "would be purged" if dry_run else "purged"
    for item in report.purged:
        click.echo(f"{verb}: {item.kind[:-1]} {item.id} {item.uri}".rstrip())
    for kept in report.kept:
        click.echo(f"kept by legal hold {kept.hold_id}: {kept.kind[:-1]} {kept.id}")
    click.echo(f"{len(report.purged)} {verb}, {len(report.kept)} kept by legal holds.")


@charter.group("hold")
def hold() -> None:
    """Legal holds: suspend retention purges for a person, a community and/or a period."""


@hold.command("place")
@click.option("--person", default=None, help="User name of a local person.")
@click.option("--community", default=None, help="Slug of a local community.")
@click.option("--from", "start", default=None, help="Content created from this date (ISO 8601).")
@click.option("--until", "end", default=None, help="Content created before this date (ISO 8601).")
@click.option("--reason", required=True, help="Why (a case or request reference).")
@click.pass_context
def hold_place(
    ctx: click.Context,
    person: str | None,
    community: str | None,
    start: str | None,
    end: str | None,
    reason: str,
) -> None:
    """Place a legal hold (every target given must match; none: everything)."""
    settings = settings_of(ctx)
    period_start, period_end = moment(start, "--from"), moment(end, "--until")

    async def go(context: Context) -> int:
        async with context.transaction() as session:
            try:
                actor_id, community_id = await service.targets_by_name(session, person, community)
            except CercleError as exc:
                raise click.ClickException(f"{exc.field}: {exc.message}") from exc
            placed = await service.place_hold(
                session,
                context.clock.now(),
                context.charter,
                None,
                person_actor_id=actor_id,
                community_id=community_id,
                period_start=period_start,
                period_end=period_end,
                reason=reason,
            )
            return placed.id

    click.echo(f"Placed legal hold {run_async(go, settings)}.")


@hold.command("release")
@click.argument("hold_id", type=int)
@click.pass_context
def hold_release(ctx: click.Context, hold_id: int) -> None:
    """Release a legal hold: purges resume for what it covered."""
    settings = settings_of(ctx)

    async def go(context: Context) -> None:
        async with context.transaction() as session:
            await service.release_hold(session, context.clock.now(), context.charter, None, hold_id)

    run_async(go, settings)
    click.echo(f"Released legal hold {hold_id}.")


@hold.command("list")
@click.option("--all", "everything", is_flag=True, help="Include released holds.")
@click.pass_context
def hold_list(ctx: click.Context, everything: bool) -> None:
    """List the legal holds in force (tab-separated)."""
    settings = settings_of(ctx)

    async def go(context: Context) -> list[dict[str, Any]]:
        async with context.sessions() as session:
            active_at = None if everything else context.clock.now()
            return [hold_row(h) for h in await store.list_legal_holds(session, active_at=active_at)]

    rows = run_async(go, settings)
    if not rows:
        click.echo("No legal holds.")
    for row in rows:
        click.echo("\t".join("" if v is None else str(v) for v in row.values()))


@click.command("audit")
@click.option("--since", default="30d", show_default=True, help="Period to show, or 'all'.")
@click.option("--article", default=None, help="Only decisions of this article.")
@click.option("--action", default=None, help="Only this action (reject, hold, purge, ...).")
@click.option("--point", default=None, help="Only this point (publish, egress, retention, ...).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--format", "form", type=click.Choice(["text", "csv", "json"]), default="text", show_default=True
)
@click.pass_context
def audit(
    ctx: click.Context,
    since: str,
    article: str | None,
    action: str | None,
    point: str | None,
    limit: int,
    form: str,
) -> None:
    """Read the audit log of charter decisions, newest first."""
    settings = settings_of(ctx)

    async def go(context: Context) -> list[dict[str, Any]]:
        where = AuditFilter(
            since=since_of(since, context.clock.now()), article_id=article, action=action, point=point
        )
        async with context.sessions() as session:
            return [audit_row(e) for e in await list_audit_entries(session, where, limit=limit)]

    rows = run_async(go, settings)
    if form != "text":
        click.echo(write_rows(rows, AUDIT_COLUMNS, form))
        return
    if not rows:
        click.echo("No audit entries.")
    for row in rows:
        where = f"§ {row['article_id']}" if row["article_id"] else "no article"
        charter_ref = f"{row['charter_id']} {row['charter_version']}"
        click.echo(
            f"{row['at']}  {charter_ref}  {where}  {row['point']}/{row['action']}"
            f"  {row['reason_code']}  {row['subject_kind']} {row['subject']}"
        )


commands: list[click.Command] = [charter, audit]
