// Failures that reach the page outside a response of the client's own: an
// envelope sent as an event of a stream that had already begun, or a
// stream cut off before its end.

import { type ClientOptions, createClient, type HiccupError, isHiccupError } from "hiccup";
import { isRecord } from "./dom";

/** The call that failed, as the error reports it. */
export interface FailedCall {
  readonly url: string;
  readonly method: string;
  /**
   * The W3C trace the call was sent in (see `startTrace`). The error made
   * up for it carries the same trace ID, so that the reference a user reads
   * out is one the server's logs know.
   */
  readonly traceparent: string;
}

/** Return the `traceparent` of a new trace, to send a call in. */
export function startTrace(): string {
  const hex = (bytes: number) =>
    Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (byte) =>
      byte.toString(16).padStart(2, "0"),
    ).join("");

  return `00-${hex(16)}-${hex(8)}-01`;
}

/**
 * Make the HiccupError for an envelope that came as a stream event.
 *
 * A throwaway client is handed the envelope as if it were the response, so
 * that the SDK reads it as it reads every failure: code, IDs, retry hints,
 * the wait the server asked for and the server's words. The failure also
 * reaches the page's reporters, as any other would.
 */
export function envelopeFailure(
  problem: unknown,
  call: FailedCall,
  options: ClientOptions,
): Promise<HiccupError> {
  const status = isRecord(problem) ? problem["status"] : undefined;
  // Only an error status is read as a failure; an envelope without a
  // sensible one stands for a server error.
  const failing = typeof status === "number" && Number.isInteger(status) && status >= 400;
  const response = new Response(JSON.stringify(problem), {
    status: failing && status <= 599 ? status : 500,
    headers: { "Content-Type": "application/problem+json" },
  });

  return failureOf(() => Promise.resolve(response), call, options);
}

/** Make the HiccupError for a stream whose connection ended too soon. */
export function droppedFailure(
  cause: unknown,
  call: FailedCall,
  options: ClientOptions,
): Promise<HiccupError> {
  return failureOf(() => Promise.reject(cause), call, options);
}

async function failureOf(
  fetch: () => Promise<Response>,
  call: FailedCall,
  options: ClientOptions,
): Promise<HiccupError> {
  const reader = createClient({ ...options, retry: false, fetch });
  try {
    await reader.request(call.url, {
      method: call.method,
      headers: { traceparent: call.traceparent },
    });
  } catch (error: unknown) {
    if (isHiccupError(error)) {
      return error;
    }
    throw error;
  }
  throw new TypeError(`${call.method} ${call.url}: the failure was read as a success.`);
}
