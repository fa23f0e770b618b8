import { HiccupError, isHiccupError } from "./hiccup-error.js";

/**
 * Raised when no response arrived: the browser is offline, the connection
 * dropped, the name did not resolve, or CORS blocked the response (browsers
 * do not say which). The code is the contract's network-offline one.
 */
export class NetworkError extends HiccupError {
  override name = "NetworkError";
  readonly kind = "network";
}

/** Tell whether `value` is a failure to get any response at all. */
export function isNetworkError(value: unknown): value is NetworkError {
  return isHiccupError(value) && value.kind === "network";
}
