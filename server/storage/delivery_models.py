"""Tables of the durable delivery queue (the transactional outbox) and of peer health."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.storage.base import Base, UTCDateTime


class DeliveryStream(Base):
    """One ordered stream per destination inbox; a worker holds its lease while it sends."""

    __tablename__ = "delivery_streams"
    __table_args__ = (Index("ix_delivery_streams_due", "next_attempt_at"),)

    destination: Mapped[str] = mapped_column(String(2048), primary_key=True)
    peer_domain: Mapped[str] = mapped_column(String(255), index=True)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pending: Mapped[int] = mapped_column(Integer, default=0)


class Delivery(Base):
    """One activity for one destination. Written in the same transaction as the content it carries."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_stream", "destination", "state", "id"),
        Index("ix_deliveries_post", "post_id"),
        Index("ix_deliveries_activity_uri", "activity_uri"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    destination: Mapped[str] = mapped_column(String(2048))
    peer_domain: Mapped[str] = mapped_column(String(255))
    activity_uri: Mapped[str] = mapped_column(String(2048))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    signer_actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    article: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))  # pending | delivered | given_up
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PeerHealth(Base):
    """How a peer instance answers: the circuit breaker and the unreachable mark live here."""

    __tablename__ = "peer_health"

    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    circuit_open_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
