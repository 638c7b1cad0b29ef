"""`cercle charter ...` and `cercle audit`, run as real processes the way a legal team runs them."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from server.config import load_settings
from server.context import Context, build_context
from tests.charter.conftest import add_post, add_user, snapshot
from tests.conftest import REPO
from tests.test_cli import cercle

BROKEN = """\
id = "broken"
version = "1.0"
languages = ["en"]

[[article]]
id = "1"
title = { en = "One" }
text = { en = "One" }
  [[article.rule]]
  at = "publish"
  match = { keywords = ["x"] }
  action = "rejet"
"""


def in_instance(instance: Path, work: Any) -> Any:
    """Run `work(context)` against the instance's database, the way the commands see it."""
    settings = load_settings(
        instance / "cercle.toml",
        database_url=f"sqlite+aiosqlite:///{instance}/var/cercle.db",
        charter_dir=REPO / "charter",
    )

    async def main() -> Any:
        context = build_context(settings)
        try:
            return await work(context)
        finally:
            await context.close()

    return asyncio.run(main())


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    result = cercle("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_check_needs_only_the_files(tmp_path: Path) -> None:
    everything = cercle("charter", "check", cwd=tmp_path)
    assert (everything.returncode, everything.stdout, everything.stderr) == (0, "", "")
    (tmp_path / "broken.toml").write_text(BROKEN)
    broken = cercle("charter", "check", "broken.toml", str(REPO / "charter" / "fr.toml"), cwd=tmp_path)
    assert broken.returncode == 1
    assert broken.stderr.splitlines() == ["broken.toml: article[1].rule[1].action: unknown action 'rejet'"]


def test_show_and_diff(tmp_path: Path) -> None:
    shown = cercle("charter", "show", "fr", "--lang", "en", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "§ 4.1 Sensitive personal data" in shown.stdout
    assert "When someone publishes and it contains French social security number" in shown.stdout
    assert "§ 4.1 Données personnelles sensibles" in cercle("charter", "show", "fr", cwd=tmp_path).stdout
    diff = cercle("charter", "diff", "group", str(REPO / "charter" / "fr.toml"), cwd=tmp_path)
    assert diff.returncode == 0 and diff.stdout.startswith("version: 2026.1 → 2026.2")
    assert "article 4.3 added: Health data" in diff.stdout
    missing = cercle("charter", "show", "atlantis", cwd=tmp_path)
    assert missing.returncode == 1 and "atlantis.toml: no such charter" in missing.stderr


def test_simulate_reports_and_leaves_the_database_unchanged(instance: Path) -> None:
    now = datetime.now(UTC)

    async def seed(ctx: Context) -> list[int]:
        author = await add_user(ctx, "alice")
        return [
            await add_post(
                ctx, author, "IBAN FR76 3000 6000 0112 3456 7890 189", created_at=now - timedelta(days=5)
            ),
            await add_post(ctx, author, "en arrêt maladie", created_at=now - timedelta(days=4)),
            await add_post(ctx, author, "hello", created_at=now - timedelta(days=3)),
        ]

    card, sick, _ = in_instance(instance, seed)
    before = in_instance(instance, snapshot)
    result = cercle("charter", "simulate", str(REPO / "charter" / "fr.toml"), "--since", "30d", cwd=instance)
    assert result.returncode == 0, result.stderr
    assert "Charter fr 2026.2 over 3 stored items" in result.stdout
    assert f"§ 4.1 Données personnelles sensibles\n  rejected: 1 (e.g. posts {card})" in result.stdout
    assert f"§ 4.3 Données de santé\n  held: 1 (e.g. posts {sick})" in result.stdout
    assert in_instance(instance, snapshot) == before


def test_holds_purge_audit_and_acceptances(instance: Path) -> None:
    now = datetime.now(UTC)

    async def seed(ctx: Context) -> tuple[int, int]:
        kept = await add_user(ctx, "kept")
        gone = await add_user(ctx, "gone")
        async with ctx.transaction() as session:
            from server.services import charter as service

            await service.accept_charter(session, now, ctx.charter, kept, "fr")
        return (
            await add_post(ctx, kept, "old but held", created_at=now - timedelta(days=6 * 365)),
            await add_post(ctx, gone, "old", created_at=now - timedelta(days=6 * 365)),
        )

    held, purged = in_instance(instance, seed)
    placed = cercle("charter", "hold", "place", "--person", "kept", "--reason", "Case 17", cwd=instance)
    assert placed.returncode == 0, placed.stderr
    assert placed.stdout.strip() == "Placed legal hold 1."
    listed = cercle("charter", "hold", "list", cwd=instance)
    assert listed.stdout.startswith("1\t") and "Case 17" in listed.stdout
    dry = cercle("charter", "purge", "--dry-run", cwd=instance)
    assert (
        f"would be purged: post {purged} " in dry.stdout
        and f"kept by legal hold 1: post {held}" in dry.stdout
    )
    done = cercle("charter", "purge", cwd=instance)
    assert done.returncode == 0 and "1 purged, 1 kept by legal holds." in done.stdout
    assert "0 purged" in cercle("charter", "purge", cwd=instance).stdout
    assert cercle("charter", "hold", "release", "1", cwd=instance).returncode == 0
    assert cercle("charter", "hold", "list", cwd=instance).stdout.strip() == "No legal holds."
    unknown = cercle("charter", "hold", "release", "9", cwd=instance)
    assert unknown.returncode == 1 and "no legal hold 9" in unknown.stderr
    entries = json.loads(cercle("audit", "--format", "json", cwd=instance).stdout)
    assert [(e["point"], e["action"]) for e in entries] == [
        ("retention", "release"),
        ("retention", "purge"),
        ("retention", "hold"),
    ]
    only_purges = cercle("audit", "--action", "purge", "--format", "csv", cwd=instance).stdout
    rows = list(csv.DictReader(io.StringIO(only_purges)))
    assert [(r["article_id"], r["reason_code"]) for r in rows] == [("7", "retention.due")]
    text = cercle("audit", "--article", "7", "--limit", "1", cwd=instance).stdout.strip().splitlines()
    assert len(text) == 1 and "group 2026.1  § 7  retention/release" in text[0]
    exported = cercle("charter", "acceptances", cwd=instance).stdout.splitlines()
    assert exported[0] == "user_id,username,email,charter_id,charter_version,language,accepted_at"
    assert ",kept,kept@corp.example,group,2026.1,fr," in exported[1]
    as_json = json.loads(cercle("charter", "acceptances", "--format", "json", cwd=instance).stdout)
    assert [a["username"] for a in as_json] == ["kept"]


def test_help_lists_the_charter_commands(tmp_path: Path) -> None:
    top = cercle("--help", cwd=tmp_path).stdout
    assert "charter" in top and "audit" in top
    sub = cercle("charter", "--help", cwd=tmp_path).stdout
    for command in ("check", "show", "diff", "simulate", "acceptances", "purge", "hold"):
        assert command in sub
