import { HiccupError, isHiccupError } from "./hiccup-error.js";

/**
 * Raised when an attempt took longer than its timeout, or the operation as a
 * whole ran past its deadline. The code is the contract's request-timed-out
 * one.
 */
export class TimeoutError extends HiccupError {
  override name = "TimeoutError";
  readonly kind = "timeout";
}

/** Tell whether `value` is a failure to get a response in time. */
export function isTimeoutError(value: unknown): value is TimeoutError {
  return isHiccupError(value) && value.kind === "timeout";
}
