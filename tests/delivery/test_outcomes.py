"""One test per row of the delivery outcome table."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from server.delivery.outcomes import MAX_DELAY, Next, backoff, classify

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_delivered(status: int) -> None:
    assert classify(status, now=NOW).next is Next.DELIVERED


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_retry_after_the_peers_delay(status: int) -> None:
    assert classify(status, "120", now=NOW).retry_after == timedelta(seconds=120)
    dated = classify(status, "Mon, 02 Mar 2026 10:05:00 GMT", now=NOW)
    assert dated.next is Next.RETRY_AFTER and dated.retry_after == timedelta(minutes=5)
    assert classify(status, None, now=NOW).retry_after is None
    assert classify(status, "999999", now=NOW).retry_after == timedelta(hours=6)


@pytest.mark.parametrize("status", [401, 408, 500, 502, 504, None])
def test_5xx_401_and_network_errors_back_off(status: int | None) -> None:
    assert classify(status, now=NOW).next is Next.BACKOFF


@pytest.mark.parametrize("status", [301, 400, 403, 404, 410, 413, 422])
def test_other_4xx_give_up(status: int) -> None:
    assert classify(status, now=NOW).next is Next.GIVE_UP


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    for failures, ceiling in [(1, 30), (2, 60), (3, 120), (8, 3600), (30, 3600)]:
        for _ in range(50):
            delay = backoff(failures, rng).total_seconds()
            assert ceiling / 2 <= delay <= ceiling
    assert backoff(40, rng) <= MAX_DELAY
