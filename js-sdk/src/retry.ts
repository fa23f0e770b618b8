import type { HiccupError } from "./errors/hiccup-error.js";

/** How a client retries failed attempts by itself. Every field is optional. */
export interface RetryOptions {
  /** Most automatic retries per operation; attempts are one more. */
  readonly limit?: number;
  /** The first retry waits up to this long, and each later one up to twice as long. */
  readonly baseMs?: number;
  /** No automatic wait is chosen longer than this. */
  readonly capMs?: number;
  /**
   * The longest wait a server may ask for (`retry.after_ms` or
   * `Retry-After`) that is still spent silently. Beyond it the failure goes
   * to the caller, and the failure modal counts down instead.
   */
  readonly maxAfterMs?: number;
  /** Statuses retried when the response carries no retry hints of its own. */
  readonly statuses?: readonly number[];
}

/** A retry policy with every field filled in. */
export type RetryPolicy = Required<RetryOptions>;

export const DEFAULT_LIMIT = 2;
export const DEFAULT_BASE_MS = 500;
export const DEFAULT_CAP_MS = 8_000;
export const DEFAULT_MAX_AFTER_MS = 30_000;
// 500 is among them because only requests that are safe to repeat reach
// the status check (see `decide`): a repeat cannot act twice.
export const DEFAULT_STATUSES: readonly number[] = [408, 429, 500, 502, 503, 504];

/** Fill in `options` with the defaults. */
export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  return {
    limit: options.limit ?? DEFAULT_LIMIT,
    baseMs: options.baseMs ?? DEFAULT_BASE_MS,
    capMs: options.capMs ?? DEFAULT_CAP_MS,
    maxAfterMs: options.maxAfterMs ?? DEFAULT_MAX_AFTER_MS,
    statuses: options.statuses ?? DEFAULT_STATUSES,
  };
}

/**
 * Why a failed attempt is retried: after a random backoff, or after the
 * wait the server asked for, when that is the longer.
 */
export type RetryReason = "backoff" | "server-hint";

/**
 * Why a failed attempt is not retried: one value per guard of `decide`,
 * plus `retries-off` for a client or request with `retry: false`. They are
 * short and few, so that reports can count them.
 */
export type RefusalReason =
  | "not-repeatable"
  | "stream-body"
  | "attempts-used"
  | "long-wait"
  | "server-refused"
  | "status-not-retryable"
  | "deadline"
  | "breaker-open"
  | "budget-spent"
  | "retries-off";

/** Whether to retry a failed attempt, why, and after how long. */
export type Verdict =
  | { readonly retry: true; readonly delayMs: number; readonly reason: RetryReason }
  | { readonly retry: false; readonly reason: RefusalReason };

/** What the retry decision needs to know about a failed attempt. */
export interface Failure {
  readonly error: HiccupError;
  /** Attempts made so far, the failed one included. */
  readonly attempts: number;
  /** The response carried retry hints of its own (the envelope's `retry`). */
  readonly hinted: boolean;
  /** The request has an Idempotency-Key. */
  readonly keyed: boolean;
  /** The body can be sent again (it is not a one-shot stream). */
  readonly replayable: boolean;
  /** Milliseconds left before the operation's deadline. */
  readonly remainingMs: number;
}

/** What the tab knows about the request's origin; see budget.ts. */
export interface OriginGate {
  isOpen(): boolean;
  take(): boolean;
}

const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

/**
 * Tell whether a request may be sent again without risk of acting twice.
 *
 * The server may already have acted on a failed attempt. Idempotent
 * methods are safe to repeat anyway; any other method only with an
 * Idempotency-Key, which lets the server recognise the repeat.
 */
export function isRepeatable(method: string, keyed: boolean): boolean {
  return keyed || IDEMPOTENT_METHODS.has(method.toUpperCase());
}

/**
 * Decide whether to retry `failure`: one chain of guards, in order.
 *
 * The breaker and the budget come last, so that a retry refused for any
 * other reason spends no token.
 */
export function decide(
  failure: Failure,
  policy: RetryPolicy,
  gate: OriginGate,
  random: () => number = Math.random,
): Verdict {
  const { error } = failure;

  // The server may have acted on the failed attempt; without a key it
  // cannot tell a repeat from a second request, and would act twice.
  if (!isRepeatable(error.method, failure.keyed)) {
    return no("not-repeatable");
  }
  // A stream is read as it is sent, so there is nothing left to send again.
  if (!failure.replayable) {
    return no("stream-body");
  }
  if (failure.attempts > policy.limit) {
    return no("attempts-used");
  }
  const hintMs = error.retry.afterMs;
  // A long wait spent silently looks like a hang: the user is told
  // instead, and the failure modal counts down.
  if (hintMs !== undefined && hintMs > policy.maxAfterMs) {
    return no("long-wait");
  }
  // The server knows best whether a repeat can succeed; when it said so,
  // its word replaces the status rules below.
  if (failure.hinted && !error.retry.auto) {
    return no("server-refused");
  }
  if (!failure.hinted && !isRetryableFailure(error, policy)) {
    return no("status-not-retryable");
  }
  const jitterMs = backoff(failure.attempts, policy, random);
  const delayMs = Math.max(hintMs ?? 0, jitterMs);
  if (delayMs >= failure.remainingMs) {
    return no("deadline");
  }
  // Repeated failures or a long server wait: the origin is struggling, and
  // retries would only add to its load.
  if (gate.isOpen()) {
    return no("breaker-open");
  }
  // Last, so that only a retry about to happen spends a token.
  if (!gate.take()) {
    return no("budget-spent");
  }

  return { retry: true, delayMs, reason: delayMs > jitterMs ? "server-hint" : "backoff" };
}

function no(reason: RefusalReason): Verdict {
  return { retry: false, reason };
}

/**
 * Tell whether a failure without hints from the server is worth repeating:
 * no response at all, a timeout, or one of the policy's statuses.
 */
export function isRetryableFailure(error: HiccupError, policy: RetryPolicy): boolean {
  return error.kind !== "response" || policy.statuses.includes(error.status);
}

/**
 * Return a random wait before retry number `attempt` ("full jitter"):
 * anywhere from zero to the exponential step, so that clients that failed
 * together do not come back together.
 */
export function backoff(attempt: number, policy: RetryPolicy, random: () => number): number {
  const step = Math.min(policy.capMs, policy.baseMs * 2 ** (attempt - 1));

  return Math.floor(random() * step);
}

/**
 * Read a `Retry-After` value: delay-seconds or an HTTP date.
 *
 * @returns Milliseconds from `now`, or `undefined` when the value is
 *   missing or neither form. A date in the past means no wait.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) {
    return undefined;
  }
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    return Number(text) * 1000;
  }
  const date = Date.parse(text);
  if (Number.isNaN(date) || !/[a-z]/i.test(text)) {
    return undefined;
  }

  return Math.max(0, date - now);
}
