"""The complete metadata: importing this module registers every table."""

from __future__ import annotations

from server.storage import compliance, delivery_models, identity, mail, models, social  # noqa: F401  (registers the tables)
from server.storage.base import Base

metadata = Base.metadata
