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
  declare readonly code: string;
  declare readonly category: Category;
  /** The response's status, or 0 when no response arrived. */
  declare readonly status: number;
  declare readonly method: string;
  /** The URL of the request, without its query string or fragment. */
  declare readonly url: string;
  declare readonly retry: RetryHints;
  declare readonly requestId: string | undefined;
  declare readonly traceId: string | undefined;
  /** Values for the placeholders of the code's copy. */
  declare readonly params: CopyParams;
  declare readonly fieldErrors: readonly FieldError[];
  /** Copy the server rendered, used when the bundled contract lacks the code. */
  declare readonly user: ServerCopy | undefined;
  /** The locale the client that made the request was set up with. */
  declare readonly locale: string | undefined;
  /** When the server allows the next attempt, in milliseconds since the epoch. */
  declare readonly retryAt: number | undefined;
  /** How many attempts were made, retries included. */
  declare readonly attempts: number;
  /** The Idempotency-Key every attempt was sent with. */
  declare readonly idempotencyKey: string | undefined;
  /**
   * Run the same operation again, with the same Idempotency-Key and trace.
   * Set on errors a client raised; what "Try again" calls.
   */
  declare tryAgain: (() => Promise<unknown>) | undefined;

  constructor(message: string, { cause, ...init }: HiccupErrorInit) {
    super(message, cause === undefined ? undefined : { cause });
    Object.assign(this, init, {
      params: init.params ?? {},
      fieldErrors: init.fieldErrors ?? [],
      attempts: init.attempts ?? 1,
    });
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** Tell whether `value` is an error the SDK raised for a failed request. */
export function isHiccupError(value: unknown): value is HiccupError {
  return typeof value === "object" && value !== null && BRAND in value;
}
