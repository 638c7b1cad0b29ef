"""`cercle mail ...` and `cercle import mbox`, as an operator runs them (the group is the real one's twin
until `server.cli` registers these commands)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from click.testing import CliRunner

from server import cli_mail
from server.cli import main as real_main
from server.config import load_settings
from server.context import build_context
from server.services import communities
from server.storage.accounts import get_user_by_username
from tests.mail.test_mbox import write_archive


@click.group()
@click.option("--config", type=click.Path(path_type=Path))
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


for _command in cli_mail.commands:
    main.add_command(_command)


def test_the_commands_import_an_archive_queue_digests_and_send(tmp_path: Path) -> None:
    runner = CliRunner()
    config = tmp_path / "cercle.toml"
    db = tmp_path / "var" / "cercle.db"
    config.write_text(
        f'secret_key = "{"k" * 40}"\ndomain = "localhost:8000"\nscheme = "http"\n'
        f'database_url = "sqlite+aiosqlite:///{db}"\n'
        f'charter_dir = "{Path(__file__).parents[2] / "charter"}"\n'
        "[smtp]\nport = 9\n"
    )
    assert runner.invoke(real_main, ["--config", str(config), "migrate"]).exit_code == 0
    created = runner.invoke(
        real_main,
        ["--config", str(config), "user", "create", "bob", "--email", "bob@corp.example", "--no-password"],
    )
    assert created.exit_code == 0, created.output

    async def make_community() -> None:
        ctx = build_context(load_settings(config))
        try:
            async with ctx.transaction() as session:
                bob = await get_user_by_username(session, "bob")
                assert bob is not None
                await communities.create_community(
                    session,
                    ctx.settings,
                    ctx.clock.now(),
                    bob,
                    slug="design",
                    name="Design",
                    kind="project",
                    visibility="open",
                )
        finally:
            await ctx.close()

    asyncio.run(make_community())
    archive = write_archive(tmp_path / "list.mbox")
    dry = runner.invoke(
        main, ["--config", str(config), "import", "mbox", str(archive), "--community", "design", "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith("Would import 2 thread(s) and 2 comment(s) from 4 message(s)")
    done = runner.invoke(
        main, ["--config", str(config), "import", "mbox", str(archive), "--community", "design"]
    )
    assert done.output.startswith("Imported 2 thread(s)")
    again = runner.invoke(
        main, ["--config", str(config), "import", "mbox", str(archive), "--community", "design"]
    )
    assert "Imported 0 thread(s) and 0 comment(s) from 4 message(s); 4 already imported" in again.output
    unknown = runner.invoke(
        main, ["--config", str(config), "import", "mbox", str(archive), "--community", "nope"]
    )
    assert unknown.exit_code == 1 and "no local community 'nope'" in unknown.output

    digest = runner.invoke(main, ["--config", str(config), "mail", "digest", "--daily"])
    assert digest.exit_code == 0 and digest.output.strip() == "Queued 0 daily digest(s)."
    assert runner.invoke(main, ["--config", str(config), "mail", "digest"]).exit_code == 2
    sent = runner.invoke(main, ["--config", str(config), "mail", "send-queue"])
    assert sent.exit_code == 0 and sent.output.strip() == "Queued 0, sent 0, to retry 0, failed 0."
    assert "--lmtp" in runner.invoke(main, ["mail", "serve", "--help"]).output
