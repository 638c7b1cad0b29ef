"""The legal team's exports: audit entries, acceptances and legal holds as rows, written as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from server.storage import compliance_queries as store
from server.storage.compliance import AuditEntry, LegalHold

AUDIT_COLUMNS = (
    "id",
    "at",
    "charter_id",
    "charter_version",
    "article_id",
    "point",
    "action",
    "reason_code",
    "subject_kind",
    "subject",
    "actor_id",
    "peer_domain",
    "details",
)
ACCEPTANCE_COLUMNS = (
    "user_id",
    "username",
    "email",
    "charter_id",
    "charter_version",
    "language",
    "accepted_at",
)


def write_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], form: str) -> str:
    if form == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()})
    return buffer.getvalue().rstrip("\n")


def audit_row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "charter_id": entry.charter_id,
        "charter_version": entry.charter_version,
        "article_id": entry.article_id,
        "point": entry.point,
        "action": entry.action,
        "reason_code": entry.reason_code,
        "subject_kind": entry.subject_kind,
        "subject": entry.subject,
        "actor_id": entry.actor_id,
        "peer_domain": entry.peer_domain,
        "details": entry.details,
    }


def acceptance_row(record: store.AcceptanceRecord) -> dict[str, Any]:
    a = record.acceptance
    return {
        "user_id": a.user_id,
        "username": record.username,
        "email": record.email,
        "charter_id": a.charter_id,
        "charter_version": a.charter_version,
        "language": a.language,
        "accepted_at": a.accepted_at.isoformat(),
    }


def hold_row(hold: LegalHold) -> dict[str, Any]:
    return {
        "id": hold.id,
        "placed_at": hold.placed_at.isoformat(),
        "released_at": hold.released_at.isoformat() if hold.released_at else None,
        "person_actor_id": hold.person_actor_id,
        "community_id": hold.community_id,
        "period_start": hold.period_start.isoformat() if hold.period_start else None,
        "period_end": hold.period_end.isoformat() if hold.period_end else None,
        "reason": hold.reason,
    }
