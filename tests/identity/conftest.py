"""Fixtures of the identity tests: a real OIDC provider process, and Cercle apps with the identity routes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from server.app import create_app
from server.clock import FakeClock
from server.context import Context, build_context
from server.identity import routes as identity_routes
from tests.conftest import make_settings
from tests.pg import free_port

REPO = Path(__file__).resolve().parents[2]
CLIENT_ID = "cercle-paris"
CLIENT_SECRET = "provider-secret-" + "s" * 24
CALLBACK = "http://localhost:8000/login/sso/callback"
SCIM_TOKEN = "scim-token-" + "t" * 40
BASE_URL = "http://localhost:8000"


@dataclass
class Provider:
    issuer: str

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def sign_in_as(self, claims: dict[str, Any]) -> None:
        """Who is signed in at the provider (the next authorization approves for them)."""
        httpx.post(f"{self.issuer}/test/user", json=claims, timeout=10).raise_for_status()


@pytest.fixture(scope="session")
def provider() -> Iterator[Provider]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.identity.provider",
            "--port",
            str(port),
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            "--redirect-uri",
            CALLBACK,
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    found = Provider(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(found.discovery_url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the OIDC provider did not start: {process.stderr!r}")
            time.sleep(0.1)
        yield found
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def identity_app(ctx: Context) -> Starlette:
    """The Cercle app, with the identity routes mounted if the factory does not mount them yet."""
    app = create_app(ctx.settings, context=ctx)
    if not any(getattr(route, "path", None) == "/login/sso" for route in app.routes):
        app.router.routes.extend(identity_routes.routes)
    return app


def sso_settings(database_url: str, tmp_path: Path, provider: Provider, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "oidc_discovery_url": provider.discovery_url,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_admin_claim": "groups",
        "oidc_admin_value": "cercle-admins",
        "oidc_claims": {"site": "address.locality"},
        "scim_token": SCIM_TOKEN,
    }
    values.update(overrides)
    return make_settings(database_url, tmp_path, **values)


@dataclass
class Instance:
    """A Cercle instance under test: a browser (with cookies), the directory's SCIM client, the context."""

    browser: httpx.AsyncClient
    directory: httpx.AsyncClient
    ctx: Context


@pytest.fixture
async def instance(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path, provider: Provider
) -> AsyncIterator[Instance]:
    overrides = getattr(request, "param", {})
    settings = sso_settings(database_url, tmp_path, provider, **overrides)
    ctx = build_context(settings, clock=FakeClock())
    transport = httpx.ASGITransport(app=identity_app(ctx), client=("127.0.0.1", 40000))
    scim_headers = {"Authorization": f"Bearer {SCIM_TOKEN}", "Content-Type": "application/scim+json"}
    async with (
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as browser,
        httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=scim_headers) as directory,
    ):
        yield Instance(browser, directory, ctx)
    await ctx.close()
