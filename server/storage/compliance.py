"""Tables the charter needs: the append-only audit log, acceptances, cross-border consents, legal holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.storage.base import Base, UTCDateTime


class AuditEntry(Base):
    """One charter decision or one audited act (an administrator reading private content, a hold placed).

    Rows are only ever inserted: no code path updates or deletes them (retention of the audit
    log itself is the charter's `[retention] audit` period, applied by the purge job).
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_article", "charter_id", "article_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    charter_id: Mapped[str] = mapped_column(String(50))
    charter_version: Mapped[str] = mapped_column(String(50))
    article_id: Mapped[str | None] = mapped_column(String(50))
    point: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(30))
    reason_code: Mapped[str] = mapped_column(String(100))
    subject_kind: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(2048))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    peer_domain: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CharterAcceptance(Base):
    __tablename__ = "charter_acceptances"
    __table_args__ = (Index("ix_charter_acceptances_user", "user_id", "accepted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    charter_id: Mapped[str] = mapped_column(String(50))
    charter_version: Mapped[str] = mapped_column(String(50))
    language: Mapped[str] = mapped_column(String(8))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CrossBorderConsent(Base):
    """A separate consent (e.g. PIPL art. 39) for personal data to leave for one jurisdiction."""

    __tablename__ = "cross_border_consents"
    __table_args__ = (Index("ix_cross_border_consents_user", "user_id", "jurisdiction"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    jurisdiction: Mapped[str] = mapped_column(String(16))
    text_version: Mapped[str] = mapped_column(String(50))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LegalHold(Base):
    """Suspends retention purges for a person, a community and/or a period, until released."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    person_actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id", ondelete="SET NULL"))
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
