"""What start-up made is frozen out of the collector's full collections once the app is ready."""

from __future__ import annotations

import gc

from server.app import create_app
from server.context import Context
from server.heap import settle_after_start


def test_settle_after_start_freezes_the_survivors() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    kept = [object() for _ in range(10)]
    settle_after_start()
    assert gc.get_freeze_count() > len(kept)
    gc.unfreeze()


async def test_the_app_freezes_once_started(ctx: Context) -> None:
    gc.unfreeze()
    app = create_app(ctx.settings, context=ctx)
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0
    gc.unfreeze()
