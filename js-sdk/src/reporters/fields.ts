import { isCode } from "../codes.js";
import { CODES, type CodeSpec } from "../contract.generated.js";
import type { CopyParams } from "../contract.js";
import type { HiccupError } from "../errors/hiccup-error.js";
import type { HiccupEvent } from "../events.js";

// What every reporter reads off an error, in one place, so that the log
// records, the beacon batches and Sentry agree on names, levels and, above
// all, on what is never sent.

/** The fixed name each kind of event is logged under. */
export const EVENT_NAMES = {
  failure: "http.client.failure",
  retry: "http.client.retry",
  "modal.shown": "ui.failure_modal.shown",
  recovered: "ui.failure_modal.recovered",
} as const satisfies Record<HiccupEvent["type"], string>;

/** The level of a reported event, a subset of the log record's levels. */
export type EventLevel = "debug" | "info" | "warning" | "error";

// The shapes contracts/schema/log-record.schema.json requires. Values from
// the wire that do not fit are left out rather than sent malformed.
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/;
const CODE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;
const MAX_CODE_LENGTH = 63;

// OpenTelemetry's list; anything else is `_OTHER`, so the values stay few.
const METHODS = new Set([
  "CONNECT",
  "DELETE",
  "GET",
  "HEAD",
  "OPTIONS",
  "PATCH",
  "POST",
  "PUT",
  "TRACE",
]);

// Only the path of a URL is read, so any base does for relative ones.
const ANY_BASE = "http://localhost";

/** The IDs that tie an error to the server's logs and traces, when well formed. */
export interface Correlation {
  readonly code: string | undefined;
  readonly requestId: string | undefined;
  readonly traceId: string | undefined;
}

/** Return `error`'s code, request ID and trace ID, each only if well formed. */
export function correlationOf(error: HiccupError): Correlation {
  const code = error.code.length <= MAX_CODE_LENGTH ? matching(CODE, error.code) : undefined;

  return {
    code,
    requestId: matching(REQUEST_ID, error.requestId),
    traceId: matching(TRACE_ID, error.traceId),
  };
}

function matching(pattern: RegExp, value: string | undefined): string | undefined {
  return value !== undefined && pattern.test(value) ? value : undefined;
}

/** Return the level `event` is reported at. */
export function levelOf(event: HiccupEvent): EventLevel {
  switch (event.type) {
    case "retry":
      return "debug";
    case "failure":
      return failureLevel(event.error);
    default:
      return "info";
  }
}

/**
 * Return the level of a failure: `warning` when the server refused the
 * request (below 500), `error` when it failed, or no response came at all.
 */
export function failureLevel(error: HiccupError): "warning" | "error" {
  return error.kind === "response" && error.status < 500 ? "warning" : "error";
}

/**
 * Return the params of `error` that may leave the browser in a report.
 *
 * Only params the contract declares for the code and does not mark as
 * personal are kept. A code this build does not know keeps none: nothing
 * says which of its params are personal.
 */
export function reportableParams(error: HiccupError): CopyParams {
  if (!isCode(error.code)) {
    return {};
  }
  const spec: CodeSpec = CODES[error.code];
  const kept: Record<string, string | number> = {};

  for (const name of spec.params) {
    const value = Object.hasOwn(error.params, name) ? error.params[name] : undefined;
    if (value !== undefined && !spec.pii.includes(name)) {
      kept[name] = value;
    }
  }

  return kept;
}

/** Return the request's method as the log schema spells it: upper case, or `_OTHER`. */
export function methodOf(error: HiccupError): string {
  const method = error.method.toUpperCase();

  return METHODS.has(method) ? method : "_OTHER";
}

/** Return the path of the request's URL, or `undefined` if it does not parse. */
export function pathOf(error: HiccupError): string | undefined {
  try {
    return new URL(error.url, ANY_BASE).pathname;
  } catch {
    return undefined;
  }
}

/** Return the status the response came with, or `undefined` if none came. */
export function responseStatusOf(error: HiccupError): number | undefined {
  return error.kind === "response" && error.status >= 100 && error.status <= 599
    ? error.status
    : undefined;
}

/**
 * Return what kind of failure `error` is, as OpenTelemetry's `error.type`
 * has it for HTTP clients: the status when the server answered, the error's
 * name when it did not.
 */
export function errorTypeOf(error: HiccupError): string {
  const status = responseStatusOf(error);

  return status === undefined ? error.name : String(status);
}

/** Set `target[key]` to `value`, unless `value` is `undefined`. */
export function setDefined<T>(
  target: Record<string, T>,
  key: string,
  value: NoInfer<T> | undefined,
): void {
  if (value !== undefined) {
    target[key] = value;
  }
}
