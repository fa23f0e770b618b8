import { describe, expect, test } from "vitest";
import type { HiccupError, RetryHints } from "../../src/errors/hiccup-error.js";
import { NetworkError } from "../../src/errors/network-error.js";
import { ResponseError } from "../../src/errors/response-error.js";
import { TimeoutError } from "../../src/errors/timeout-error.js";
import {
  backoff,
  DEFAULT_STATUSES,
  decide,
  type Failure,
  parseRetryAfter,
  type RefusalReason,
  retryPolicy,
} from "../../src/retry.js";

const POLICY = retryPolicy();
const HALF = () => 0.5;
const NO_HINTS: RetryHints = { auto: false, user: false, afterMs: undefined };

interface ErrorFacts {
  readonly method?: string;
  readonly retry?: Partial<RetryHints>;
}

function responseError(status: number, facts: ErrorFacts = {}): ResponseError {
  return new ResponseError(`${status}`, {
    code: "X",
    category: "internal",
    status,
    method: facts.method ?? "GET",
    url: "https://api.example/items",
    retry: { ...NO_HINTS, ...facts.retry },
    response: new Response(null, { status }),
  });
}

function networkError(facts: ErrorFacts = {}): NetworkError {
  return new NetworkError("no response", {
    code: "NETWORK_OFFLINE",
    category: "network",
    status: 0,
    method: facts.method ?? "GET",
    url: "https://api.example/items",
    retry: { ...NO_HINTS, auto: true, user: true },
  });
}

function timeoutError(): TimeoutError {
  return new TimeoutError("too slow", {
    code: "REQUEST_TIMED_OUT",
    category: "timeout",
    status: 0,
    method: "GET",
    url: "https://api.example/items",
    retry: { ...NO_HINTS, auto: true, user: true },
  });
}

// A first failed GET with plenty of time left, unless `facts` say otherwise.
function failure(error: HiccupError, facts: Partial<Omit<Failure, "error">> = {}): Failure {
  return {
    error,
    attempts: 1,
    hinted: false,
    keyed: false,
    replayable: true,
    remainingMs: 60_000,
    ...facts,
  };
}

// A gate with `tokens` retries left, which counts the tokens taken.
function gate(tokens = Number.POSITIVE_INFINITY, open = false) {
  const state = { taken: 0 };

  return {
    state,
    isOpen: () => open,
    take: () => {
      if (state.taken >= tokens) {
        return false;
      }
      state.taken++;

      return true;
    },
  };
}

function refusal(reason: RefusalReason) {
  return { retry: false, reason };
}

describe("decide, the method guard", () => {
  test.each(["POST", "PATCH", "PURGE"])("refuses a %s without an Idempotency-Key", (method) => {
    const verdict = decide(failure(responseError(503, { method })), POLICY, gate(), HALF);

    expect(verdict).toEqual(refusal("not-repeatable"));
  });

  test.each(["POST", "PATCH"])("allows a %s with an Idempotency-Key", (method) => {
    const verdict = decide(
      failure(responseError(503, { method }), { keyed: true }),
      POLICY,
      gate(),
      HALF,
    );

    expect(verdict).toEqual({ retry: true, delayMs: 250, reason: "backoff" });
  });

  test.each(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])(
    "allows a %s without a key, since repeating it is harmless",
    (method) => {
      const verdict = decide(failure(responseError(503, { method })), POLICY, gate(), HALF);

      expect(verdict.retry).toBe(true);
    },
  );
});

describe("decide, the body guard", () => {
  test("refuses a request whose body was a stream", () => {
    const verdict = decide(
      failure(responseError(503), { replayable: false }),
      POLICY,
      gate(),
      HALF,
    );

    expect(verdict).toEqual(refusal("stream-body"));
  });
});

describe("decide, the attempts guard", () => {
  test.each([
    { limit: 0, attempts: 1 },
    { limit: 1, attempts: 2 },
    { limit: 2, attempts: 3 },
  ])("with limit $limit refuses after $attempts attempts", ({ limit, attempts }) => {
    const failed = failure(responseError(503), { attempts });

    const verdict = decide(failed, retryPolicy({ limit }), gate(), HALF);

    expect(verdict).toEqual(refusal("attempts-used"));
  });

  test.each([
    { limit: 1, attempts: 1 },
    { limit: 2, attempts: 2 },
  ])("with limit $limit allows a retry after $attempts attempts", ({ limit, attempts }) => {
    const failed = failure(responseError(503), { attempts });

    const verdict = decide(failed, retryPolicy({ limit }), gate(), HALF);

    expect(verdict.retry).toBe(true);
  });
});

describe("decide, the server hint guard", () => {
  test("refuses when the server asks for longer than maxAfterMs", () => {
    const error = responseError(503, { retry: { auto: true, afterMs: 30_001 } });

    const verdict = decide(failure(error, { hinted: true }), POLICY, gate(), HALF);

    expect(verdict).toEqual(refusal("long-wait"));
  });

  test("allows a wait of exactly maxAfterMs", () => {
    const error = responseError(503, { retry: { auto: true, afterMs: 30_000 } });

    const verdict = decide(failure(error, { hinted: true }), POLICY, gate(), HALF);

    expect(verdict).toEqual({ retry: true, delayMs: 30_000, reason: "server-hint" });
  });

  test("refuses a hinted failure whose hints forbid automatic retries", () => {
    const error = responseError(503, { retry: { auto: false, user: true } });

    const verdict = decide(failure(error, { hinted: true }), POLICY, gate(), HALF);

    expect(verdict).toEqual(refusal("server-refused"));
  });

  test("allows a hinted failure with auto=true even for a status outside the policy's", () => {
    const error = responseError(409, { retry: { auto: true } });

    const verdict = decide(failure(error, { hinted: true }), POLICY, gate(), HALF);

    expect(verdict).toEqual({ retry: true, delayMs: 250, reason: "backoff" });
  });
});

describe("decide, the status guard", () => {
  test.each([400, 404, 409, 501])("refuses an unhinted %i", (code) => {
    const verdict = decide(failure(responseError(code)), POLICY, gate(), HALF);

    expect(verdict).toEqual(refusal("status-not-retryable"));
  });

  test.each(DEFAULT_STATUSES.map((code) => [code]))("allows an unhinted %i", (code) => {
    const verdict = decide(failure(responseError(code)), POLICY, gate(), HALF);

    expect(verdict.retry).toBe(true);
  });

  test("allows only the statuses a policy lists when it lists its own", () => {
    const policy = retryPolicy({ statuses: [418] });

    expect(decide(failure(responseError(418)), policy, gate(), HALF).retry).toBe(true);
    expect(decide(failure(responseError(503)), policy, gate(), HALF).retry).toBe(false);
  });

  test("allows a network failure, which has no status", () => {
    const verdict = decide(failure(networkError()), POLICY, gate(), HALF);

    expect(verdict).toEqual({ retry: true, delayMs: 250, reason: "backoff" });
  });

  test("allows a timeout, which has no status", () => {
    const verdict = decide(failure(timeoutError()), POLICY, gate(), HALF);

    expect(verdict).toEqual({ retry: true, delayMs: 250, reason: "backoff" });
  });
});

describe("decide, the deadline guard", () => {
  test("refuses when the delay would reach the deadline", () => {
    const error = responseError(503, { retry: { afterMs: 5_000 } });

    const verdict = decide(failure(error, { remainingMs: 5_000 }), POLICY, gate(), HALF);

    expect(verdict).toEqual(refusal("deadline"));
  });

  test("allows a delay that ends before the deadline", () => {
    const error = responseError(503, { retry: { afterMs: 5_000 } });

    const verdict = decide(failure(error, { remainingMs: 5_001 }), POLICY, gate(), HALF);

    expect(verdict).toEqual({ retry: true, delayMs: 5_000, reason: "server-hint" });
  });
});

describe("decide, the origin guards", () => {
  test("refuses while the origin's breaker is open, and takes no token", () => {
    const open = gate(Number.POSITIVE_INFINITY, true);

    const verdict = decide(failure(responseError(503)), POLICY, open, HALF);

    expect(verdict).toEqual(refusal("breaker-open"));
    expect(open.state.taken).toBe(0);
  });

  test("refuses when the origin's budget is empty", () => {
    const verdict = decide(failure(responseError(503)), POLICY, gate(0), HALF);

    expect(verdict).toEqual(refusal("budget-spent"));
  });

  test("takes one token for a retry it allows", () => {
    const counted = gate();

    decide(failure(responseError(503)), POLICY, counted, HALF);

    expect(counted.state.taken).toBe(1);
  });
});

describe("decide, the order of the guards", () => {
  test.each([
    { name: "a POST without a key", facts: failure(responseError(503, { method: "POST" })) },
    { name: "a stream body", facts: failure(responseError(503), { replayable: false }) },
    { name: "exhausted attempts", facts: failure(responseError(503), { attempts: 3 }) },
    { name: "a status a repeat cannot fix", facts: failure(responseError(400)) },
    { name: "a passing deadline", facts: failure(responseError(503), { remainingMs: 1 }) },
  ])("spends no token on a retry refused for $name", ({ facts }) => {
    const counted = gate();

    const verdict = decide(facts, POLICY, counted, HALF);

    expect(verdict.retry).toBe(false);
    expect(counted.state.taken).toBe(0);
  });

  test("names the method, not the breaker, for a POST without a key to an open origin", () => {
    const error = responseError(503, { method: "POST" });

    const verdict = decide(failure(error), POLICY, gate(0, true), HALF);

    expect(verdict).toEqual(refusal("not-repeatable"));
  });
});

describe("decide, the delay", () => {
  test("is the backoff, with reason 'backoff', when the server gave no hint", () => {
    const verdict = decide(failure(responseError(503), { attempts: 2 }), POLICY, gate(), HALF);

    expect(verdict).toEqual({ retry: true, delayMs: 500, reason: "backoff" });
  });

  test("is the server's hint, with reason 'server-hint', when that is longer", () => {
    const error = responseError(503, { retry: { afterMs: 3_000 } });

    const verdict = decide(failure(error), POLICY, gate(), HALF);

    expect(verdict).toEqual({ retry: true, delayMs: 3_000, reason: "server-hint" });
  });

  test("is the backoff when it is longer than the server's hint", () => {
    const error = responseError(503, { retry: { afterMs: 100 } });

    const verdict = decide(failure(error, { attempts: 2 }), POLICY, gate(), () => 0.999);

    expect(verdict).toEqual({ retry: true, delayMs: 999, reason: "backoff" });
  });
});

describe("backoff", () => {
  const policy = retryPolicy({ limit: 10 });

  test.each([
    { attempt: 1, step: 500 },
    { attempt: 2, step: 1_000 },
    { attempt: 3, step: 2_000 },
    { attempt: 4, step: 4_000 },
    { attempt: 5, step: 8_000 },
    { attempt: 6, step: 8_000 },
    { attempt: 9, step: 8_000 },
  ])("after attempt $attempt is drawn from [0, $step)", ({ attempt, step }) => {
    expect(backoff(attempt, policy, () => 0)).toBe(0);
    expect(backoff(attempt, policy, () => 0.5)).toBe(step / 2);
    expect(backoff(attempt, policy, () => 0.999)).toBe(Math.floor(step * 0.999));
  });

  test("follows the policy's own base and cap", () => {
    const custom = retryPolicy({ baseMs: 100, capMs: 300 });

    const waits = [1, 2, 3, 4].map((attempt) => backoff(attempt, custom, () => 0.5));

    expect(waits).toEqual([50, 100, 150, 150]);
  });
});

describe("retryPolicy", () => {
  test("fills in the defaults", () => {
    expect(retryPolicy()).toEqual({
      limit: 2,
      baseMs: 500,
      capMs: 8_000,
      maxAfterMs: 30_000,
      statuses: [408, 429, 500, 502, 503, 504],
    });
  });

  test("keeps a limit of 0 rather than taking it for missing", () => {
    expect(retryPolicy({ limit: 0 }).limit).toBe(0);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("Wed, 21 Oct 2026 07:28:00 GMT");

  test.each([
    { value: "120", expected: 120_000 },
    { value: "0", expected: 0 },
    { value: " 3 ", expected: 3_000 },
  ])("reads delay-seconds $value as $expected ms", ({ value, expected }) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });

  test("reads an HTTP date in the future as the time until it", () => {
    expect(parseRetryAfter("Wed, 21 Oct 2026 07:28:30 GMT", now)).toBe(30_000);
  });

  test("reads an HTTP date in the past as no wait", () => {
    expect(parseRetryAfter("Wed, 21 Oct 2026 07:00:00 GMT", now)).toBe(0);
  });

  test("returns undefined for a missing header", () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  test.each([
    { id: "words", value: "soon" },
    { id: "empty", value: "" },
    { id: "negative", value: "-5" },
    { id: "fraction", value: "1.5" },
    { id: "ISO date without names", value: "2026-10-21" },
    { id: "bare year", value: "2026-10" },
  ])("returns undefined for a value that is neither form ($id)", ({ value }) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});
