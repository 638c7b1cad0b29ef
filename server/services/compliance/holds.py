"""Legal holds: placed and released by administrators (or the operator), always audited."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import Forbidden, NotFound, ValidationFailed
from server.policy import (
    Charter,
    Decision,
)
from server.policy import LegalHold as HoldFacts
from server.services.compliance.decisions import audit_entry
from server.storage import compliance_queries as store
from server.storage.audit import add_audit_entry
from server.storage.compliance import LegalHold
from server.storage.models import User

# --- legal holds -------------------------------------------------------------------------------------------


def _require_admin(user: User | None) -> None:
    if user is not None and not user.is_admin:
        raise Forbidden("only administrators may do this", code="admin-only")


def _retention_decision(charter: Charter, reason_code: str) -> Decision:
    article = charter.article(charter.retention.article)
    return Decision(
        charter_id=charter.id,
        charter_version=charter.version,
        point="retention",
        action="hold",
        reason_code=reason_code,
        article_id=charter.retention.article,
        message=article.title if article is not None else {},
    )


def hold_targets(hold: LegalHold) -> dict[str, Any]:
    return {
        "legal_hold": str(hold.id),
        "person_actor_id": hold.person_actor_id,
        "community_id": hold.community_id,
        "period_start": hold.period_start.isoformat() if hold.period_start else None,
        "period_end": hold.period_end.isoformat() if hold.period_end else None,
        "reason": hold.reason,
    }


async def targets_by_name(
    session: AsyncSession, person: str | None, community: str | None
) -> tuple[int | None, int | None]:
    """The actor id of a local person (`@` in front allowed) and the id of a local community (by slug)
    that a hold names; ValidationFailed naming the field when one is not found."""
    person_actor_id = community_id = None
    if person:
        person_actor_id = await store.actor_id_of_username(session, person.removeprefix("@"))
        if person_actor_id is None:
            raise ValidationFailed("no local user with this name", field="person")
    if community:
        community_id = await store.community_id_of_slug(session, community)
        if community_id is None:
            raise ValidationFailed("no local community with this name", field="community")
    return person_actor_id, community_id


async def place_hold(
    session: AsyncSession,
    now: datetime,
    charter: Charter,
    admin_user: User | None,
    *,
    person_actor_id: int | None = None,
    community_id: int | None = None,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
    reason: str,
) -> LegalHold:
    """Suspend retention purges of what the hold covers (every target given must match; none: everything).

    `admin_user` None is the operator at the command line. Audited: point retention, action hold.
    """
    _require_admin(admin_user)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("say why the hold is placed (a case or request reference)", field="reason")
    if period_start and period_end and period_end <= period_start:
        raise ValidationFailed("must be after the start of the period", field="period_end")
    if any(m is not None and m.tzinfo is None for m in (period_start, period_end)):
        raise ValidationFailed("needs a time zone", field="period_start")
    hold = await store.add_legal_hold(
        session,
        LegalHold(
            placed_by_id=admin_user.id if admin_user else None,
            placed_at=now,
            person_actor_id=person_actor_id,
            community_id=community_id,
            period_start=period_start,
            period_end=period_end,
            reason=reason,
        ),
    )
    await add_audit_entry(
        session,
        audit_entry(
            now,
            _retention_decision(charter, "retention.legal_hold_placed"),
            subject_kind="legal_hold",
            subject=str(hold.id),
            actor_id=admin_user.actor_id if admin_user else None,
            details=hold_targets(hold),
        ),
    )
    return hold


async def release_hold(
    session: AsyncSession, now: datetime, charter: Charter, admin_user: User | None, hold_id: int
) -> LegalHold:
    """End a hold: purges resume for what it covered. Audited: point retention, action release."""
    _require_admin(admin_user)
    hold = await store.get_legal_hold(session, hold_id)
    if hold is None:
        raise NotFound(f"no legal hold {hold_id}")
    if hold.released_at is not None:
        raise ValidationFailed(f"legal hold {hold_id} was already released", field="hold")
    hold.released_at = now
    await add_audit_entry(
        session,
        audit_entry(
            now,
            _retention_decision(charter, "retention.legal_hold_released"),
            subject_kind="legal_hold",
            subject=str(hold.id),
            actor_id=admin_user.actor_id if admin_user else None,
            action="release",
            details=hold_targets(hold),
        ),
    )
    await session.flush()
    return hold


def hold_facts(rows: Iterable[LegalHold]) -> list[HoldFacts]:
    """Stored holds as the engine reads them (person and community ids as strings)."""
    return [
        HoldFacts(
            id=str(row.id),
            placed_at=row.placed_at,
            released_at=row.released_at,
            person_id=str(row.person_actor_id) if row.person_actor_id is not None else None,
            community_id=str(row.community_id) if row.community_id is not None else None,
            period_start=row.period_start,
            period_end=row.period_end,
            reason=row.reason,
        )
        for row in rows
    ]
