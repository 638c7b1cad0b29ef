"""A real `cercle run` process and Debian's Chromium driven by Playwright (never `playwright install`).

Outside CI the test modules skip when Playwright or Chromium is missing (`skip_without_a_browser`); in CI
(`CI` set) they must run. Playwright is imported only inside the fixtures, so this file loads without it.
Screenshots of the main pages go to `docs/screenshots/` only when `CERCLE_SCREENSHOTS=1`.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.pg import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

REPO = Path(__file__).resolve().parents[2]
CERCLE = str(Path(sys.executable).parent / "cercle")
CHROMIUM = os.environ.get("CERCLE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = REPO / "docs" / "screenshots"


def skip_without_a_browser() -> None:
    """Call at the top of a browser test module: outside CI, no Playwright or no Chromium skips it."""
    if os.environ.get("CI"):
        return
    pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)


@dataclass
class Instance:
    url: str
    directory: Path

    def cercle(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cercle(self.directory, *args)


def _environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CERCLE_")}
    environment["CERCLE_CHARTER_DIR"] = str(REPO / "charter")
    environment["CERCLE_PASSWORD_TIME_COST"] = "1"
    environment["CERCLE_PASSWORD_MEMORY_KIB"] = "1024"
    return environment


def run_cercle(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [CERCLE, *args],
        cwd=directory,
        env=_environment(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


@contextlib.contextmanager
def serving(directory: Path, port: int) -> Iterator[Instance]:
    """`cercle run` in `directory` on `port`, until ready (`/readyz`); stopped on exit."""
    log = (directory / "run.log").open("wb")
    process = subprocess.Popen(
        [CERCLE, "run", "--port", str(port)],
        cwd=directory,
        env=_environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError((directory / "run.log").read_text())
            time.sleep(0.2)
        yield Instance(url=url, directory=directory)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """`cercle init` then `cercle run` on a free port, with people made by `cercle user create`."""
    directory = tmp_path_factory.mktemp("browser-instance")
    port = free_port()
    run_cercle(directory, "init", "--domain", f"127.0.0.1:{port}", "--registration", "open")
    for name in ("manon", "bruno", "chloe"):
        run_cercle(
            directory, "user", "create", name, "--email", f"{name}@corp.example", "--password", PASSWORD
        )
    with serving(directory, port) as running:
        yield running


@pytest.fixture(scope="module")
# Module scope, not session: the sync API runs an event loop in this thread while it is open,
# which would stop every later asyncio.run() in the session.
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


def new_context(browser: Browser, instance: Instance, **options: Any) -> BrowserContext:
    options.setdefault("viewport", DESKTOP)
    options.setdefault("locale", "en-GB")
    context = browser.new_context(base_url=instance.url, **options)
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def page(browser: Browser, instance: Instance) -> Iterator[Page]:
    context = new_context(browser, instance)
    yield context.new_page()
    context.close()


def sign_in(page: Page, name: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("User name or e-mail").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


def accept_charter(page: Page) -> None:
    page.goto("/charter")
    button = page.get_by_role("button", name="I have read and accept the charter")
    if button.count():
        button.click()
        page.wait_for_load_state()


A11Y_CHECK = (Path(__file__).parent / "a11y.js").read_text()


def accessibility_problems(page: Page) -> list[str]:
    problems: list[str] = page.evaluate(A11Y_CHECK)
    return problems


def screenshot(page: Page, name: str) -> None:
    """Keep a picture of the page in docs/screenshots (only when asked: CERCLE_SCREENSHOTS=1)."""
    if os.environ.get("CERCLE_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    suffix = "phone" if width < 600 else "desktop"
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{suffix}.png"), full_page=width < 600)
