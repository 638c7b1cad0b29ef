from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.policy import Charter, LegalHold, is_purgeable, retention_deadline

CREATED = datetime(2020, 3, 1, tzinfo=UTC)
LATER = CREATED + timedelta(days=5 * 365 + 1)


def test_deadline_comes_from_the_retention_section(charter: Charter) -> None:
    assert retention_deadline(charter, "posts", CREATED) == CREATED + timedelta(days=1825)
    assert retention_deadline(charter, "comments", CREATED) == CREATED + timedelta(days=365)
    assert retention_deadline(charter, "messages", CREATED) is None


def test_a_retention_hold_rule_keeps_longer_or_without_limit(charter: Charter) -> None:
    finance = frozenset({"finance"})
    assert retention_deadline(charter, "posts", CREATED, community_tags=finance) == CREATED + timedelta(
        days=3650
    )
    assert retention_deadline(charter, "posts", CREATED, community_tags=frozenset({"archive"})) is None


def test_purge_is_allowed_once_due(charter: Charter) -> None:
    decision = is_purgeable(charter, "posts", CREATED, LATER, [])
    assert (decision.action, decision.reason_code, decision.point) == ("allow", "retention.due", "retention")
    assert decision.article_id == "1"
    assert decision.deadline == CREATED + timedelta(days=1825)


def test_purge_waits_for_the_deadline_and_for_kept_content(charter: Charter) -> None:
    early = is_purgeable(charter, "posts", CREATED, CREATED + timedelta(days=30), [])
    assert (early.action, early.reason_code) == ("deny", "retention.not_due")
    kept = is_purgeable(charter, "posts", CREATED, LATER, [], community_tags=frozenset({"finance"}))
    assert (kept.action, kept.reason_code, kept.article_id) == ("deny", "retention.not_due", "7")
    forever = is_purgeable(charter, "messages", CREATED, LATER, [])
    assert (forever.action, forever.reason_code) == ("deny", "retention.no_limit")


def test_an_active_legal_hold_suspends_the_purge_and_is_named(charter: Charter) -> None:
    hold = LegalHold(id="LH-2025-07", placed_at=datetime(2024, 1, 1, tzinfo=UTC), person_id="alice")
    decision = is_purgeable(charter, "posts", CREATED, LATER, [hold], author_id="alice")
    assert (decision.action, decision.reason_code, decision.hold_id) == (
        "deny",
        "retention.legal_hold",
        "LH-2025-07",
    )
    assert is_purgeable(charter, "posts", CREATED, LATER, [hold], author_id="bob").action == "allow"


def test_holds_on_a_community_or_a_period(charter: Charter) -> None:
    placed = datetime(2024, 1, 1, tzinfo=UTC)
    community = LegalHold(id="c", placed_at=placed, community_id="acme-deal")
    period = LegalHold(
        id="p",
        placed_at=placed,
        period_start=datetime(2020, 1, 1, tzinfo=UTC),
        period_end=datetime(2020, 6, 1, tzinfo=UTC),
    )
    assert (
        is_purgeable(charter, "posts", CREATED, LATER, [community], community_id="acme-deal").hold_id == "c"
    )
    assert is_purgeable(charter, "posts", CREATED, LATER, [community], community_id="other").action == "allow"
    assert is_purgeable(charter, "posts", CREATED, LATER, [period]).hold_id == "p"
    after_period = datetime(2020, 7, 1, tzinfo=UTC)
    assert (
        is_purgeable(charter, "posts", after_period, LATER + timedelta(days=200), [period]).action == "allow"
    )


def test_a_released_or_future_hold_does_not_stop_the_purge(charter: Charter) -> None:
    released = LegalHold(
        id="r", placed_at=datetime(2021, 1, 1, tzinfo=UTC), released_at=datetime(2024, 1, 1, tzinfo=UTC)
    )
    future = LegalHold(id="f", placed_at=LATER + timedelta(days=1))
    assert is_purgeable(charter, "posts", CREATED, LATER, [released, future]).action == "allow"


def test_naive_datetimes_and_unknown_kinds_are_bugs(charter: Charter) -> None:
    with pytest.raises(ValueError, match="timezone"):
        is_purgeable(charter, "posts", datetime(2020, 1, 1), LATER, [])
    with pytest.raises(ValueError, match="unknown retention kind"):
        retention_deadline(charter, "post", CREATED)
