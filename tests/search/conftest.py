from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from server.api import analytics as analytics_api
from server.api import search as search_api
from server.app import create_app
from server.context import Context


@pytest.fixture
async def api(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the search and analytics routes (mounted here until app.py lists them)."""
    app = create_app(ctx.settings, context=ctx)
    present = {getattr(r, "path", None) for r in app.router.routes}
    for route in [*search_api.routes, *analytics_api.routes]:
        if route.path not in present:
            app.router.routes.insert(0, route)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as http:
        yield http
