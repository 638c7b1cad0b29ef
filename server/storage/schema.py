"""The complete metadata: importing this module registers every table."""

from __future__ import annotations

from server.storage import (  # noqa: F401  (registers the tables)
    analytics,
    backfill,
    compliance,
    delivery_models,
    identity,
    mail,
    models,
    moderation,
    social,
)
from server.storage.base import Base

metadata = Base.metadata
