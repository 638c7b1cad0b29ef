"""The application factory: the one place that wires settings, storage, web, API and metrics."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from server.api import analytics, communities, media, openapi, posts, profiles, search, v1
from server.api import charter as charter_api
from server.api import moderation as moderation_api
from server.clock import Clock
from server.config import Settings, load_settings
from server.context import Context, build_context
from server.errors import CercleError
from server.federation import routes as federation
from server.federation.state import Federation
from server.heap import settle_after_start
from server.identity import routes as identity
from server.logging_setup import configure_logging
from server.mail import routes as mail_routes
from server.web import pages
from server.web.csrf import CSRFMiddleware
from server.web.health import healthz, readyz
from server.web.metrics import Metrics, MetricsMiddleware, metrics_endpoint
from server.web.problems import cercle_error, http_error, server_error
from server.web.templating import build_templates
from server.workers import Background

SESSION_COOKIE = "cercle_session"
SESSION_MAX_AGE = 14 * 24 * 3600


def create_app(
    settings: Settings, *, clock: Clock | None = None, context: Context | None = None
) -> Starlette:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        federation = Federation(ctx)
        app.state.federation = federation
        background = Background(ctx, federation, metrics=metrics)
        if settings.run_workers_in_process:
            await background.start()
        settle_after_start()
        yield
        await background.stop()
        if context is None:
            await ctx.close()

    ctx = context or build_context(settings, clock=clock)
    static_dir = Path(__file__).parent / "web" / "static"
    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            Mount("/static", app=StaticFiles(directory=str(static_dir)), name="static"),
            *federation.routes,  # before the pages: they answer only requests for ActivityStreams
            *identity.routes,
            *pages.routes,
            *v1.routes,
            *communities.routes,
            *openapi.routes,
            *posts.routes,
            *profiles.routes,
            *media.routes,
            *charter_api.routes,
            *search.routes,
            *analytics.routes,
            *moderation_api.routes,
            *mail_routes.routes,
        ],
        middleware=[
            Middleware(MetricsMiddleware, metrics=metrics),
            Middleware(
                SessionMiddleware,
                secret_key=settings.secret_key.get_secret_value(),
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_MAX_AGE,
                same_site="lax",
                https_only=settings.scheme == "https",
            ),
            Middleware(CSRFMiddleware, cookie_name=SESSION_COOKIE),
        ],
        exception_handlers={CercleError: cercle_error, HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.metrics = metrics

    app.state.templates = build_templates()
    return app


def app_from_environment() -> Starlette:
    """The factory `cercle run` hands to uvicorn: settings from `CERCLE_CONFIG` and the environment."""
    config = os.environ.get("CERCLE_CONFIG")
    settings = load_settings(Path(config) if config else None)
    configure_logging(settings)
    return create_app(settings)
