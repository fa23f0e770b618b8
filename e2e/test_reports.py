"""What users saw reaches the server's metrics: the page's beacon reporter
sends the SDK's records to the demo, which counts them by kind and code for
the Frontend dashboard."""

from __future__ import annotations

import time

import httpx
from browsing import dialog, reset_faults, set_faults, write
from playwright.sync_api import Page, expect
from prometheus_client.parser import text_string_to_metric_families
from servers import Server

CODE = "RATE_LIMITED"


def client_events(demo: Server) -> dict[str, float]:
    """The demo's count of the SDK's records of ``CODE``, by kind."""
    text = httpx.get(f"{demo.url}/metrics").text
    return {
        sample.labels["kind"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "hiccup_client_events"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels["code"] == CODE
    }


def test_a_failure_and_its_recovery_are_counted_once_the_page_is_left(
    page: Page, demo: Server
) -> None:
    before = client_events(demo)
    page.clock.install()
    set_faults(demo, rate_limited=True, retry_after_s=1)
    write(page)
    expect(dialog(page)).to_be_visible()
    reset_faults(demo)
    page.clock.fast_forward(1_000)

    dialog(page).get_by_role("button", name="Try again").click()
    expect(dialog(page)).to_have_count(0)
    expect(page.get_by_test_id("draft-output")).to_contain_text(
        "Here is a first draft", timeout=15_000
    )
    # Leaving the page is the reporter's last chance, and it takes it.
    page.close(run_before_unload=True)

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        after = client_events(demo)
        grown = {
            kind: count - before.get(kind, 0)
            for kind, count in after.items()
            if count > before.get(kind, 0)
        }
        if grown.get("recovered"):
            break
        time.sleep(0.2)
    assert grown == {"error": 1, "modal_shown": 1, "recovered": 1}
