"""What every `cercle` command shares: finding the config, reading settings, running async work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from server.config import Settings, SettingsError, load_settings
from server.context import Context, build_context
from server.errors import CercleError
from server.logging_setup import configure_logging

DEFAULT_CONFIG = Path("cercle.toml")
T = TypeVar("T")


def fail(message: str) -> None:
    raise click.ClickException(message)


def config_path(ctx: click.Context) -> Path | None:
    value: Path | None = ctx.obj["config"]
    if value is not None:
        return value
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def settings_of(ctx: click.Context) -> Settings:
    try:
        settings = load_settings(config_path(ctx))
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    configure_logging(settings)
    return settings


def run_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop where it is installed (a dependency on Linux and macOS), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def run_async(make: Callable[[Context], Coroutine[Any, Any, T]], settings: Settings) -> T:
    async def main() -> T:
        try:
            context = build_context(settings)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc
        try:
            return await make(context)
        except CercleError as exc:
            raise click.ClickException(f"{exc.field}: {exc.message}" if exc.field else exc.message) from exc
        finally:
            await context.close()

    return run_loop(main())
