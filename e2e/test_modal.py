"""The failure modal with the keyboard alone, and axe-core's view of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browsing import OpenTab, dialog, reset_faults, set_faults, write
from playwright.sync_api import Page, expect
from servers import Server

AXE = Path(__file__).resolve().parents[1] / "demo-app" / "web" / "node_modules"
AXE_SCRIPT = AXE / "axe-core" / "axe.min.js"


# The focused element, looked for inside the modal's shadow root too.
_FOCUSED = """() => {
    let active = document.activeElement;
    while (active && active.shadowRoot && active.shadowRoot.activeElement) {
        active = active.shadowRoot.activeElement;
    }
    return active;
}"""


def focused_label(page: Page) -> str:
    """The text of the focused element."""
    script = f"() => ({_FOCUSED})()?.textContent.trim() ?? ''"
    return str(page.evaluate(script))


def focus_is_in_dialog(page: Page) -> bool:
    script = f"() => Boolean(({_FOCUSED})()?.closest('[role=\"alertdialog\"]'))"
    return bool(page.evaluate(script))


def open_modal(page: Page, demo: Server) -> None:
    set_faults(demo, rate_limited=True, retry_after_s=1)
    page.get_by_test_id("prompt").focus()
    page.keyboard.type("a launch note")
    # Writing, by keyboard: Tab to the button, Enter to press it.
    page.keyboard.press("Tab")
    assert focused_label(page) == "Write"
    page.keyboard.press("Enter")
    expect(dialog(page)).to_be_visible()


def test_the_modal_works_with_the_keyboard_alone(page: Page, demo: Server) -> None:
    open_modal(page, demo)

    assert focus_is_in_dialog(page)
    seen = []
    for _ in range(6):
        seen.append(focused_label(page))
        page.keyboard.press("Tab")
        assert focus_is_in_dialog(page), seen
    # Tab goes round the dialog's buttons and never leaves it.
    assert set(seen) == {"Copy", "Close", "Try again"}
    page.keyboard.press("Shift+Tab")
    assert focus_is_in_dialog(page)

    page.keyboard.press("Escape")
    expect(dialog(page)).to_have_count(0)
    # Focus goes back to what opened the modal.
    assert focused_label(page) == "Write"


def test_try_again_by_keyboard_recovers(page: Page, demo: Server) -> None:
    page.clock.install()
    open_modal(page, demo)
    reset_faults(demo)
    page.clock.fast_forward(1_000)

    while focused_label(page) != "Try again":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    expect(page.get_by_test_id("draft-output")).to_contain_text(
        "Here is a first draft", timeout=15_000
    )
    expect(dialog(page)).to_have_count(0)


@pytest.mark.parametrize("locale", ["en-US", "fr-FR"])
def test_axe_finds_nothing_serious_in_the_open_modal(
    open_tab: OpenTab, demo: Server, locale: str
) -> None:
    page = open_tab(locale=locale)
    set_faults(demo, fallbacks=False, overloaded=True)
    write(page)
    expect(dialog(page)).to_be_visible()
    page.add_script_tag(path=str(AXE_SCRIPT))

    results: dict[str, Any] = page.evaluate(
        """async () => {
            const results = await window.axe.run(document, {
                resultTypes: ["violations"],
            });
            return { violations: results.violations.map((v) => ({
                id: v.id, impact: v.impact, nodes: v.nodes.length })) };
        }"""
    )

    serious = [
        v for v in results["violations"] if v["impact"] in ("serious", "critical")
    ]
    assert serious == []
