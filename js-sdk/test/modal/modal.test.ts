// @vitest-environment happy-dom

import { afterEach, expect, describe as group, test, vi } from "vitest";
import { formatCopy, registerCopy, uiCopy } from "../../src/contract.js";
import { copy as frenchCopy } from "../../src/copy/fr.generated.js";
import { describe } from "../../src/describe.js";
import { bindReporters } from "../../src/events.js";
import {
  type FailureModalHandle,
  type FailureModalOptions,
  showFailureModal,
} from "../../src/modal/index.js";
import {
  buttonNames,
  buttonOf,
  deferred,
  dialogOf,
  focusIn,
  press,
  rateLimited,
  recorder,
  responseError,
} from "./helpers.js";

const EN = uiCopy("en");
const noUserRetry = { auto: false, user: false, afterMs: undefined };

const opened: FailureModalHandle[] = [];

afterEach(() => {
  for (const handle of opened.splice(0)) {
    handle.close();
  }
  document.body.replaceChildren();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function open(error: unknown, options?: FailureModalOptions): FailureModalHandle {
  const handle = showFailureModal(error, options);
  opened.push(handle);

  return handle;
}

// A failure the user may retry at once, with an operation to retry.
function upstreamError(requestId = "req-1") {
  const error = responseError("UPSTREAM_ERROR", 502, { requestId });
  error.tryAgain = () => Promise.resolve("again");

  return error;
}

function textOf(handle: FailureModalHandle, id: string | null): string | null {
  return handle.element.shadowRoot?.getElementById(id ?? "")?.textContent ?? null;
}

function statusText(handle: FailureModalHandle): string {
  return dialogOf(handle).querySelector("[aria-live]")?.textContent ?? "";
}

// Let pending promise callbacks run.
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

group("the dialog", () => {
  test("is a modal alertdialog", () => {
    const dialog = dialogOf(open(upstreamError()));

    expect(dialog.getAttribute("role")).toBe("alertdialog");
    expect(dialog.getAttribute("aria-modal")).toBe("true");
  });

  test("is labelled by the copy's title", () => {
    const error = upstreamError();
    const handle = open(error);

    const labelledBy = dialogOf(handle).getAttribute("aria-labelledby");

    expect(textOf(handle, labelledBy)).toBe(describe(error).title);
  });

  test("is described by the copy's message", () => {
    const error = upstreamError();
    const handle = open(error);

    const describedBy = dialogOf(handle).getAttribute("aria-describedby");

    expect(textOf(handle, describedBy)).toBe(describe(error).message);
  });

  test("is labelled by the message when the copy has no title", () => {
    const error = responseError("FIELD_REQUIRED", 422, { category: "invalid_request" });
    const handle = open(error);
    const dialog = dialogOf(handle);

    expect(textOf(handle, dialog.getAttribute("aria-labelledby"))).toBe(describe(error).message);
    expect(dialog.hasAttribute("aria-describedby")).toBe(false);
  });

  test("lists the copy's suggestions", () => {
    const error = responseError("MODEL_UNAVAILABLE", 503, { params: { model: "Writer" } });

    const items = dialogOf(open(error)).querySelectorAll("li");

    expect(Array.from(items, (item) => item.textContent)).toEqual(describe(error).suggestions);
  });

  test("lives in the container it is given", () => {
    const container = document.createElement("main");
    document.body.append(container);

    const handle = open(upstreamError(), { container });

    expect(handle.element.parentElement).toBe(container);
  });

  test("makes the rest of the page inert until it closes", () => {
    const page = document.createElement("main");
    document.body.append(page);

    const handle = open(upstreamError());
    const whileOpen = page.inert;
    handle.close();

    expect([whileOpen, page.inert]).toEqual([true, false]);
  });
});

group("focus", () => {
  test("moves to Try again when the dialog opens", () => {
    const handle = open(upstreamError());

    expect(focusIn(handle)).toBe(buttonOf(handle, EN.retry));
  });

  test("moves to the close button when there is no Try again", () => {
    const handle = open(responseError("QUOTA_EXHAUSTED", 429, { retry: noUserRetry }));

    expect(focusIn(handle)).toBe(buttonOf(handle, EN.close));
  });

  test("wraps from the last button to the first on Tab", () => {
    const handle = open(upstreamError());

    const event = press("Tab");

    expect(event.defaultPrevented).toBe(true);
    expect(focusIn(handle)).toBe(buttonOf(handle, EN.copy_reference));
  });

  test("wraps from the first button to the last on Shift+Tab", () => {
    const handle = open(upstreamError());
    buttonOf(handle, EN.copy_reference).focus();

    press("Tab", { shift: true });

    expect(focusIn(handle)).toBe(buttonOf(handle, EN.retry));
  });

  test("is left to the browser between the first and the last button", () => {
    const handle = open(upstreamError());
    buttonOf(handle, EN.close).focus();

    const event = press("Tab");

    expect(event.defaultPrevented).toBe(false);
  });

  test("returns to the element that had it when the dialog closes", () => {
    const before = document.createElement("button");
    document.body.append(before);
    before.focus();

    open(upstreamError()).close();

    expect(document.activeElement).toBe(before);
  });
});

group("closing", () => {
  test("Escape closes the dialog with the reason escape", () => {
    const onClose = vi.fn();
    const handle = open(upstreamError(), { onClose });

    press("Escape");

    expect(handle.element.isConnected).toBe(false);
    expect(onClose.mock.calls).toEqual([["escape"]]);
  });

  test("the close button closes the dialog with the reason close", async () => {
    const handle = open(upstreamError());

    buttonOf(handle, EN.close).click();

    expect(await handle.closed).toBe("close");
  });

  test("the handle closes the dialog with the reason api", async () => {
    const onClose = vi.fn();
    const handle = open(upstreamError(), { onClose });

    handle.close();
    handle.close();

    expect(await handle.closed).toBe("api");
    expect(onClose.mock.calls).toEqual([["api"]]);
  });
});

group("Try again", () => {
  test("is labelled with the copy's action", () => {
    const error = upstreamError();
    const handle = open(error);

    const label = dialogOf(handle).querySelector(".primary")?.textContent;

    expect(label).toBe(describe(error).action);
  });

  test("is labelled with the UI's retry word when the copy has no action", () => {
    const error = responseError("SOMETHING_NEWER", 503, {
      user: { locale: "en", title: "Busy", message: "Please wait." },
    });
    error.tryAgain = () => Promise.resolve();

    expect(buttonNames(open(error))).toContain(EN.retry);
  });

  test("is not offered when the error does not let the user retry", () => {
    const error = responseError("QUOTA_EXHAUSTED", 429, { retry: noUserRetry });
    error.tryAgain = () => Promise.resolve();

    expect(buttonNames(open(error))).toEqual([EN.copy_reference, EN.close]);
  });

  test("is offered for a value that is not a HiccupError when the caller gives onRetry", () => {
    const handle = open(new TypeError("x is undefined"), { onRetry: () => Promise.resolve() });

    expect(buttonNames(handle)).toEqual([EN.close, EN.retry]);
  });

  test("is not offered for a value that is not a HiccupError without onRetry", () => {
    const handle = open(new TypeError("x is undefined"));

    expect(buttonNames(handle)).toEqual([EN.close]);
  });

  test("is not offered when there is nothing to run", () => {
    const error = responseError("UPSTREAM_ERROR", 502);

    expect(buttonNames(open(error))).toEqual([EN.copy_reference, EN.close]);
  });

  test("runs the error's tryAgain by default", async () => {
    const error = upstreamError();
    const tryAgain = vi.fn(() => Promise.resolve());
    error.tryAgain = tryAgain;
    const handle = open(error);

    buttonOf(handle, EN.retry).click();
    await handle.closed;

    expect(tryAgain).toHaveBeenCalledTimes(1);
  });

  test("runs onRetry in place of the error's tryAgain", async () => {
    const error = upstreamError();
    const tryAgain = vi.fn(() => Promise.resolve());
    error.tryAgain = tryAgain;
    const onRetry = vi.fn(() => Promise.resolve());
    const handle = open(error, { onRetry });

    buttonOf(handle, EN.retry).click();
    await handle.closed;

    expect([onRetry.mock.calls.length, tryAgain.mock.calls.length]).toEqual([1, 0]);
  });

  test("runs once for two clicks while the first is pending", () => {
    const pending = deferred<void>();
    const onRetry = vi.fn(() => pending.promise);
    const handle = open(upstreamError(), { onRetry });
    const button = buttonOf(handle, EN.retry);

    button.click();
    button.click();

    expect(onRetry).toHaveBeenCalledTimes(1);
  });

  test("says it is trying, busy and disabled while pending", () => {
    const handle = open(upstreamError(), { onRetry: () => deferred<void>().promise });
    const button = buttonOf(handle, EN.retry);

    button.click();

    expect(button.textContent).toBe(EN.retrying);
    expect(button.getAttribute("aria-busy")).toBe("true");
    expect(button.getAttribute("aria-disabled")).toBe("true");
  });

  test("closes the dialog as recovered when it succeeds", async () => {
    const onClose = vi.fn();
    const handle = open(upstreamError(), { onClose });

    buttonOf(handle, EN.retry).click();

    expect(await handle.closed).toBe("recovered");
    expect(onClose.mock.calls).toEqual([["recovered"]]);
  });

  test("reports recovered to the reporters when it succeeds", async () => {
    const error = upstreamError();
    const reporter = recorder();
    const handle = open(error, { reporters: [reporter] });

    buttonOf(handle, EN.retry).click();
    await handle.closed;

    expect(reporter.events.map((event) => event.type)).toEqual(["modal.shown", "recovered"]);
    expect(reporter.events[1]?.error).toBe(error);
  });

  test("shows the new failure's words when it fails", async () => {
    const next = responseError("MAINTENANCE", 503, { requestId: "req-2" });
    const handle = open(upstreamError(), { onRetry: () => Promise.reject(next) });

    buttonOf(handle, EN.retry).click();
    await settle();

    const labelledBy = dialogOf(handle).getAttribute("aria-labelledby");
    expect(textOf(handle, labelledBy)).toBe(describe(next).title);
  });

  test("shows the new failure's reference when it fails", async () => {
    const next = responseError("MAINTENANCE", 503, { requestId: "req-2" });
    const handle = open(upstreamError(), { onRetry: () => Promise.reject(next) });

    buttonOf(handle, EN.retry).click();
    await settle();

    expect(dialogOf(handle).querySelector("code")?.textContent).toBe("req-2");
  });

  test("keeps focus on itself, usable again, when it fails", async () => {
    const next = responseError("MAINTENANCE", 503, { requestId: "req-2" });
    const handle = open(upstreamError(), { onRetry: () => Promise.reject(next) });
    const button = buttonOf(handle, EN.retry);

    button.click();
    await settle();

    expect(focusIn(handle)).toBe(button);
    expect(button.hasAttribute("aria-disabled")).toBe(false);
  });

  test("gives focus to the close button when the new failure allows no retry", async () => {
    const next = responseError("QUOTA_EXHAUSTED", 429, { retry: noUserRetry });
    const handle = open(upstreamError(), { onRetry: () => Promise.reject(next) });

    buttonOf(handle, EN.retry).click();
    await settle();

    expect(focusIn(handle)).toBe(buttonOf(handle, EN.close));
  });

  test("only becomes usable again when the retry was aborted", async () => {
    const error = upstreamError();
    const abort = new DOMException("The operation was aborted.", "AbortError");
    const handle = open(error, { onRetry: () => Promise.reject(abort) });
    const button = buttonOf(handle, EN.retry);

    button.click();
    await settle();

    expect(handle.element.isConnected).toBe(true);
    expect(textOf(handle, dialogOf(handle).getAttribute("aria-labelledby"))).toBe(
      describe(error).title,
    );
    expect(button.textContent).toBe(describe(error).action);
    expect(button.hasAttribute("aria-disabled")).toBe(false);
  });
});

group("the countdown", () => {
  const wait = (seconds: number) => formatCopy(EN.wait, { seconds }, "en");

  test("says how long to wait and keeps Try again disabled", () => {
    vi.useFakeTimers();
    const handle = open(rateLimited({ retryAt: Date.now() + 5000 }), { onRetry: vi.fn() });

    expect(statusText(handle)).toBe(wait(5));
    expect(buttonOf(handle, EN.retry).getAttribute("aria-disabled")).toBe("true");
  });

  test("counts down every second", () => {
    vi.useFakeTimers();
    const handle = open(rateLimited({ retryAt: Date.now() + 5000 }), { onRetry: vi.fn() });

    vi.advanceTimersByTime(1000);
    const afterOne = statusText(handle);
    vi.advanceTimersByTime(3000);

    expect([afterOne, statusText(handle)]).toEqual([wait(4), wait(1)]);
  });

  test("rounds a part of a second up", () => {
    vi.useFakeTimers();
    const handle = open(rateLimited({ retryAt: Date.now() + 2500 }), { onRetry: vi.fn() });

    vi.advanceTimersByTime(499);
    const before = statusText(handle);
    vi.advanceTimersByTime(1);

    expect([before, statusText(handle)]).toEqual([wait(3), wait(2)]);
  });

  test("enables Try again and goes quiet at zero", () => {
    vi.useFakeTimers();
    const handle = open(rateLimited({ retryAt: Date.now() + 5000 }), { onRetry: vi.fn() });

    vi.advanceTimersByTime(4999);
    const disabledBefore = buttonOf(handle, EN.retry).getAttribute("aria-disabled");
    vi.advanceTimersByTime(1);

    expect(disabledBefore).toBe("true");
    expect(buttonOf(handle, EN.retry).hasAttribute("aria-disabled")).toBe(false);
    expect(statusText(handle)).toBe("");
  });

  test("ignores clicks on Try again", () => {
    vi.useFakeTimers();
    const onRetry = vi.fn(() => Promise.resolve());
    const handle = open(rateLimited(), { onRetry });

    buttonOf(handle, EN.retry).click();

    expect(onRetry).not.toHaveBeenCalled();
  });

  test("starts again for a new failure that asks to wait", async () => {
    vi.useFakeTimers();
    const next = rateLimited({ retryAt: Date.now() + 3000, requestId: "req-2" });
    const handle = open(upstreamError(), { onRetry: () => Promise.reject(next) });

    buttonOf(handle, EN.retry).click();
    await vi.advanceTimersByTimeAsync(0);

    expect(statusText(handle)).toBe(wait(3));
  });

  test("is not shown when the wait is over", () => {
    const handle = open(rateLimited({ retryAt: Date.now() - 1 }), { onRetry: vi.fn() });

    expect(statusText(handle)).toBe("");
  });
});

group("the reference", () => {
  test("is the request ID", () => {
    const handle = open(upstreamError("req-7"));

    expect(dialogOf(handle).querySelector("code")?.textContent).toBe("req-7");
  });

  test("is the trace ID when there is no request ID", () => {
    const error = responseError("UPSTREAM_ERROR", 502, {
      requestId: undefined,
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    });

    const code = dialogOf(open(error)).querySelector("code");

    expect(code?.textContent).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
  });

  test("is hidden when there is neither ID", () => {
    const error = responseError("UPSTREAM_ERROR", 502, { requestId: undefined });

    const reference = dialogOf(open(error)).querySelector("code")?.parentElement;

    expect(reference?.hidden).toBe(true);
  });

  test("is labelled with the UI's reference word", () => {
    const reference = dialogOf(open(upstreamError())).querySelector("code")?.parentElement;

    expect(reference?.firstElementChild?.textContent).toBe(EN.reference);
  });

  test("is copied to the clipboard by its button", async () => {
    const writeText = vi.spyOn(navigator.clipboard, "writeText").mockResolvedValue(undefined);
    const handle = open(upstreamError("req-9"));

    buttonOf(handle, EN.copy_reference).click();
    await settle();

    expect(writeText.mock.calls).toEqual([["req-9"]]);
  });

  test("says it was copied, for a moment", async () => {
    vi.useFakeTimers();
    vi.spyOn(navigator.clipboard, "writeText").mockResolvedValue(undefined);
    const handle = open(upstreamError());
    const button = buttonOf(handle, EN.copy_reference);

    button.click();
    await vi.advanceTimersByTimeAsync(0);
    const justAfter = button.textContent;
    await vi.advanceTimersByTimeAsync(2000);

    expect([justAfter, button.textContent]).toEqual([EN.copied, EN.copy_reference]);
  });

  test("stays on screen, unchanged, when the clipboard refuses", async () => {
    vi.spyOn(navigator.clipboard, "writeText").mockRejectedValue(new DOMException("denied"));
    const handle = open(upstreamError("req-3"));
    const button = buttonOf(handle, EN.copy_reference);

    button.click();
    await settle();

    expect(button.textContent).toBe(EN.copy_reference);
    expect(dialogOf(handle).querySelector("code")?.textContent).toBe("req-3");
  });
});

group("text", () => {
  const markup = '<img src="x" onerror="alert(1)">';

  test("from copy params is never parsed as markup", () => {
    const error = responseError("MODEL_UNAVAILABLE", 503, { params: { model: markup } });

    const dialog = dialogOf(open(error));

    expect(dialog.querySelector("img")).toBeNull();
    expect(dialog.textContent).toContain(markup);
  });

  test("from the server's copy is never parsed as markup", () => {
    const error = responseError("SOMETHING_NEWER", 503, {
      user: { locale: "en", title: `<b>${markup}</b>`, message: markup, suggestions: [markup] },
    });

    const dialog = dialogOf(open(error));

    expect(dialog.querySelector("b, img")).toBeNull();
    expect(dialog.querySelector("h2")?.textContent).toBe(`<b>${markup}</b>`);
    expect(dialog.querySelector("li")?.textContent).toBe(markup);
  });

  test("of a reference is never parsed as markup", () => {
    const dialog = dialogOf(open(upstreamError(markup)));

    expect(dialog.querySelector("img")).toBeNull();
    expect(dialog.querySelector("code")?.textContent).toBe(markup);
  });

  test("is in the locale asked for", () => {
    registerCopy(frenchCopy);
    const error = upstreamError();
    const french = describe(error, "fr");

    const handle = open(error, { locale: "fr" });

    expect(french.title).not.toBe(describe(error, "en").title);
    expect(dialogOf(handle).querySelector("h2")?.textContent).toBe(french.title);
    expect(buttonNames(handle)).toContain(uiCopy("fr").close);
  });

  test("of a value that is not a HiccupError is the generic internal copy", () => {
    const handle = open(new TypeError("x is undefined"));

    expect(dialogOf(handle).querySelector("h2")?.textContent).toBe(describe(undefined).title);
    expect(dialogOf(handle).textContent).not.toContain("x is undefined");
  });
});

group("reporting", () => {
  test("sends modal.shown to the client's reporters and the option's", () => {
    const error = upstreamError();
    const client = recorder();
    const option = recorder();
    bindReporters(error, [client]);

    open(error, { reporters: [option] });

    expect([client.events, option.events]).toEqual([
      [{ type: "modal.shown", error }],
      [{ type: "modal.shown", error }],
    ]);
  });

  test("sends nothing for a value that is not a HiccupError", () => {
    const reporter = recorder();

    open(new TypeError("x is undefined"), { reporters: [reporter] });

    expect(reporter.events).toEqual([]);
  });
});

group("a second modal", () => {
  test("is the open one, showing the new failure", () => {
    const first = open(upstreamError());
    const next = responseError("MAINTENANCE", 503, { requestId: "req-2" });

    const second = open(next);

    expect(second).toBe(first);
    expect(document.querySelectorAll("hiccup-modal")).toHaveLength(1);
    expect(dialogOf(second).querySelector("h2")?.textContent).toBe(describe(next).title);
  });

  test("calls the onClose of both calls on closing", () => {
    const onFirstClose = vi.fn();
    const onSecondClose = vi.fn();
    open(upstreamError(), { onClose: onFirstClose });
    const handle = open(upstreamError("req-2"), { onClose: onSecondClose });

    handle.close();

    expect([onFirstClose.mock.calls, onSecondClose.mock.calls]).toEqual([[["api"]], [["api"]]]);
  });

  test("opens anew once the first has closed", () => {
    const first = open(upstreamError());
    first.close();

    const second = open(upstreamError("req-2"));

    expect(second).not.toBe(first);
    expect(second.element.isConnected).toBe(true);
  });
});

group("update", () => {
  test("shows the new failure in place", () => {
    const handle = open(upstreamError());
    const next = responseError("MAINTENANCE", 503, { requestId: "req-2" });

    handle.update(next);

    expect(dialogOf(handle).querySelector("h2")?.textContent).toBe(describe(next).title);
    expect(dialogOf(handle).querySelector("code")?.textContent).toBe("req-2");
  });

  test("does nothing once the modal is closed", () => {
    const handle = open(upstreamError());
    handle.close();

    handle.update(responseError("MAINTENANCE", 503));

    expect(handle.element.isConnected).toBe(false);
  });
});
