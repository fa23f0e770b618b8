import type { Category } from "../../src/contract.generated.js";
import type { HiccupError, HiccupErrorInit } from "../../src/errors/hiccup-error.js";
import { NetworkError } from "../../src/errors/network-error.js";
import { ResponseError } from "../../src/errors/response-error.js";
import { TimeoutError } from "../../src/errors/timeout-error.js";
import type { HiccupEvent } from "../../src/events.js";

export const REQUEST_ID = "0195f3c2-8b10-7d2a-a4f5-61c9e0b7d382";
export const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
export const URL_WITHOUT_QUERY = "https://writer.example/v1/drafts/42";

type Overrides = Partial<HiccupErrorInit>;

function init(code: string, category: Category, status: number, overrides: Overrides) {
  return {
    code,
    category,
    status,
    method: "POST",
    url: URL_WITHOUT_QUERY,
    retry: { auto: false, user: true, afterMs: undefined },
    requestId: REQUEST_ID,
    traceId: TRACE_ID,
    attempts: 1,
    ...overrides,
  };
}

/** Make the error a client raises when the server answered `status`. */
export function responseError(
  code: string,
  category: Category,
  status: number,
  overrides: Overrides = {},
): ResponseError {
  const fields = init(code, category, status, overrides);
  const response = new Response(null, { status: fields.status });

  return new ResponseError(`${fields.method} ${fields.url} answered ${fields.status}`, {
    ...fields,
    response,
  });
}

/** A 503 from an overloaded model: the server failed. */
export function serverFailure(overrides: Overrides = {}): ResponseError {
  return responseError("MODEL_OVERLOADED", "unavailable", 503, overrides);
}

/** A 409: the server refused the request. */
export function refusal(overrides: Overrides = {}): ResponseError {
  return responseError("CONFLICT", "conflict", 409, overrides);
}

/** Make the error a client raises when no response arrived. */
export function networkError(overrides: Overrides = {}): NetworkError {
  const fields = init("NETWORK_OFFLINE", "network", 0, overrides);

  return new NetworkError(`${fields.method} ${fields.url} got no response`, fields);
}

/** Make the error a client raises when an attempt ran out of time. */
export function timeoutError(overrides: Overrides = {}): TimeoutError {
  const fields = init("REQUEST_TIMED_OUT", "timeout", 0, overrides);

  return new TimeoutError(`${fields.method} ${fields.url} timed out`, fields);
}

export function failure(error: HiccupError): HiccupEvent {
  return { type: "failure", error };
}

export function retry(error: HiccupError, attempt = 1, delayMs = 850): HiccupEvent {
  return { type: "retry", error, attempt, delayMs, reason: "backoff" };
}

export function modalShown(error: HiccupError): HiccupEvent {
  return { type: "modal.shown", error };
}

export function recovered(error: HiccupError): HiccupEvent {
  return { type: "recovered", error };
}
