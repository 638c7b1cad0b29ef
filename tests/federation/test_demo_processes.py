"""`cercle demo --check`: three real `cercle run` processes federating over HTTP on 127.0.0.1.

Covers, between processes: joining an open community, a closed-community request approved by its
animator, a post from another instance shown by the hosting one, a comment announced back, and a
deletion that leaves a tombstone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.pg import free_port

REPO = Path(__file__).resolve().parents[2]


def test_three_instances_federate(tmp_path: Path) -> None:
    base = free_port()
    while any(_busy(p) for p in (base + 1, base + 2)):
        base = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CERCLE_")}
    environment["CERCLE_CHARTER_DIR"] = str(REPO / "charter")
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cercle"),
            "demo",
            "--base-port",
            str(base),
            "--dir",
            str(tmp_path),
            "--check",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for line in (
        "joined the open community lean@",
        "asked to join the closed projet-atlas@",
        "posted in lean@",
        "the comment reached Munich",
        "Munich keeps only a tombstone",
    ):
        assert line in result.stdout, result.stdout


def _busy(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
