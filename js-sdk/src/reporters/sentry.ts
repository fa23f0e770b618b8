import type { HiccupError } from "../errors/hiccup-error.js";
import type { HiccupEvent, Reporter } from "../events.js";
import {
  correlationOf,
  EVENT_NAMES,
  failureLevel,
  levelOf,
  methodOf,
  pathOf,
  reportableParams,
  responseStatusOf,
  setDefined,
} from "./fields.js";

/** The levels Sentry knows, of which the reporter uses four. */
export type SentryLevel = "fatal" | "error" | "warning" | "log" | "info" | "debug";

/** What the reporter attaches to a captured failure. */
export interface SentryCaptureContext {
  level: SentryLevel;
  tags: Record<string, string>;
  fingerprint: string[];
  contexts: Record<string, Record<string, unknown>>;
}

/** A breadcrumb, as the reporter leaves them. */
export interface SentryBreadcrumb {
  type: string;
  category: string;
  level: SentryLevel;
  message: string;
  data: Record<string, unknown>;
}

/**
 * The part of the `@sentry/browser` namespace the reporter calls. Pass the
 * app's own `import * as Sentry from "@sentry/browser"`: hiccup does not
 * depend on Sentry, and the app's copy is the one it initialised.
 */
export interface SentryLike {
  captureException(exception: unknown, context?: SentryCaptureContext): unknown;
  addBreadcrumb(breadcrumb: SentryBreadcrumb): void;
}

/** Which failures `sentryReporter` captures as events. */
export interface SentryReporterOptions {
  /**
   * Whether to capture `error` as a Sentry event rather than leave a
   * breadcrumb; `isCapturedByDefault` if not given.
   */
  readonly capture?: ((error: HiccupError) => boolean) | undefined;
}

/**
 * Tell whether `sentryReporter` captures `error` unless told otherwise:
 * when the server failed (status 500 or more) or the request timed out.
 *
 * Refusals (4xx) are the app working as designed, and a network failure is
 * most often the user's connection: as events they would bury the failures
 * someone can fix.
 */
export function isCapturedByDefault(error: HiccupError): boolean {
  return error.status >= 500 || error.kind === "timeout";
}

/**
 * Return a reporter that sends failures to Sentry.
 *
 * A failure `capture` accepts becomes an event, with:
 *
 * - tags `error.code`, `category`, `request_id` and `trace_id` (each when
 *   known) and `http.status_code` (when a response came);
 * - a fingerprint of the code, the status, the method and the path, with
 *   ID-like segments replaced by `{id}`, so that one failing endpoint is one
 *   issue;
 * - level `warning` for a response below 500, `error` for any other failure;
 * - a `hiccup` context with the kind, category, method, path, attempts and
 *   the params the contract does not mark as personal.
 *
 * Every other event (other failures, retries, the failure modal shown,
 * "Try again" succeeding) becomes a breadcrumb, so that it shows on the next
 * event Sentry sends.
 *
 * Sentry receives a stand-in error with the same name and stack and a
 * message of its own, never the error itself: integrations such as
 * `extraErrorDataIntegration` copy an error's properties into the event,
 * and the params, problem details and server copy of a HiccupError may hold
 * personal data. Its cause, if an `Error`, goes with its name and stack
 * only.
 *
 * @param sentry The app's `@sentry/browser` namespace, already initialised.
 * @param options Which failures to capture.
 */
export function sentryReporter(sentry: SentryLike, options: SentryReporterOptions = {}): Reporter {
  const capture = options.capture ?? isCapturedByDefault;

  return {
    report(event) {
      if (event.type === "failure" && capture(event.error)) {
        sentry.captureException(standIn(event.error), captureContext(event.error));
      } else {
        sentry.addBreadcrumb(breadcrumb(event));
      }
    },
  };
}

function captureContext(error: HiccupError): SentryCaptureContext {
  const { code, requestId, traceId } = correlationOf(error);
  const status = responseStatusOf(error);
  const tags: Record<string, string> = { category: error.category };

  setDefined(tags, "error.code", code);
  setDefined(tags, "request_id", requestId);
  setDefined(tags, "trace_id", traceId);
  setDefined(tags, "http.status_code", status === undefined ? undefined : String(status));

  return {
    level: failureLevel(error),
    tags,
    fingerprint: [error.code, String(error.status), methodOf(error), routeOf(error)],
    contexts: {
      hiccup: {
        kind: error.kind,
        category: error.category,
        method: methodOf(error),
        path: pathOf(error),
        attempts: error.attempts,
        params: reportableParams(error),
      },
    },
  };
}

function breadcrumb(event: HiccupEvent): SentryBreadcrumb {
  const { error } = event;
  const { code, requestId, traceId } = correlationOf(error);
  const data: Record<string, unknown> = { method: methodOf(error) };

  setDefined(data, "url", pathOf(error));
  setDefined(data, "status_code", responseStatusOf(error));
  setDefined(data, "error.code", code);
  setDefined(data, "request_id", requestId);
  setDefined(data, "trace_id", traceId);
  if (event.type === "retry") {
    data["attempt"] = event.attempt;
    data["delay_ms"] = Math.round(event.delayMs);
    data["reason"] = event.reason;
  }

  return {
    // Sentry shows `http` breadcrumbs as requests, with their method, URL
    // and status; the modal's are the user's doing.
    type: event.type === "failure" || event.type === "retry" ? "http" : "user",
    category: EVENT_NAMES[event.type],
    level: levelOf(event),
    message: error.code,
    data,
  };
}

/**
 * Return an `Error` that carries what Sentry may see of `error`: its name,
 * a message made of safe fields, its stack and its cause's name and stack.
 */
function standIn(error: HiccupError): Error {
  const outcome = error.kind === "response" ? `answered ${error.status}` : `failed (${error.kind})`;
  const message = `${methodOf(error)} ${routeOf(error)} ${outcome}: ${error.code}`;
  const cause = error.cause instanceof Error ? bare(error.cause) : undefined;

  return copyOf(error, message, cause === undefined ? undefined : { cause });
}

// A cause keeps its name and stack but not its message, which may quote the
// response: V8's JSON.parse errors show the start of the text they failed on.
function bare(error: Error): Error {
  return copyOf(error, "", undefined);
}

function copyOf(error: Error, message: string, options: ErrorOptions | undefined): Error {
  const copy = new Error(message, options);

  copy.name = error.name;
  if (error.stack !== undefined) {
    copy.stack = restack(error.stack, message === "" ? copy.name : `${copy.name}: ${message}`);
  }

  return copy;
}

// V8 opens a stack with the error's name and message, which may be anything
// the client wrote; other engines list the frames alone.
const V8_FRAME = "\n    at ";

function restack(stack: string, header: string): string {
  const frames = stack.indexOf(V8_FRAME);

  return frames === -1 ? stack : header + stack.slice(frames);
}

// A segment holding a digit, an `@` or a percent-escape is taken for an ID
// (or for text a user typed), unless it is an API version such as `v2`.
const ID_LIKE = /[0-9@%]/;
const API_VERSION = /^v[0-9]+$/i;

/** Return the request's path with ID-like segments replaced by `{id}`. */
function routeOf(error: HiccupError): string {
  const segments = (pathOf(error) ?? "").split("/");

  return segments
    .map((segment) => (ID_LIKE.test(segment) && !API_VERSION.test(segment) ? "{id}" : segment))
    .join("/");
}
