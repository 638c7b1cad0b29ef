"""The `cercle` command, run as a real process the way an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from tests.pg import free_port

CERCLE = str(Path(sys.executable).parent / "cercle")
REPO = Path(__file__).resolve().parent.parent


def cercle(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CERCLE_")}
    environment["CERCLE_CHARTER_DIR"] = str(REPO / "charter")
    environment.update(env or {})
    return subprocess.run(
        [CERCLE, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    result = cercle("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = cercle("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("init", "migrate", "run", "user"):
        assert command in result.stdout
    user_help = cercle("user", "--help", cwd=tmp_path)
    for command in ("create", "list", "disable"):
        assert command in user_help.stdout
    assert cercle("--version", cwd=tmp_path).stdout.strip() == "cercle, version 0.1.0"


def test_init_writes_a_private_config_with_a_fresh_secret(instance: Path, tmp_path: Path) -> None:
    config = instance / "cercle.toml"
    values = tomllib.loads(config.read_text())
    assert len(values["secret_key"]) >= 32
    assert values["scheme"] == "http" and values["domain"] == "localhost:8000"
    assert values["smtp"] == {"send": False}  # a local trial queues mail without sending it
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    assert (instance / "var" / "cercle.db").exists()
    again = cercle("init", cwd=instance)
    assert again.returncode == 0
    assert "Keeping the existing config" in again.stdout
    assert "already present" in again.stdout
    assert tomllib.loads(config.read_text())["secret_key"] == values["secret_key"]
    other = tmp_path / "other"
    other.mkdir()
    cercle("init", cwd=other)
    assert tomllib.loads((other / "cercle.toml").read_text())["secret_key"] != values["secret_key"]


def test_user_create_list_disable(instance: Path) -> None:
    created = cercle(
        "user",
        "create",
        "alice",
        "--email",
        "alice@corp.example",
        "--password",
        "correct horse battery",
        "--admin",
        cwd=instance,
    )
    assert created.returncode == 0, created.stderr
    assert "Created user alice (administrator)" in created.stdout
    listed = cercle("user", "list", cwd=instance)
    assert listed.stdout.strip() == "alice\talice@corp.example\tadmin\tactive"
    assert cercle("user", "disable", "alice", cwd=instance).returncode == 0
    assert cercle("user", "list", cwd=instance).stdout.strip().endswith("disabled")


def test_bad_input_is_one_line_on_stderr_and_changes_nothing(instance: Path) -> None:
    bad = cercle(
        "user", "create", "bob", "--email", "not-an-email", "--password", "long enough pw", cwd=instance
    )
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr.strip() == "Error: email: is not a valid e-mail address"
    no_password = cercle("user", "create", "bob", "--email", "bob@corp.example", cwd=instance)
    assert no_password.returncode == 1
    assert "password:" in no_password.stderr
    unknown = cercle("user", "disable", "nobody", cwd=instance)
    assert unknown.returncode == 1 and "no user named 'nobody'" in unknown.stderr
    assert "No users yet" in cercle("user", "list", cwd=instance).stdout


def test_a_wrong_setting_stops_with_one_line(instance: Path) -> None:
    result = cercle("user", "list", cwd=instance, env={"CERCLE_SCHEME": "gopher"})
    assert result.returncode == 1
    assert result.stderr.startswith("Error: setting 'scheme' (CERCLE_SCHEME):")
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unknown_charter_stops_with_its_error(instance: Path) -> None:
    result = cercle("user", "list", cwd=instance, env={"CERCLE_CHARTER": "atlantis"})
    assert result.returncode == 1
    assert "setting 'charter' (CERCLE_CHARTER): atlantis.toml: no such charter" in result.stderr


def test_migrate_down_and_up(instance: Path) -> None:
    down = cercle("migrate", "--down", "--to", "base", cwd=instance)
    assert down.returncode == 0 and "base (empty)" in down.stdout
    refused = cercle("run", "--port", str(free_port()), cwd=instance)
    assert refused.returncode == 1 and "cercle migrate" in refused.stderr
    up = cercle("migrate", cwd=instance)
    assert up.returncode == 0 and "Database at revision" in up.stdout


def test_init_and_migrate_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    result = cercle("init", "--database-url", pg_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    created = cercle(
        "user", "create", "zoe", "--email", "zoe@corp.example", "--password", "x" * 12, cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    assert cercle("user", "list", cwd=tmp_path).stdout.startswith("zoe\t")


def test_run_serves_until_stopped(instance: Path) -> None:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CERCLE_")}
    environment["CERCLE_CHARTER_DIR"] = str(REPO / "charter")
    log = (instance / "run.log").open("wb")
    process = subprocess.Popen(
        [CERCLE, "run", "--port", str(port)],
        cwd=instance,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        assert ready.status_code == 200 and ready.json()["ready"] is True
        assert httpx.get(f"http://127.0.0.1:{port}/login", timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
    assert "serving http://localhost:8000" in (instance / "run.log").read_text()


def test_seed_fills_an_empty_instance_once_and_communities_list(instance: Path) -> None:
    seeded = cercle("seed", cwd=instance)
    assert seeded.returncode == 0, seeded.stderr
    assert "Sign in as 'camille'" in seeded.stdout
    assert (instance / "var" / "demo-login.txt").read_text().startswith("user: camille\n")
    listed = cercle("community", "list", cwd=instance).stdout.splitlines()
    assert len(listed) == 7
    assert any(line.startswith("comite-direction\tfunctional\tsecret\t1 members") for line in listed)
    again = cercle("seed", cwd=instance)
    assert again.returncode == 0 and "already has people" in again.stdout


def test_community_create_from_the_command_line(instance: Path) -> None:
    cercle("user", "create", "ada", "--email", "ada@corp.example", "--password", "x" * 12, cwd=instance)
    created = cercle(
        "community",
        "create",
        "quality",
        "--name",
        "Quality",
        "--owner",
        "ada",
        "--kind",
        "practice",
        "--tag",
        "ISO 9001",
        cwd=instance,
    )
    assert created.returncode == 0, created.stderr
    assert cercle("community", "list", cwd=instance).stdout.startswith(
        "quality\tpractice\topen\t1 members\tQuality"
    )
    unknown_owner = cercle(
        "community", "create", "q2", "--name", "Q2", "--owner", "nobody", "--kind", "practice", cwd=instance
    )
    assert unknown_owner.returncode == 1 and "owner: no user named 'nobody'" in unknown_owner.stderr
    taken = cercle(
        "community", "create", "ada", "--name", "Ada", "--owner", "ada", "--kind", "practice", cwd=instance
    )
    assert taken.returncode == 1 and "slug: this name is already used" in taken.stderr


def test_deliveries_shows_the_queue_and_health_per_peer(instance: Path) -> None:
    import asyncio
    from datetime import UTC, datetime

    from server.storage.delivery_models import Delivery, PeerHealth
    from server.storage.engine import create_engine, session_factory

    assert cercle("deliveries", cwd=instance).stdout.strip() == "No deliveries yet."
    cercle("user", "create", "ada", "--email", "ada@corp.example", "--password", "x" * 12, cwd=instance)

    async def fill() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{instance / 'var' / 'cercle.db'}")
        now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
        async with session_factory(engine)() as session, session.begin():
            for n, state in enumerate(("delivered", "delivered", "pending", "given_up")):
                session.add(
                    Delivery(
                        destination="https://munich.example/inbox",
                        peer_domain="munich.example",
                        activity_uri=f"https://localhost/a/{n}",
                        payload={},
                        signer_actor_id=1,
                        state=state,
                        attempts=1,
                        created_at=now,
                    )
                )
            session.add(PeerHealth(domain="munich.example", consecutive_failures=3, delivered=2, failed=3))
        await engine.dispose()

    asyncio.run(fill())
    lines = cercle("deliveries", cwd=instance).stdout.splitlines()
    assert lines[0].startswith("peer\tpending\tdelivered")
    assert lines[1] == "munich.example\t1\t2\t1\t0\t3 failures in a row"
