"""What the writer does when nothing fails outright: slowness, a job in the
background, readiness, and a failure's trace in the console."""

from __future__ import annotations

import httpx
from browsing import dialog, set_faults, write
from playwright.sync_api import Page, expect
from servers import Server


def test_latency_slows_the_draft_but_it_arrives(page: Page, demo: Server) -> None:
    set_faults(demo, latency_ms=1500)

    write(page)

    output = page.get_by_test_id("draft-output")
    expect(output).to_contain_text("Here is a first draft", timeout=15_000)
    expect(dialog(page)).to_have_count(0)


def test_a_summary_runs_in_the_background_and_joins_the_request_trace(
    page: Page, demo: Server
) -> None:
    page.get_by_test_id("title").fill("Launch")
    page.get_by_test_id("draft-prompt").fill("A note on the launch")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("drafts-list")).to_contain_text("Launch")

    with page.expect_response(
        lambda r: r.url.endswith("/api/jobs/summarise")
    ) as queued:
        page.get_by_test_id("summarise").click()

    expect(page.get_by_test_id("job-status")).to_have_attribute("data-status", "done")
    expect(page.locator("#job-summary")).to_contain_text("Launch")
    request_id = queued.value.headers["x-request-id"]
    lines = [line for line in demo.lines() if line.get("request_id") == request_id]
    events = {line.get("event"): line for line in lines}
    # The worker's line carries the queuing request's ID and trace.
    assert events["job.done"]["trace_id"] == events["job.queued"]["trace_id"]


def test_a_slow_dependency_fails_readiness_while_the_page_still_works(
    page: Page, demo: Server
) -> None:
    set_faults(demo, slow_dependency=True)

    def readiness() -> str:
        return httpx.get(f"{demo.url}/readyz", params={"verbose": ""}).text

    # The check runs every 2 s and gives up after 1 s.
    answer = ""
    for _ in range(100):
        answer = readiness()
        if "[-]search failed" in answer:
            break
        page.wait_for_timeout(100)

    assert "[-]search failed: timed out after 1.0 s" in answer
    assert httpx.get(f"{demo.url}/readyz").status_code == 503
    assert httpx.get(f"{demo.url}/livez").status_code == 200
    write(page)
    expect(page.get_by_test_id("draft-output")).to_contain_text("Here is a first draft")


def test_a_failures_trace_is_in_the_console(page: Page, demo: Server) -> None:
    set_faults(demo, fallbacks=False, overloaded=True)

    with page.expect_response(lambda r: r.url.endswith("/api/drafts/stream")) as failed:
        write(page)
    expect(dialog(page)).to_be_visible()

    request_id = failed.value.headers["x-request-id"]
    detail = httpx.get(f"{demo.url}/_hiccup/api/requests/{request_id}").json()
    spans = detail["trace"]["spans"]
    names = {span["name"] for span in spans}
    assert "POST /api/drafts/stream" in names
    assert any(span["status"] == "error" for span in spans)
    assert detail["request"]["error_code"] == "MODEL_OVERLOADED"
