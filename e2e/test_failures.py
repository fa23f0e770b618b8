"""Every failure a user of the writer can meet, in Chromium: the words the
contract gives it, in English and French, a reference that leads to the
server's records, retries exactly as the server's hints allow, and a way
out that works once the fault is gone."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import httpx
import pytest
from browsing import (
    OpenTab,
    Traffic,
    access_lines,
    copy_of,
    dialog,
    reset_faults,
    set_faults,
    write,
)
from playwright.sync_api import Page, Response, expect
from servers import Server

from hiccup._codes import CONTRACT

STREAM = "/api/drafts/stream"
SAVE = "/api/drafts"
#: The SDK's automatic retries of a failed attempt, at most.
SDK_RETRY_LIMIT = 2
POSTED_SAVES = {"http.route": SAVE, "http.request.method": "POST"}


def served_streams(demo: Server) -> int:
    """How many drafts the server was asked to stream, so far."""
    return len(access_lines(demo, count=0, **{"http.route": STREAM}))


def is_stream(response: Response) -> bool:
    return response.request.method == "POST" and response.url.endswith(STREAM)


@pytest.fixture(params=["en", "fr"])
def locale(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def localized(open_tab: OpenTab, locale: str) -> Page:
    """A tab on the writer whose browser speaks ``locale``, its clock the
    test's to move."""
    return open_tab(locale={"en": "en-US", "fr": "fr-FR"}[locale], clock=True)


# Faults of the writer that reach the user, and the code each shows.
WRITER_FAULTS = [
    pytest.param(
        ({"rate_limited": True, "retry_after_s": 1}, "RATE_LIMITED"), id="429"
    ),
    pytest.param(
        ({"fallbacks": False, "overloaded": True}, "MODEL_OVERLOADED"), id="overloaded"
    ),
    pytest.param(
        ({"fallbacks": False, "outage": True}, "MODEL_UNAVAILABLE"), id="outage"
    ),
    pytest.param(
        ({"fallbacks": False, "error_rate": 1.0}, "MODEL_UNAVAILABLE"), id="error-rate"
    ),
    pytest.param(({"safety_block": True}, "MODEL_OUTPUT_BLOCKED"), id="safety-block"),
    pytest.param(
        ({"context_too_long": True}, "MODEL_CONTEXT_TOO_LONG"), id="context-too-long"
    ),
    pytest.param(({"mid_stream_error": True}, "MODEL_UNAVAILABLE"), id="mid-stream"),
]


@pytest.mark.parametrize("fault", WRITER_FAULTS)
def test_a_writer_fault_shows_its_words_a_reference_and_a_way_out(
    localized: Page,
    demo: Server,
    locale: str,
    fault: tuple[dict[str, object], str],
    shots: Path,
) -> None:
    page = localized
    switches, code = fault
    set_faults(demo, **switches)
    stream = Traffic(STREAM, "POST").watch(page)
    before = served_streams(demo)

    with page.expect_response(is_stream) as answered:
        write(page)

    modal = dialog(page)
    expect(modal).to_be_visible()
    failed = answered.value
    request_id = failed.headers["x-request-id"]
    params = {"seconds": 1} if code == "RATE_LIMITED" else {"model": "writer-large"}
    words = copy_of(code, locale, params)
    expect(modal).to_contain_text(words["title"])
    expect(modal).to_contain_text(words["message"])
    expect(modal.locator(".reference code")).to_have_text(request_id)
    # The reference leads to the server's line, and to its trace.
    [line] = access_lines(demo, request_id=request_id)
    assert line["http.route"] == STREAM
    assert re.fullmatch(r"[0-9a-f]{32}", line["trace_id"])
    detail = httpx.get(f"{demo.url}/_hiccup/api/requests/{request_id}").json()
    assert detail["trace"]["trace_id"] == line["trace_id"]
    # A stream is never sent again on its own: the page sent one, and the
    # server saw one.
    assert len(stream.requests) == 1
    assert served_streams(demo) - before == 1
    if code == "RATE_LIMITED":
        modal.screenshot(path=shots / f"modal-{locale}.png")

    if not CONTRACT.codes[code].retry.user:
        expect(
            modal.get_by_role("button", name=re.compile("try again|réessayer", re.I))
        ).to_have_count(0)
        return
    reset_faults(demo)
    # "Try again" waits out the server's hint first; the page's clock skips it.
    page.clock.fast_forward(CONTRACT.codes[code].retry.after_ms or 0)
    modal.locator("button.primary").click()
    expect(page.get_by_test_id("draft-output")).to_contain_text(
        "Here is a first draft about a launch note", timeout=15_000
    )
    expect(modal).to_be_hidden()


def test_a_dropped_connection_reads_as_the_network_failing(
    page: Page, demo: Server
) -> None:
    set_faults(demo, drop_connection=True)

    write(page)

    modal = dialog(page)
    expect(modal).to_be_visible()
    words = copy_of("NETWORK_OFFLINE", "en")
    expect(modal).to_contain_text(words["title"])
    reset_faults(demo)
    modal.locator("button.primary").click()
    expect(page.get_by_test_id("draft-output")).to_contain_text(
        "Here is a first draft", timeout=15_000
    )


def test_a_save_is_retried_as_the_retry_after_says_and_no_more(
    page: Page, demo: Server
) -> None:
    set_faults(demo, rate_limited=True, retry_after_s=1)
    saves = Traffic(SAVE, "POST").watch(page)
    before = len(access_lines(demo, count=0, **POSTED_SAVES))

    page.get_by_test_id("title").fill("Launch")
    page.get_by_test_id("draft-prompt").fill("A note on the launch")
    page.get_by_test_id("save").click()

    expect(dialog(page)).to_be_visible(timeout=15_000)
    sent = saves.requests
    assert len(sent) == 1 + SDK_RETRY_LIMIT
    keys = {request.headers["idempotency-key"] for request in sent}
    assert len(keys) == 1
    # By the browser's own clock: each retry starts a full Retry-After after
    # the one before it was sent, and after its answer came.
    starts = [request.timing["startTime"] for request in sent]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert all(gap >= 1000 for gap in gaps), gaps
    saved = access_lines(demo, count=before + len(sent), **POSTED_SAVES)
    statuses = [line["http.response.status_code"] for line in saved[before:]]
    assert statuses == [429] * len(sent)


def test_an_outage_is_papered_over_and_the_draft_says_so(
    localized: Page, demo: Server, locale: str
) -> None:
    set_faults(demo, outage=True)
    with localized.expect_response(is_stream) as answered:
        write(localized)

    note = localized.get_by_test_id("degraded")
    expect(note).to_be_visible(timeout=15_000)
    expect(note).to_have_text(
        {"en": "Written by a smaller model", "fr": "Rédigé par un modèle plus petit"}[
            locale
        ]
    )
    assert answered.value.headers["x-degraded"] == "writer"
    expect(dialog(localized)).to_have_count(0)


def test_the_dashboard_shows_what_worked_and_a_message_for_what_failed(
    page: Page, demo: Server, shots: Path
) -> None:
    set_faults(demo, failing_widget="models")

    page.get_by_test_id("dashboard-reload").click()

    failed = page.get_by_test_id("widget-models")
    expect(failed).to_have_attribute("data-state", "failed")
    expect(failed).to_contain_text(copy_of("DEPENDENCY_UNAVAILABLE", "en")["title"])
    for name in ("usage", "drafts", "tips"):
        expect(page.get_by_test_id(f"widget-{name}")).to_have_attribute(
            "data-state", "ok"
        )
    expect(dialog(page)).to_have_count(0)
    page.locator("#widgets").screenshot(path=shots / "dashboard-partial.png")


def test_the_form_shows_a_message_by_each_wrong_field(page: Page) -> None:
    page.get_by_test_id("title").fill("")
    page.get_by_test_id("draft-prompt").fill("A note")
    page.get_by_test_id("save").click()

    title = page.get_by_test_id("title")
    expect(title).to_have_attribute("aria-invalid", "true")
    message = page.locator("#title-error")
    expect(message).to_be_visible()
    expect(message).not_to_be_empty()
    expect(page.get_by_test_id("draft-prompt")).not_to_have_attribute(
        "aria-invalid", "true"
    )


def test_an_error_mid_stream_ends_with_a_message_not_a_hang(
    page: Page, demo: Server
) -> None:
    set_faults(demo, mid_stream_error=True)

    write(page)

    expect(dialog(page)).to_be_visible(timeout=15_000)
    # The words that came before the failure stay on the page.
    expect(page.get_by_test_id("draft-output")).to_contain_text("Here is a")


def test_latency_past_the_timeout_reads_as_too_slow_and_try_again_recovers(
    page: Page, demo: Server
) -> None:
    page.clock.install()
    page.reload()
    set_faults(demo, latency_ms=60_000)

    write(page)
    # The SDK gives an attempt 30 s; the page's clock runs them at once.
    page.clock.fast_forward(30_000)

    modal = dialog(page)
    expect(modal).to_be_visible()
    expect(modal).to_contain_text(copy_of("REQUEST_TIMED_OUT", "en")["title"])
    reset_faults(demo)
    page.clock.fast_forward(CONTRACT.codes["REQUEST_TIMED_OUT"].retry.after_ms or 0)
    modal.locator("button.primary").click()
    expect(page.get_by_test_id("draft-output")).to_contain_text(
        "Here is a first draft", timeout=15_000
    )


SERVER_CODES = [
    name
    for name, spec in CONTRACT.codes.items()
    if not spec.client and not spec.field and spec.status >= 400
]


def test_any_code_raised_from_the_qa_panel_shows_its_words(
    localized: Page, demo: Server, locale: str
) -> None:
    page = localized
    page.goto(f"{demo.url}/qa")

    for code in SERVER_CODES:
        page.get_by_test_id("code").select_option(code)
        page.get_by_test_id("raise").click()
        modal = dialog(page)
        spec = CONTRACT.codes[code]
        examples = {name: param.example for name, param in spec.params.items()}
        if "seconds" in examples and spec.retry.after_ms is not None:
            examples["seconds"] = -(-spec.retry.after_ms // 1000)
        expect(modal, code).to_contain_text(copy_of(code, locale, examples)["title"])
        page.keyboard.press("Escape")
        expect(modal, code).to_have_count(0)
