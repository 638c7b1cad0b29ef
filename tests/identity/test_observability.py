"""Structured logs and the federation metrics (server/logging_setup.py, server/web/metrics.py)."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from prometheus_client import generate_latest

from server.logging_setup import configure_logging
from server.web.metrics import Metrics
from tests.conftest import make_settings


def test_json_logs_carry_the_extra_fields(tmp_path: Path) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(
        make_settings("sqlite+aiosqlite:///x.db", tmp_path, log_format="json"), stream=stream
    )
    try:
        logging.getLogger("server.delivery").warning(
            "gave up on %s", "munich.example", extra={"peer": "munich.example"}
        )
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("server.delivery").exception("crashed")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "WARNING" and first["logger"] == "server.delivery"
    assert first["message"] == "gave up on munich.example" and first["peer"] == "munich.example"
    assert first["time"].endswith("+00:00")
    assert "ValueError: boom" in second["exception"]


def test_text_logs_replace_the_handler_when_configured_again(tmp_path: Path) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    settings = make_settings("sqlite+aiosqlite:///x.db", tmp_path)
    configure_logging(settings, stream=io.StringIO())
    handler = configure_logging(settings, stream=stream)
    try:
        assert sum(1 for h in root.handlers if getattr(h, "_cercle_handler", False)) == 1
        logging.getLogger("server.app").info("started")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert stream.getvalue().rstrip().endswith("INFO    server.app: started")


def test_federation_metrics() -> None:
    metrics = Metrics()
    metrics.set_queue_depth({"munich.example": 4, "chicago.example": 1})
    metrics.set_queue_depth({"munich.example": 2})
    metrics.observe_delivery("munich.example", "delivered", 0.3)
    metrics.observe_delivery("munich.example", "backoff")
    metrics.count_inbox_reject("signature")
    metrics.count_charter_decision("fr", "4.2", "egress", "reject")
    metrics.count_charter_decision("fr", None, "publish", "allow")
    text = generate_latest(metrics.registry).decode()
    assert 'cercle_delivery_queue_depth{peer="munich.example"} 2.0' in text
    assert 'cercle_delivery_queue_depth{peer="chicago.example"} 0.0' in text
    assert 'cercle_delivery_latency_seconds_count{peer="munich.example"} 1.0' in text
    assert 'cercle_delivery_attempts_total{outcome="backoff",peer="munich.example"} 1.0' in text
    assert 'cercle_delivery_failures_total{outcome="backoff",peer="munich.example"} 1.0' in text
    assert 'cercle_inbox_rejects_total{reason="signature"} 1.0' in text
    assert (
        'cercle_charter_decisions_total{action="reject",article="4.2",charter="fr",stage="egress"} 1.0'
        in text
    )
    assert 'article="none"' in text
