from __future__ import annotations

import re

import httpx
from openapi_spec_validator import validate
from starlette.routing import Route


async def test_openapi_document_is_valid_and_describes_every_api_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    app = client._transport.app  # type: ignore[attr-defined]
    described = {(path, method) for path, ops in document["paths"].items() for method in ops}
    missing = []
    for route in app.routes:
        if not isinstance(route, Route) or not route.path.startswith("/api/v1/"):
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for method in route.methods or ():
            if method in ("HEAD", "OPTIONS"):
                continue
            if (path, method.lower()) not in described:
                missing.append(f"{method} {path}")
    assert missing == []
