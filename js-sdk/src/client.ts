import {
  type BreakerOptions,
  type BudgetOptions,
  type OriginState,
  originState,
} from "./budget.js";
import { type HiccupError, isHiccupError } from "./errors/hiccup-error.js";
import { bindReporters, emit, type Reporter } from "./events.js";
import {
  type FailedRequest,
  invalidBody,
  networkFailure,
  readFailure,
  timeoutFailure,
} from "./problem.js";
import {
  backoff,
  decide,
  isRetryableFailure,
  type OriginGate,
  type RefusalReason,
  type RetryOptions,
  type RetryPolicy,
  retryPolicy,
  type Verdict,
} from "./retry.js";
import { attemptParent, startTrace, type Trace } from "./traceparent.js";
import { sleep, whenOnline, whenVisible } from "./wait.js";

/** How a client sends requests. Every field is optional. */
export interface ClientOptions {
  /** What relative request URLs resolve against; defaults to the page's URL. */
  readonly baseUrl?: string | URL;
  /** The locale the failure copy of this client's errors is described in. */
  readonly locale?: string;
  /** Headers sent with every request; a request's own headers win. */
  readonly headers?: HeadersInit;
  /** How failed attempts are retried; `false` turns automatic retries off. */
  readonly retry?: RetryOptions | false;
  /** The tab's retry budget per origin; `false` lets this client ignore it. */
  readonly budget?: BudgetOptions | false;
  /** The tab's breaker per origin; `false` lets this client ignore it. */
  readonly breaker?: BreakerOptions | false;
  /** How long one attempt may take, in milliseconds. */
  readonly timeoutMs?: number;
  /** How long an operation may take, retries and waits included. */
  readonly deadlineMs?: number;
  /** Give every POST and PATCH an Idempotency-Key, so that it can be retried. */
  readonly idempotencyKeys?: boolean;
  /** Receive every failure, retry and modal event of this client. */
  readonly reporters?: readonly Reporter[];
  /** Called with every failure that reaches the caller. */
  readonly onError?: (error: HiccupError) => void;
  /** The fetch to send requests with; defaults to the global one. */
  readonly fetch?: typeof fetch;
}

/** `fetch`'s options, plus the client's own. */
export interface RequestOptions extends RequestInit {
  /** A value to send as the JSON body. */
  readonly json?: unknown;
  /**
   * The Idempotency-Key to send with every attempt: a key of the caller's,
   * or `true` for a new one. A POST or PATCH is only retried with a key.
   */
  readonly idempotencyKey?: string | boolean;
  readonly retry?: RetryOptions | false;
  readonly timeoutMs?: number;
  readonly deadlineMs?: number;
}

/** Sends requests, retries what is safe, and turns failures into HiccupErrors. */
export interface Client {
  /** Send a request; resolve to its response when the status is 2xx. */
  request(input: string | URL, options?: RequestOptions): Promise<Response>;
  /** Send a request; resolve to its parsed JSON body (`undefined` when empty). */
  json<T = unknown>(input: string | URL, options?: RequestOptions): Promise<T>;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_DEADLINE_MS = 90_000;

const IDEMPOTENCY_KEY = "Idempotency-Key";
/** Tells the server how many milliseconds this attempt still waits. */
const DEADLINE_HEADER = "X-Request-Deadline-Ms";

/** One call of `request` or `json`, which "Try again" can run again. */
interface Operation {
  readonly url: URL;
  readonly method: string;
  readonly init: RequestInit;
  readonly headers: Headers;
  readonly key: string | undefined;
  readonly trace: Trace;
  readonly policy: RetryPolicy | undefined;
  readonly timeoutMs: number;
  readonly deadlineMs: number;
  /** The origin's budget and breaker, as far as this client heeds them. */
  readonly gate: OriginGate & { readonly state: OriginState };
  readonly finish: (response: Response, request: FailedRequest) => Promise<unknown>;
}

// Why each failure a client raised was not retried, for its failure event.
const refusals = new WeakMap<HiccupError, RefusalReason>();

/** Why an attempt was aborted by the client itself. */
const ATTEMPT_TIMEOUT = Symbol("attempt timeout");
const DEADLINE = Symbol("deadline");

/** Make a client. */
export function createClient(options: ClientOptions = {}): Client {
  const send = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const reporters = options.reporters ?? [];

  function operation(
    input: string | URL,
    request: RequestOptions,
    finish: Operation["finish"],
  ): Operation {
    const { json, idempotencyKey, retry, timeoutMs, deadlineMs, ...init } = request;
    if (json !== undefined && init.body != null) {
      throw new TypeError("Give a request either `json` or `body`, not both.");
    }
    const url = resolve(input, options.baseUrl);
    const method = (init.method ?? "GET").toUpperCase();
    const headers = new Headers(options.headers);
    new Headers(init.headers).forEach((value, name) => {
      headers.set(name, value);
    });
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      if (!headers.has("Content-Type")) {
        headers.set("Content-Type", "application/json");
      }
    }
    const key = chooseKey(headers, method, idempotencyKey, options.idempotencyKeys === true);
    if (key !== undefined) {
      headers.set(IDEMPOTENCY_KEY, key);
    }
    // A request's retry options refine the client's; `false` on either side
    // turns retries off.
    const retryOptions =
      retry === false || options.retry === false ? false : { ...options.retry, ...retry };

    return {
      url,
      method,
      init: { ...init, method },
      headers,
      key,
      trace: startTrace(headers.get("traceparent")),
      policy: retryOptions === false ? undefined : retryPolicy(retryOptions),
      timeoutMs: timeoutMs ?? options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      deadlineMs: deadlineMs ?? options.deadlineMs ?? DEFAULT_DEADLINE_MS,
      gate: gateFor(url.origin, options.budget, options.breaker),
      finish,
    };
  }

  async function execute(op: Operation): Promise<unknown> {
    try {
      return await run(op);
    } catch (thrown) {
      if (isHiccupError(thrown)) {
        thrown.tryAgain = () => execute(op);
        bindReporters(thrown, reporters);
        emit({ type: "failure", error: thrown, reason: refusals.get(thrown) }, reporters);
        try {
          options.onError?.(thrown);
        } catch {
          // The caller is owed the failure itself, not a bug in its hook.
        }
      }
      throw thrown;
    }
  }

  async function run(op: Operation): Promise<unknown> {
    const caller = op.init.signal ?? undefined;
    // Aborts the operation, with the caller's reason or at the deadline.
    const control = new AbortController();
    const signal = control.signal;
    const timer = setTimeout(() => control.abort(DEADLINE), op.deadlineMs);
    const endsAt = Date.now() + op.deadlineMs;
    const onAbort = () => control.abort(caller?.reason);
    // An already aborted signal fires no event; the loop's check catches it.
    caller?.addEventListener("abort", onAbort, { once: true });
    let last: HiccupError | undefined;

    try {
      for (let attempts = 1; ; attempts++) {
        caller?.throwIfAborted();
        signal.throwIfAborted();
        const outcome = await attempt(op, facts(op, attempts), signal, caller, endsAt);
        if (outcome.error === undefined) {
          return outcome.value;
        }
        last = outcome.error;
        const verdict = judge(op, outcome, attempts, endsAt - Date.now());
        if (!verdict.retry) {
          refusals.set(outcome.error, verdict.reason);
          throw outcome.error;
        }
        const { delayMs, reason } = verdict;
        emit({ type: "retry", error: last, attempt: attempts, delayMs, reason }, reporters);
        await pause(delayMs, op.policy ?? retryPolicy(), signal);
      }
    } catch (thrown) {
      if (caller?.aborted === true) {
        throw caller.reason;
      }
      // The deadline passed while waiting to retry: the caller gets the
      // failure it was waiting out, which says more than "too slow".
      const late = signal.reason === DEADLINE && last !== undefined && !isHiccupError(thrown);
      throw late ? last : thrown;
    } finally {
      clearTimeout(timer);
      // A long-lived caller signal must not collect a listener per operation.
      caller?.removeEventListener("abort", onAbort);
    }
  }

  type Outcome =
    | { readonly value: unknown; readonly error?: undefined }
    | { readonly error: HiccupError; readonly hinted: boolean };

  /**
   * Make one attempt. A success is finished (its body parsed, for `json`)
   * under the attempt's timeout too, since a body can stall as well.
   */
  async function attempt(
    op: Operation,
    request: FailedRequest,
    signal: AbortSignal,
    caller: AbortSignal | undefined,
    endsAt: number,
  ): Promise<Outcome> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(ATTEMPT_TIMEOUT), op.timeoutMs);
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const headers = new Headers(op.headers);
    headers.set("traceparent", attemptParent(op.trace));
    // The server stops work that nobody will wait for: it is told when
    // this attempt is given up, by its timeout or by the deadline.
    const waitsMs = Math.min(op.timeoutMs, endsAt - Date.now());
    headers.set(DEADLINE_HEADER, String(Math.max(0, Math.floor(waitsMs))));

    try {
      const response = await send(op.url, { ...op.init, headers, signal: controller.signal });
      // Below 400 is not a failure: redirects a caller asked to see, a 304,
      // or the opaque response of a no-cors request.
      if (response.status < 400) {
        op.gate.state.succeeded();
        return { value: await op.finish(response, request) };
      }
      return await readFailure(response, request);
    } catch (thrown) {
      if (caller?.aborted === true || isHiccupError(thrown)) {
        throw thrown;
      }
      const reason = controller.signal.reason;
      if (reason === ATTEMPT_TIMEOUT || reason === DEADLINE) {
        const limitMs = reason === DEADLINE ? op.deadlineMs : op.timeoutMs;
        return { error: timeoutFailure(request, limitMs), hinted: false };
      }
      return { error: networkFailure(request, thrown), hinted: false };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Tell the origin's breaker about a failure, then decide on a retry. */
  function judge(
    op: Operation,
    outcome: { readonly error: HiccupError; readonly hinted: boolean },
    attempts: number,
    remainingMs: number,
  ): Verdict {
    const { error, hinted } = outcome;
    const policy = op.policy ?? retryPolicy();
    const longWait = (error.retry.afterMs ?? 0) > policy.maxAfterMs;
    if (longWait || (hinted ? error.retry.auto : isRetryableFailure(error, policy))) {
      op.gate.state.failed(error.retry.afterMs, longWait);
    } else {
      // The origin answered, if only to say no: it is up.
      op.gate.state.succeeded();
    }
    if (op.policy === undefined) {
      return { retry: false, reason: "retries-off" };
    }

    return decide(
      {
        error,
        attempts,
        hinted,
        keyed: op.key !== undefined,
        replayable: !(op.init.body instanceof ReadableStream),
        remainingMs,
      },
      op.policy,
      op.gate,
    );
  }

  function facts(op: Operation, attempts: number): FailedRequest {
    return {
      method: op.method,
      url: op.url,
      locale: options.locale,
      attempts,
      idempotencyKey: op.key,
      traceId: op.trace.traceId,
    };
  }

  return {
    // Async, so that a bad URL or option rejects like any other failure
    // instead of throwing before a promise exists.
    async request(input, init = {}) {
      return execute(operation(input, init, async (response) => response)) as Promise<Response>;
    },
    async json<T>(input: string | URL, init: RequestOptions = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("Accept") && !new Headers(options.headers).has("Accept")) {
        headers.set("Accept", "application/json, application/problem+json");
      }

      return execute(operation(input, { ...init, headers }, parseJson)) as Promise<T>;
    },
  };
}

/** Wait out a retry's delay, then for the network and for someone to look. */
async function pause(delayMs: number, policy: RetryPolicy, signal: AbortSignal): Promise<void> {
  await sleep(delayMs, signal);
  if (globalThis.navigator?.onLine === false) {
    await whenOnline(signal);
    // Every tab that was offline comes back at once: spread them out.
    await sleep(backoff(1, policy, Math.random), signal);
  }
  await whenVisible(signal);
}

async function parseJson(response: Response, request: FailedRequest): Promise<unknown> {
  const text = await response.text();
  if (text === "") {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    // The body is used up; the error gets a copy the caller can still read.
    const copy = new Response(text, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
    throw invalidBody(copy, request, cause);
  }
}

function resolve(input: string | URL, baseUrl: string | URL | undefined): URL {
  const base = baseUrl ?? globalThis.location?.href;
  try {
    return new URL(input, base);
  } catch {
    throw new TypeError(
      `The request URL ${JSON.stringify(String(input))} is not valid against base ${base}.`,
    );
  }
}

function chooseKey(
  headers: Headers,
  method: string,
  wanted: string | boolean | undefined,
  byDefault: boolean,
): string | undefined {
  if (typeof wanted === "string") {
    return wanted;
  }
  const given = headers.get(IDEMPOTENCY_KEY);
  if (given !== null) {
    return given;
  }
  if (wanted === true || (wanted === undefined && byDefault && /^(POST|PATCH)$/.test(method))) {
    return newKey();
  }

  return undefined;
}

// randomUUID only exists in secure contexts; plain-http pages get 128
// random bits in hex, which serve a key just as well.
function newKey(): string {
  if (typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }

  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) =>
    byte.toString(16).padStart(2, "0"),
  ).join("");
}

function gateFor(
  origin: string,
  budget: BudgetOptions | false | undefined,
  breaker: BreakerOptions | false | undefined,
): Operation["gate"] {
  const state = originState(origin, budget || {}, breaker || {});

  return {
    isOpen: () => breaker !== false && state.isOpen(),
    take: () => budget === false || state.take(),
    state,
  };
}
