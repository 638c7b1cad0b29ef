"""The garbage collector in a long-running server.

Python's cyclic collector now and then walks every object it tracks (a full collection). What a process
makes while it starts (modules, templates, the charter, the ORM's mappings, the data a benchmark or a
migration left behind) lives as long as the process, yet each full collection walks it again: on a
loaded instance that is a request, now and then, held up 100 ms or more. Once started, these objects are
moved out of the collector's sight (`gc.freeze`), as large Python web services do; what requests make is
collected as before.
"""

from __future__ import annotations

import gc


def settle_after_start() -> None:
    """Collect what start-up left behind, then freeze the survivors (call once, when ready to serve)."""
    gc.collect()
    gc.freeze()
