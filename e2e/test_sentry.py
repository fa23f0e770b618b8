"""A failure the user meets reaches Sentry twice, from the page and from the
server, as one trace; the page's event names the source map it needs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browsing import OpenTab, dialog, set_faults, write
from playwright.sync_api import expect
from sentry_ingest import SentryIngest
from servers import Server
from writer_support import demo_server

ROOT = Path(__file__).resolve().parents[1]
BUNDLE_MAP = ROOT / "demo-app" / "web" / "dist" / "main.js.map"


@pytest.fixture(scope="module")
def ingest() -> Iterator[SentryIngest]:
    with SentryIngest() as running:
        yield running


@pytest.fixture(scope="module")
def reporting_demo(
    tmp_path_factory: pytest.TempPathFactory, ingest: SentryIngest
) -> Iterator[Server]:
    """The demo, with its Sentry DSN pointing at the ingest on loopback."""
    folder = tmp_path_factory.mktemp("sentry-demo")
    env = {"HICCUP_SENTRY_DSN": ingest.dsn, "HICCUP_VERSION": "demo-e2e"}
    with demo_server(folder, **env) as server:
        yield server


def wait_for(found: Callable[[], list[Any]], timeout: float = 15) -> list[Any]:
    deadline = time.monotonic() + timeout
    while not (items := found()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return items


def test_a_failure_reaches_sentry_from_the_page_and_the_server_as_one_trace(
    open_tab: OpenTab, reporting_demo: Server, ingest: SentryIngest
) -> None:
    page = open_tab(reporting_demo)
    set_faults(reporting_demo, fallbacks=False, overloaded=True)
    write(page)
    expect(dialog(page)).to_be_visible()
    request_id = dialog(page).locator(".reference code").inner_text()

    def from_(platform: str) -> Callable[[], list[Any]]:
        return lambda: [e for e in ingest.events() if e.get("platform") == platform]

    [page_event] = wait_for(from_("javascript"))
    [server_event] = wait_for(from_("python"))

    tags = page_event["tags"]
    assert tags["error.code"] == "MODEL_OVERLOADED"
    assert tags["request_id"] == request_id
    assert tags["trace_id"] == server_event["contexts"]["trace"]["trace_id"]
    assert page_event["release"] == "demo-e2e"
    # The stack trace names the bundle by the debug ID its map carries.
    debug_id = json.loads(BUNDLE_MAP.read_text())["debugId"]
    images = page_event["debug_meta"]["images"]
    assert {image["debug_id"] for image in images} == {debug_id}
    assert all(image["code_file"].endswith("/static/main.js") for image in images)
    # And nothing the user typed went with either event.
    assert "launch note" not in json.dumps(page_event)
    assert "launch note" not in json.dumps(server_event)
