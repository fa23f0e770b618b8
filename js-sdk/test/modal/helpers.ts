import { within } from "@testing-library/dom";
import type { HiccupErrorInit } from "../../src/errors/hiccup-error.js";
import { ResponseError } from "../../src/errors/response-error.js";
import type { HiccupEvent, Reporter } from "../../src/events.js";
import type { FailureModalHandle } from "../../src/modal/index.js";

type ResponseErrorInit = ConstructorParameters<typeof ResponseError>[1];

/**
 * Make the failure of a GET the server answered with `status`, as a client
 * raises it; `init` overrides any of its fields.
 */
export function responseError(
  code: string,
  status: number,
  init: Partial<ResponseErrorInit> = {},
): ResponseError {
  const defaults: HiccupErrorInit = {
    code,
    category: "upstream",
    status,
    method: "GET",
    url: "https://x.test/a",
    retry: { auto: false, user: true, afterMs: undefined },
    requestId: "req-1",
  };

  return new ResponseError(`GET https://x.test/a: ${status}`, {
    ...defaults,
    response: new Response(null, { status }),
    ...init,
  });
}

/** Make a 429 whose server asked to wait five seconds from now. */
export function rateLimited(init: Partial<ResponseErrorInit> = {}): ResponseError {
  return responseError("RATE_LIMITED", 429, {
    category: "rate_limited",
    retry: { auto: true, user: true, afterMs: 5000 },
    retryAt: Date.now() + 5000,
    params: { seconds: 5 },
    ...init,
  });
}

export { type Deferred, deferred } from "../support/deferred.js";

/** Make a reporter that keeps every event it receives. */
export function recorder(): Reporter & { readonly events: HiccupEvent[] } {
  const events: HiccupEvent[] = [];

  return { events, report: (event) => events.push(event) };
}

/** Return the modal's dialog element, from inside its shadow root. */
export function dialogOf(handle: FailureModalHandle): HTMLElement {
  const dialog = handle.element.shadowRoot?.querySelector<HTMLElement>('[role="alertdialog"]');
  if (dialog === null || dialog === undefined) {
    throw new Error("the modal has no dialog in an open shadow root");
  }

  return dialog;
}

/** Return the modal's button whose accessible name is `name`. */
export function buttonOf(handle: FailureModalHandle, name: string): HTMLButtonElement {
  return within(dialogOf(handle)).getByRole<HTMLButtonElement>("button", { name });
}

/** Return the names of the modal's buttons a user can see, in order. */
export function buttonNames(handle: FailureModalHandle): string[] {
  return within(dialogOf(handle))
    .queryAllByRole("button")
    .map((button) => button.textContent ?? "");
}

/** Return the element that has focus inside the modal, if any. */
export function focusIn(handle: FailureModalHandle): Element | null {
  return handle.element.shadowRoot?.activeElement ?? null;
}

/** Press `key` where the focus is, as a keyboard would. */
export function press(key: string, options: { readonly shift?: boolean } = {}): KeyboardEvent {
  const target = deepActiveElement() ?? document.body;
  const event = new KeyboardEvent("keydown", {
    key,
    shiftKey: options.shift ?? false,
    bubbles: true,
    cancelable: true,
    composed: true,
  });
  target.dispatchEvent(event);

  return event;
}

function deepActiveElement(): Element | null {
  let active = document.activeElement;
  while (active?.shadowRoot?.activeElement) {
    active = active.shadowRoot.activeElement;
  }

  return active;
}
