import { act } from "@testing-library/react";

import { NetworkError } from "../../src/errors/network-error.js";
import type { HiccupEvent, Reporter } from "../../src/events.js";

export { type Deferred, deferred } from "../support/deferred.js";

/** Make a failure like the one a client raises when the network is down. */
export function networkError(): NetworkError {
  return new NetworkError("GET /api/drafts: the network is unreachable", {
    code: "NETWORK_OFFLINE",
    category: "network",
    status: 0,
    method: "GET",
    url: "https://example.test/api/drafts",
    retry: { auto: true, user: true, afterMs: undefined },
  });
}

/** Make a reporter that keeps every event it receives. */
export function recorder(): Reporter & { readonly events: HiccupEvent[] } {
  const events: HiccupEvent[] = [];

  return { events, report: (event) => events.push(event) };
}

// The modal puts its dialog in the open shadow root of a host element.
function modalRoots(): ShadowRoot[] {
  return Array.from(document.querySelectorAll("*")).flatMap((node) =>
    node.shadowRoot === null ? [] : [node.shadowRoot],
  );
}

/** Return the failure modal's dialog, or `null` when no modal is open. */
export function modalDialog(): Element | null {
  const dialogs = modalRoots().flatMap((root) =>
    Array.from(root.querySelectorAll('[role="alertdialog"]')),
  );

  return dialogs[0] ?? null;
}

/** Return the failure modal's "Try again" button, or fail the test. */
export function tryAgainButton(): HTMLElement {
  const button = modalRoots()
    .flatMap((root) => Array.from(root.querySelectorAll("button")))
    .find((candidate) => candidate.textContent?.trim() === "Try again" && !candidate.hidden);
  if (button === undefined) {
    throw new Error("the failure modal offers no Try again");
  }

  return button;
}

/**
 * Let pending effects run, and the microtasks they queue: the failure modal
 * opens one microtask after its component mounts.
 */
export function settle(): Promise<void> {
  return act(async () => {});
}
