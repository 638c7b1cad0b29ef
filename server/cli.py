"""The `cercle` command: set up, migrate, run and administer an instance."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

import click
import tomli_w

from server import __version__, cli_charter, cli_mail, cli_search
from server.cli_support import DEFAULT_CONFIG, config_path, fail, run_async, settings_of
from server.config import SettingsError, load_settings
from server.context import Context
from server.errors import NotFound
from server.federation.state import Federation
from server.services import accounts, communities, demo, outbox
from server.services.instance import ensure_instance_keys
from server.storage import communities as community_store
from server.storage import delivery as delivery_store
from server.storage import migrate as migrations
from server.storage.accounts import get_user_by_username, list_users
from server.storage.delivery_models import PeerHealth
from server.workers import Background


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cercle")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CERCLE_CONFIG",
    help="TOML settings file (default: ./cercle.toml when it exists). CERCLE_* variables override it.",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """Cercle: a federated enterprise social network."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


for _command in (*cli_charter.commands, *cli_mail.commands, *cli_search.commands):
    main.add_command(_command)


@main.command()
@click.option("--domain", default="localhost:8000", show_default=True, help="Public host name (and port).")
@click.option(
    "--scheme", type=click.Choice(["https", "http"]), default=None, help="Default: http for loopback."
)
@click.option("--database-url", default=None, help="Default: a SQLite file under ./var/.")
@click.option("--charter", "charter_id", default="group", show_default=True, help="Charter id in charter/.")
@click.option(
    "--registration", type=click.Choice(["open", "invite", "closed"]), default="invite", show_default=True
)
@click.pass_context
def init(
    ctx: click.Context,
    domain: str,
    scheme: str | None,
    database_url: str | None,
    charter_id: str,
    registration: str,
) -> None:
    """Write a config with a new secret key (if none exists), create the database and the instance keys."""
    path = ctx.obj["config"] or DEFAULT_CONFIG
    if path.exists():
        click.echo(f"Keeping the existing config {path}.")
    else:
        from server.config import host_of, is_loopback_host

        values: dict[str, Any] = {
            "domain": domain,
            "scheme": scheme or ("http" if is_loopback_host(host_of(domain)) else "https"),
            "secret_key": secrets.token_urlsafe(48),
            "charter": charter_id,
            "registration": registration,
        }
        if database_url:
            values["database_url"] = database_url
        if values["scheme"] == "http":  # a local trial: queue mail, do not try to send it
            values["smtp"] = {"send": False}
        try:
            load_settings(None, **values)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tomli_w.dumps(values))
        path.chmod(0o600)
        click.echo(f"Wrote {path} (with a new secret key; keep this file private).")
    ctx.obj["config"] = path
    settings = settings_of(ctx)
    settings.media_dir.mkdir(parents=True, exist_ok=True)

    async def setup(context: Context) -> list[str]:
        await migrations.upgrade(context.engine)
        async with context.transaction() as session:
            return await ensure_instance_keys(session, settings, context.clock.now())

    created = run_async(setup, settings)
    click.echo("Database ready (migrated to the latest schema).")
    click.echo(f"Instance keys: {'created ' + ', '.join(created) if created else 'already present'}.")


@main.command()
@click.option("--to", "revision", default="head", show_default=True, help="Target revision.")
@click.option("--down", is_flag=True, help="Downgrade to the target revision instead of upgrading.")
@click.pass_context
def migrate(ctx: click.Context, revision: str, down: bool) -> None:
    """Bring the database schema to the latest version (or to --to)."""
    settings = settings_of(ctx)

    async def go(context: Context) -> str | None:
        if down:
            await migrations.downgrade(context.engine, revision)
        else:
            await migrations.upgrade(context.engine, revision)
        return await migrations.current_revision(context.engine)

    click.echo(f"Database at revision {run_async(go, settings) or 'base (empty)'}.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Web processes.")
@click.pass_context
def run(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the web interface, the API and the federation endpoints."""
    import uvicorn

    settings = settings_of(ctx)

    async def check(context: Context) -> str | None:
        try:
            if await migrations.is_at_head(context.engine):
                return None
        except Exception as exc:
            return f"database {settings.database_url}: {type(exc).__name__}: {exc}"
        return "the database is not at the latest schema: run `cercle migrate` (or `cercle init`)"

    problem = run_async(check, settings)
    if problem:
        fail(problem)
    path = config_path(ctx)
    if path is not None:
        os.environ["CERCLE_CONFIG"] = str(path.resolve())
    click.echo(f"Cercle {__version__} serving {settings.base_url} on http://{host}:{port}")
    uvicorn.run(
        "server.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_config=None,
    )


@main.command()
@click.pass_context
def seed(ctx: click.Context) -> None:
    """Fill an empty instance with demo people, communities and threads (for trying Cercle)."""
    settings = settings_of(ctx)
    login = run_async(demo.seed, settings)
    if login is None:
        click.echo("This instance already has people: no demo data added.")
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    note = settings.data_dir / "demo-login.txt"
    note.write_text(f"user: {login.username}\npassword: {login.password}\n")
    note.chmod(0o600)
    click.echo(f"Demo data added. Sign in as '{login.username}' with password '{login.password}'")
    click.echo(f"(every demo person has this password; it is also in {note}).")


@main.group()
def community() -> None:
    """Manage communities."""


@community.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--owner", required=True, help="User name of the first owner.")
@click.option(
    "--kind",
    type=click.Choice(["functional", "project", "practice", "expertise", "interest", "sector"]),
    required=True,
)
@click.option(
    "--visibility", type=click.Choice(["open", "closed", "secret"]), default="open", show_default=True
)
@click.option("--description", default="")
@click.option("--tag", "tags", multiple=True, help="A tag (repeat for several).")
@click.pass_context
def community_create(
    ctx: click.Context,
    slug: str,
    name: str,
    owner: str,
    kind: str,
    visibility: str,
    description: str,
    tags: tuple[str, ...],
) -> None:
    """Create a community owned by an existing person."""
    settings = settings_of(ctx)

    async def go(context: Context) -> str:
        async with context.transaction() as session:
            person = await get_user_by_username(session, owner)
            if person is None:
                raise NotFound(f"no user named '{owner}'", field="owner")
            created = await communities.create_community(
                session,
                settings,
                context.clock.now(),
                person,
                slug=slug,
                name=name,
                kind=kind,
                visibility=visibility,
                description=description,
                tags=tags,
            )
            return created.slug

    click.echo(f"Created community {run_async(go, settings)} ({visibility}, {kind}), owned by {owner}.")


@community.command("list")
@click.pass_context
def community_list(ctx: click.Context) -> None:
    """List the communities hosted here, with their member counts."""
    settings = settings_of(ctx)

    async def go(context: Context) -> list[tuple[str, str, str, str, int]]:
        async with context.sessions() as session:
            rows = await community_store.list_local_communities(session)
            counts = await community_store.member_counts(session, [c.id for c in rows])
            return [(c.slug, c.kind, c.visibility, c.name, counts.get(c.id, 0)) for c in rows]

    rows = run_async(go, settings)
    if not rows:
        click.echo("No communities yet: `cercle community create SLUG --name ... --owner ... --kind ...`.")
    for slug, kind, visibility, name, count in rows:
        click.echo(f"{slug}\t{kind}\t{visibility}\t{count} members\t{name}")


@main.command("demo")
@click.option("--base-port", default=8001, show_default=True, type=click.IntRange(1024, 65000))
@click.option("--dir", "directory", default="var/demo", show_default=True, type=click.Path(path_type=Path))
@click.option("--check", is_flag=True, help="Set up, federate, report, and stop (no waiting).")
def demo_command(base_port: int, directory: Path, check: bool) -> None:
    """Start three federated instances on 127.0.0.1 (Paris FR, Munich DE, Chicago US) with demo data."""
    from server.demo_network import run_demo

    charter_dir = Path(os.environ.get("CERCLE_CHARTER_DIR", "charter")).resolve()
    if not (charter_dir / "fr.toml").exists():
        fail(f"charters not found in {charter_dir}: run from the repository or set CERCLE_CHARTER_DIR")
    click.echo(
        f"Starting Paris, Munich and Chicago on ports {base_port}-{base_port + 2} (data in {directory})…"
    )
    code = run_demo(base_port, directory.resolve(), charter_dir, check=check, echo=click.echo)
    if code:
        raise SystemExit(code)


@main.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Process inbound activities, send deliveries and mail, until stopped (SIGTERM or Ctrl-C)."""
    settings = settings_of(ctx)

    async def go(context: Context) -> None:
        federation = Federation(context)
        background = Background(context, federation, poll_inbox=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await background.start()
        click.echo(f"Cercle worker for {settings.base_url}: inbox processing, deliveries, mail.")
        await stop.wait()
        await background.stop()

    run_async(go, settings)


@main.command()
@click.pass_context
def deliveries(ctx: click.Context) -> None:
    """Show the delivery queue per peer and each peer's health."""
    settings = settings_of(ctx)

    async def go(context: Context) -> tuple[list[tuple[str, str, int]], list[PeerHealth]]:
        async with context.sessions() as session:
            return await delivery_store.queue_summary(session), list(
                await delivery_store.all_peer_health(session)
            )

    summary, health = run_async(go, settings)
    if not summary and not health:
        click.echo("No deliveries yet.")
        return
    counts: dict[str, dict[str, int]] = {}
    for domain, state, count in summary:
        counts.setdefault(domain, {})[state] = count
    click.echo("peer\tpending\tdelivered\tgiven up\twaiting for consent\thealth")
    by_domain = {h.domain: h for h in health}
    for domain in sorted(set(counts) | set(by_domain)):
        c, h = counts.get(domain, {}), by_domain.get(domain)
        if h is None or (h.consecutive_failures == 0 and h.unreachable_since is None):
            state = "ok"
        elif h.unreachable_since is not None:
            state = f"unreachable since {h.unreachable_since:%Y-%m-%d %H:%M}"
        else:
            state = f"{h.consecutive_failures} failures in a row"
            if h.circuit_open_until:
                state += f", paused until {h.circuit_open_until:%H:%M:%S}"
        click.echo(
            f"{domain}\t{c.get('pending', 0)}\t{c.get('delivered', 0)}\t{c.get('given_up', 0)}\t"
            f"{c.get('awaiting_consent', 0)}\t{state}"
        )


@main.group()
def user() -> None:
    """Manage accounts."""


@user.command("create")
@click.argument("username")
@click.option("--email", required=True)
@click.option("--display-name", default="")
@click.option("--admin", is_flag=True, help="Give the administrator role.")
@click.option(
    "--password",
    envvar="CERCLE_NEW_PASSWORD",
    help="Password (or CERCLE_NEW_PASSWORD; asked for when on a terminal; omit with --no-password).",
)
@click.option("--no-password", is_flag=True, help="No password (single sign-on only).")
@click.pass_context
def user_create(
    ctx: click.Context,
    username: str,
    email: str,
    display_name: str,
    admin: bool,
    password: str | None,
    no_password: bool,
) -> None:
    """Create an account."""
    settings = settings_of(ctx)
    if password is None and not no_password:
        if not sys.stdin.isatty():
            fail("password: give --password, CERCLE_NEW_PASSWORD or --no-password (no terminal to ask on)")
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def go(context: Context) -> str:
        async with context.transaction() as session:
            created = await accounts.create_user(
                session,
                settings,
                context.clock.now(),
                username=username,
                email=email,
                password=None if no_password else password,
                display_name=display_name,
                is_admin=admin,
            )
            return created.username

    click.echo(f"Created user {run_async(go, settings)}{' (administrator)' if admin else ''}.")


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """List accounts."""
    settings = settings_of(ctx)

    async def go(context: Context) -> list[tuple[str, str, str, str]]:
        async with context.sessions() as session:
            return [
                (
                    u.username,
                    u.email,
                    "admin" if u.is_admin else "",
                    "disabled" if u.disabled_at else "active",
                )
                for u in await list_users(session)
            ]

    rows = run_async(go, settings)
    if not rows:
        click.echo("No users yet: `cercle user create NAME --email ...`.")
    for row in rows:
        click.echo("\t".join(row))


@user.command("disable")
@click.argument("username")
@click.pass_context
def user_disable(ctx: click.Context, username: str) -> None:
    """Disable an account: no more sign-in, its sessions and tokens stop working."""
    settings = settings_of(ctx)

    async def go(context: Context) -> str:
        async with context.transaction() as session:
            disabled = await accounts.disable_user(session, context.clock.now(), username)
            await outbox.person_deactivated(session, context.clock.now(), disabled)
            return disabled.username

    click.echo(f"Disabled {run_async(go, settings)}.")


@user.command("invite")
@click.option("--email", default=None, help="Bind the invitation to this address.")
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 365))
@click.pass_context
def user_invite(ctx: click.Context, email: str | None, days: int) -> None:
    """Create an invitation code for sign-up on an invite-only instance."""
    settings = settings_of(ctx)

    async def go(context: Context) -> str:
        async with context.transaction() as session:
            return await accounts.create_invitation(
                session, context.clock.now(), created_by=None, email=email, days=days
            )

    code = run_async(go, settings)
    click.echo(f"{settings.base_url}/signup?invitation={code}")


if __name__ == "__main__":
    main()
