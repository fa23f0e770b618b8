import type { Category } from "../contract.generated.js";
import type { CopyParams } from "../contract.js";

/** Whether and when a failed request may be tried again. */
export interface RetryHints {
  /** The SDK may retry by itself, without asking the user. */
  readonly auto: boolean;
  /** The user may be offered "Try again". */
  readonly user: boolean;
  /** How long the server asked callers to wait, in milliseconds. */
  readonly afterMs: number | undefined;
}

/** Where in the request a field error points: exactly one of the three. */
export type FieldSource =
  | { readonly pointer: string; readonly parameter?: never; readonly header?: never }
  | { readonly parameter: string; readonly pointer?: never; readonly header?: never }
  | { readonly header: string; readonly pointer?: never; readonly parameter?: never };

/** A problem with one part of the request, as the envelope's `errors` lists it. */
export interface FieldError {
  readonly source: FieldSource;
  readonly code: string;
  readonly params: CopyParams;
}

/** Copy the server rendered for the user, the envelope's `user` member. */
export interface ServerCopy {
  readonly locale: string;
  readonly title: string;
  readonly message: string;
  readonly action?: string;
  readonly suggestions?: readonly string[];
}

/** What every failure knows, whatever kind it is. */
export interface HiccupErrorInit {
  readonly code: string;
  readonly category: Category;
  readonly status: number;
  readonly method: string;
  readonly url: string;
  readonly retry: RetryHints;
  readonly requestId?: string | undefined;
  readonly traceId?: string | undefined;
  readonly params?: CopyParams | undefined;
  readonly fieldErrors?: readonly FieldError[] | undefined;
  readonly user?: ServerCopy | undefined;
  readonly locale?: string | undefined;
  readonly retryAt?: number | undefined;
  readonly attempts?: number | undefined;
  readonly idempotencyKey?: string | undefined;
  readonly cause?: unknown;
}

// A brand rather than `instanceof` alone, so that an error made by a second
// copy of this package (two bundles on one page) is still recognised.
const BRAND = Symbol.for("hiccup.error");

/**
 * The base of every error the SDK raises for a failed request.
 *
 * `kind` tells the three subclasses apart: `ResponseError`, `NetworkError`
 * and `TimeoutError`.
 *
 * It carries the contract code and category, the IDs that correlate it with
 * the server's logs and traces, and the retry hints. Its `message` is for
 * developers: show users the words `describe(error)` returns instead.
 */
export abstract class HiccupError extends Error {
  override name = "HiccupError";
  /** What failed: the server's answer, the network, or the clock. */
  abstract readonly kind: "response" | "network" | "timeout";
  /** The contract code: the envelope's, or the closest one to what happened. */
  readonly code: string;
  readonly category: Category;
  /** The response's status, or 0 when no response arrived. */
  readonly status: number;
  readonly method: string;
  /** The URL of the request, without its query string or fragment. */
  readonly url: string;
  readonly retry: RetryHints;
  readonly requestId: string | undefined;
  readonly traceId: string | undefined;
  /** Values for the placeholders of the code's copy. */
  readonly params: CopyParams;
  readonly fieldErrors: readonly FieldError[];
  /** Copy the server rendered, used when the bundled contract lacks the code. */
  readonly user: ServerCopy | undefined;
  /** The locale the client that made the request was set up with. */
  readonly locale: string | undefined;
  /** When the server allows the next attempt, in milliseconds since the epoch. */
  readonly retryAt: number | undefined;
  /** How many attempts were made, retries included. */
  readonly attempts: number;
  /** The Idempotency-Key every attempt was sent with. */
  readonly idempotencyKey: string | undefined;
  /**
   * Run the same operation again, with the same Idempotency-Key and trace.
   * Set on errors a client raised; what "Try again" calls.
   */
  tryAgain: (() => Promise<unknown>) | undefined;

  constructor(message: string, init: HiccupErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.category = init.category;
    this.status = init.status;
    this.method = init.method;
    this.url = init.url;
    this.retry = init.retry;
    this.requestId = init.requestId;
    this.traceId = init.traceId;
    this.params = init.params ?? {};
    this.fieldErrors = init.fieldErrors ?? [];
    this.user = init.user;
    this.locale = init.locale;
    this.retryAt = init.retryAt;
    this.attempts = init.attempts ?? 1;
    this.idempotencyKey = init.idempotencyKey;
    this.tryAgain = undefined;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** Tell whether `value` is an error the SDK raised for a failed request. */
export function isHiccupError(value: unknown): value is HiccupError {
  return typeof value === "object" && value !== null && BRAND in value;
}
