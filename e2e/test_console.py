"""The local console shows what the writer did: its requests, a request's
trace and lines, its errors and live charts."""

from __future__ import annotations

import httpx
from browsing import dialog, reset_faults, set_faults, write
from playwright.sync_api import Page, expect
from servers import Server


def test_the_console_shows_requests_traces_lines_errors_and_charts(
    page: Page, demo: Server, shots: object
) -> None:
    write(page)
    expect(page.get_by_test_id("draft-output")).to_contain_text("Here is a first draft")
    httpx.get(f"{demo.url}/api/codes/INTERNAL")
    set_faults(demo, fallbacks=False, overloaded=True)
    write(page)
    expect(dialog(page)).to_be_visible()
    reset_faults(demo)

    console = page.context.new_page()
    console.goto(f"{demo.url}/_hiccup")

    rows = console.get_by_test_id("requests").locator("tr")
    expect(rows.filter(has_text="/api/drafts/stream").first).to_be_visible()
    expect(rows.filter(has_text="/_hiccup")).to_have_count(0)
    rows.filter(has_text="MODEL_OVERLOADED").first.click()
    expect(console.get_by_test_id("waterfall").locator(".span").first).to_contain_text(
        "/api/drafts/stream"
    )
    expect(console.get_by_test_id("lines")).to_contain_text("hiccup.error")
    expect(console.get_by_test_id("errors")).to_contain_text("Problem")
    # Two readings of the metrics make a rate.
    expect(console.get_by_test_id("chart-rate")).to_contain_text("/s", timeout=10_000)
    expect(console.get_by_test_id("chart-breakers")).to_contain_text("writer-large")
    console.screenshot(path=f"{shots}/console.png", full_page=True)
