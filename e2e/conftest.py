"""The demo app under uvicorn, and Chromium driven by Playwright.

The browser is Debian's Chromium (``HICCUP_E2E_CHROMIUM``, else the one on
the path); Playwright downloads none. Screenshots go to ``build/e2e``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browsing import reset_faults
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from servers import Server
from writer_support import demo_server

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo-app"
SHOTS = ROOT / "build" / "e2e"
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = os.environ.get("HICCUP_E2E_CHROMIUM") or shutil.which("chromium")
    if executable is None:
        pytest.fail("no Chromium: install Debian's chromium or set HICCUP_E2E_CHROMIUM")
    launched = playwright.chromium.launch(
        executable_path=executable, args=list(CHROMIUM_FLAGS)
    )
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo app as ``nox -s demo`` serves it, on a database of its own."""
    if not (DEMO / "web" / "dist" / "main.js").is_file():
        pytest.fail(
            "the demo page is not built: npm ci && npm run build in demo-app/web"
        )
    # As on a developer's laptop: the local console is served.
    folder = tmp_path_factory.mktemp("demo")
    with demo_server(folder, HICCUP_ENVIRONMENT="development") as server:
        yield server


@pytest.fixture
def page(browser: Browser, demo: Server) -> Iterator[Page]:
    """A fresh tab on the writer, in English; the switches reset after it."""
    context = browser.new_context(locale="en-US")
    opened = context.new_page()
    opened.goto(demo.url)
    yield opened
    context.close()
    reset_faults(demo)


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
