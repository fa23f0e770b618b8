"""The demo app under uvicorn, and Chromium driven by Playwright.

The browser is Debian's Chromium (``HICCUP_E2E_CHROMIUM``, else the one on
the path); Playwright downloads none. Screenshots go to ``build/e2e``, and
so does what a failed test's tab saw: a screenshot, its console, the
requests it sent and how they ended, and the demo's last log lines.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from browsing import OpenTab, reset_faults
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Error,
    Page,
    Playwright,
    sync_playwright,
)
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


#: Each test's call report, for fixtures to know whether it failed.
CALLS = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[CALLS] = report
    return report


def _watch(opened: Page) -> list[str]:
    """Return a list that fills with the tab's console and network events."""
    seen: list[str] = []
    opened.on("console", lambda m: seen.append(f"console {m.type}: {m.text}"))
    opened.on("request", lambda r: seen.append(f"request {r.method} {r.url}"))
    opened.on(
        "requestfailed",
        lambda r: seen.append(f"failed {r.method} {r.url}: {r.failure}"),
    )
    opened.on("response", lambda r: seen.append(f"response {r.status} {r.request.url}"))
    return seen


def _keep_evidence(name: str, opened: Page, seen: list[str], demo: Server) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    stem = SHOTS / f"failed-{name.replace('/', '_')}"
    if not opened.is_closed():
        try:
            opened.screenshot(path=stem.with_suffix(".png"), full_page=True)
        except Error as exc:
            seen.append(f"no screenshot: {exc}")
    server = demo.output.read_text(errors="replace").splitlines()[-80:]
    stem.with_suffix(".txt").write_text(
        "\n".join([*seen, "", "server:", *server]) + "\n"
    )


@pytest.fixture
def open_tab(
    browser: Browser, demo: Server, request: pytest.FixtureRequest
) -> Iterator[OpenTab]:
    """Open tabs on the writer: on ``server`` (the demo unless told another),
    in ``locale``, with the page's clock under the test's control if
    ``clock``. After the test each tab is closed and its server's switches
    reset; a failed test keeps what its tabs saw."""
    opened: list[tuple[BrowserContext, Page, list[str], Server]] = []

    def open_(
        server: Server | None = None, *, locale: str = "en-US", clock: bool = False
    ) -> Page:
        served = server or demo
        context = browser.new_context(locale=locale)
        tab = context.new_page()
        seen = _watch(tab)
        if clock:
            tab.clock.install()
        tab.goto(served.url)
        opened.append((context, tab, seen, served))
        return tab

    yield open_
    report = request.node.stash.get(CALLS, None)
    for number, (context, tab, seen, served) in enumerate(opened):
        if report is not None and report.failed:
            name = request.node.name + (f"-{number}" if number else "")
            _keep_evidence(name, tab, seen, served)
        context.close()
        reset_faults(served)


@pytest.fixture
def page(open_tab: OpenTab) -> Page:
    """A fresh tab on the writer, in English; the switches reset after it."""
    return open_tab()


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
