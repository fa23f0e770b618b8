import type { HiccupError } from "./errors/hiccup-error.js";
import type { RefusalReason, RetryReason } from "./retry.js";

/**
 * Something worth counting happened to a request or to the failure modal.
 *
 * - `failure`: a failure reached the caller, after any automatic retries;
 *   `reason` says why it was not retried once more, when a retry was
 *   considered (a deadline passing mid-wait leaves it out).
 * - `retry`: an attempt failed and another one is scheduled in `delayMs`.
 * - `modal.shown`: the failure modal was opened for `error`.
 * - `recovered`: "Try again" succeeded after `error`.
 */
export type HiccupEvent =
  | {
      readonly type: "failure";
      readonly error: HiccupError;
      readonly reason?: RefusalReason | undefined;
    }
  | {
      readonly type: "retry";
      readonly error: HiccupError;
      readonly attempt: number;
      readonly delayMs: number;
      readonly reason: RetryReason;
    }
  | { readonly type: "modal.shown"; readonly error: HiccupError }
  | { readonly type: "recovered"; readonly error: HiccupError };

/** Receives every event of the clients and modals it is given to. */
export interface Reporter {
  report(event: HiccupEvent): void;
}

/** How many of each event this tab has seen since it loaded. */
export interface Counters {
  readonly failures: number;
  readonly retries: number;
  readonly modalsShown: number;
  readonly recovered: number;
}

const counts = { failures: 0, retries: 0, modalsShown: 0, recovered: 0 };
const COUNTER_OF = {
  failure: "failures",
  retry: "retries",
  "modal.shown": "modalsShown",
  recovered: "recovered",
} as const satisfies Record<HiccupEvent["type"], keyof Counters>;

// The reporters of the client that raised each error, so that the modal
// showing it later reports to the same place.
const reportersByError = new WeakMap<HiccupError, readonly Reporter[]>();

/** Return a snapshot of this tab's counters. */
export function counters(): Counters {
  return { ...counts };
}

/** Remember which reporters `error`'s later events go to. */
export function bindReporters(error: HiccupError, reporters: readonly Reporter[]): void {
  reportersByError.set(error, reporters);
}

/** Return the reporters bound to `error`, if any. */
export function reportersOf(error: HiccupError): readonly Reporter[] {
  return reportersByError.get(error) ?? [];
}

/**
 * Count `event` and hand it to each reporter.
 *
 * A reporter that throws is skipped: reporting must never break the request
 * or the modal it reports on.
 */
export function emit(event: HiccupEvent, reporters: readonly Reporter[]): void {
  counts[COUNTER_OF[event.type]]++;

  for (const reporter of reporters) {
    try {
      reporter.report(event);
    } catch {
      // Deliberately ignored, as said above.
    }
  }
}
