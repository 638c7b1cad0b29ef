"""Retention: when stored content falls due for deletion, and whether a legal hold stops it.

The `[retention]` section gives a period per kind of content ("posts" = "5y"; "forever" keeps it).
A `retention` rule with action `hold` keeps what it matches longer: for `keep` if given (never shorter than
the section's period), otherwise with no deadline. Legal holds are placed at run time by the legal team;
an active hold that covers the item suspends the purge and the decision names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from server.policy.decisions import Decision
from server.policy.facts import LegalHold
from server.policy.matching import Situation, rule_hit
from server.policy.schema import NO_TEXT, RETENTION_KINDS, Action, Article, Charter, Rule


def _check(kind: str, *moments: datetime) -> None:
    if kind not in RETENTION_KINDS:
        raise ValueError(f"unknown retention kind {kind!r}")
    if any(m.tzinfo is None for m in moments):
        raise ValueError("retention needs timezone-aware datetimes")


def _keeping_rule(
    charter: Charter, kind: str, community_tags: frozenset[str], community_kind: str | None
) -> tuple[Article, Rule] | None:
    situation = Situation(content_kind=kind, community_tags=community_tags, community_kind=community_kind)
    for article, rule in charter.rules_at.get("retention", ()):
        if rule_hit(rule.match, situation) is not None:
            return article, rule
    return None


def _deadline(
    charter: Charter,
    kind: str,
    created_at: datetime,
    community_tags: frozenset[str],
    community_kind: str | None,
) -> tuple[datetime | None, str | None]:
    """The deadline and the article that sets it."""
    period = charter.retention.periods.get(kind)
    deadline = None if period is None else created_at + period.delta
    kept = _keeping_rule(charter, kind, community_tags, community_kind)
    if kept is None:
        return deadline, charter.retention.article
    article, rule = kept
    if rule.keep is None or deadline is None:
        return None, article.id
    return max(deadline, created_at + rule.keep.delta), article.id


def retention_deadline(
    charter: Charter,
    kind: str,
    created_at: datetime,
    *,
    community_tags: frozenset[str] = frozenset(),
    community_kind: str | None = None,
) -> datetime | None:
    """When content of this kind created then may be deleted; None when the charter keeps it without limit."""
    _check(kind, created_at)
    return _deadline(charter, kind, created_at, community_tags, community_kind)[0]


def is_purgeable(
    charter: Charter,
    kind: str,
    created_at: datetime,
    now: datetime,
    holds: Sequence[LegalHold] = (),
    *,
    author_id: str | None = None,
    community_id: str | None = None,
    community_tags: frozenset[str] = frozenset(),
    community_kind: str | None = None,
) -> Decision:
    """allow (delete it now) or deny, with reason `retention.due`, `retention.not_due`,
    `retention.no_limit` or `retention.legal_hold` (then `hold_id` names the hold)."""
    _check(kind, created_at, now)
    deadline, article_id = _deadline(charter, kind, created_at, community_tags, community_kind)

    def decide(action: Action, reason: str, hold_id: str | None = None) -> Decision:
        article = charter.article(article_id)
        return Decision(
            charter_id=charter.id,
            charter_version=charter.version,
            point="retention",
            action=action,
            reason_code=reason,
            article_id=article_id,
            message=article.title if article is not None else NO_TEXT,
            hold_id=hold_id,
            deadline=deadline,
        )

    if deadline is None:
        return decide("deny", "retention.no_limit")
    if now < deadline:
        return decide("deny", "retention.not_due")
    for hold in holds:
        if hold.is_active(now) and hold.covers(created_at, author_id, community_id):
            return decide("deny", "retention.legal_hold", hold.id)
    return decide("allow", "retention.due")
