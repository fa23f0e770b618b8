import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { resetOrigins } from "../../src/budget.js";
import { ResponseError } from "../../src/errors/response-error.js";
import { TimeoutError } from "../../src/errors/timeout-error.js";
import { counters } from "../../src/events.js";
import {
  clientWith,
  envelope,
  failureOf,
  hang,
  offline,
  resolvedBy,
  status,
  thrownBy,
} from "./helpers.js";

beforeEach(() => {
  resetOrigins();
  vi.useFakeTimers();
  // Full jitter then waits half of each step: 250, 500, 1000 ms...
  vi.spyOn(Math, "random").mockReturnValue(0.5);
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("a per-attempt timeout", () => {
  test("rejects with a TimeoutError for the contract's timed-out code", async () => {
    const { client } = clientWith([hang()], { timeoutMs: 1_000, retry: false });

    const error = await failureOf(client.request("/items"));

    expect(error).toBeInstanceOf(TimeoutError);
    expect([error.code, error.category, error.status, error.message]).toEqual([
      "REQUEST_TIMED_OUT",
      "timeout",
      0,
      "GET /items: no response within 1000 ms",
    ]);
  });

  test("is retried for a GET", async () => {
    const { client, sent } = clientWith([hang(), status(200, "late")], { timeoutMs: 1_000 });

    const response = await resolvedBy(client.request("/items"));

    expect(await response.text()).toBe("late");
    expect(sent).toHaveLength(2);
  });

  test("is not retried for a POST without an Idempotency-Key", async () => {
    const { client, sent } = clientWith([hang(), status(201)], { timeoutMs: 1_000 });

    const error = await failureOf(client.request("/items", { method: "POST" }));

    expect(error.code).toBe("REQUEST_TIMED_OUT");
    expect(sent).toHaveLength(1);
  });

  test("is retried for a POST with an Idempotency-Key", async () => {
    const { client, sent } = clientWith([hang(), status(201)], { timeoutMs: 1_000 });

    const response = await resolvedBy(
      client.request("/items", { method: "POST", idempotencyKey: true }),
    );

    expect(response.status).toBe(201);
    expect(sent).toHaveLength(2);
  });

  test("can be set per request", async () => {
    const { client } = clientWith([hang()], { timeoutMs: 1_000, retry: false });

    const error = await failureOf(client.request("/items", { timeoutMs: 50 }));

    expect(error.message).toBe("GET /items: no response within 50 ms");
  });
});

describe("the deadline", () => {
  // Attempt 1 times out at 1000 ms, waits 250, attempt 2 starts at 1250.
  const options = { timeoutMs: 1_000, deadlineMs: 1_500 };

  test("rejects with a TimeoutError naming the deadline", async () => {
    const { client } = clientWith([hang()], options);

    const error = await failureOf(client.request("/items"));

    expect(error).toBeInstanceOf(TimeoutError);
    expect([error.code, error.message, error.attempts]).toEqual([
      "REQUEST_TIMED_OUT",
      "GET /items: no response within 1500 ms",
      2,
    ]);
  });

  test("ends the attempt in flight and sends no other", async () => {
    const { client, sent } = clientWith([hang()], options);

    await failureOf(client.request("/items"));

    expect(sent).toHaveLength(2);
  });

  test("refuses a retry whose wait would outlast it", async () => {
    const { client, sent } = clientWith([status(503, "", { "Retry-After": "5" })], {
      deadlineMs: 3_000,
    });

    const error = await failureOf(client.request("/items"));

    expect(error.code).toBe("DEPENDENCY_UNAVAILABLE");
    expect(sent).toHaveLength(1);
  });
});

describe("a caller's abort", () => {
  function isAbortError(value: unknown): boolean {
    return value instanceof DOMException && value.name === "AbortError";
  }

  test("before the request rejects with the caller's AbortError and sends nothing", async () => {
    const { client, sent } = clientWith([status(200)]);
    const controller = new AbortController();
    controller.abort();

    const thrown = await thrownBy(client.request("/items", { signal: controller.signal }));

    expect(thrown).toBe(controller.signal.reason);
    expect(isAbortError(thrown)).toBe(true);
    expect(sent).toHaveLength(0);
  });

  test("during an attempt rejects with the caller's AbortError and is not retried", async () => {
    const { client, sent } = clientWith([hang(), status(200)]);
    const controller = new AbortController();
    const pending = client.request("/items", { signal: controller.signal });

    controller.abort();
    const thrown = await thrownBy(pending);

    expect(isAbortError(thrown)).toBe(true);
    expect(sent).toHaveLength(1);
  });

  test("during the wait before a retry rejects and sends no retry", async () => {
    const { client, sent } = clientWith([status(503), status(200)]);
    const controller = new AbortController();
    const pending = client.request("/items", { signal: controller.signal });
    await vi.advanceTimersByTimeAsync(100);

    controller.abort();
    const thrown = await thrownBy(pending);

    expect(isAbortError(thrown)).toBe(true);
    expect(sent).toHaveLength(1);
  });

  test("keeps a reason of the caller's own", async () => {
    const { client } = clientWith([hang()]);
    const controller = new AbortController();
    const reason = new Error("the user left the page");
    const pending = client.request("/items", { signal: controller.signal });

    controller.abort(reason);

    expect(await thrownBy(pending)).toBe(reason);
  });

  test("is reported to neither onError nor the reporters", async () => {
    const { client, events, errors } = clientWith([status(503), status(200)]);
    const controller = new AbortController();
    const pending = client.request("/items", { signal: controller.signal });
    await vi.advanceTimersByTimeAsync(100);
    const before = counters().failures;

    controller.abort();
    await thrownBy(pending);

    expect(errors).toEqual([]);
    expect(events.map((event) => event.type)).toEqual(["retry"]);
    expect(counters().failures).toBe(before);
  });
});

describe("retry: false", () => {
  test("on the client makes one attempt", async () => {
    const { client, sent } = clientWith([status(503), status(200)], { retry: false });

    await failureOf(client.request("/items"));

    expect(sent).toHaveLength(1);
  });

  test("on a request makes one attempt despite the client's options", async () => {
    const { client, sent } = clientWith([status(503), status(200)], { retry: { limit: 5 } });

    await failureOf(client.request("/items", { retry: false }));

    expect(sent).toHaveLength(1);
  });
});

describe("the retry limit", () => {
  test("makes one attempt more than the limit, then rejects with the last failure", async () => {
    const { client, sent } = clientWith([status(503), status(502), status(504)]);

    const error = await failureOf(client.request("/items"));

    expect(sent).toHaveLength(3);
    expect([error.status, error.attempts]).toEqual([504, 3]);
  });
});

describe("onError", () => {
  test("is called once, with the error the caller gets, after the retries", async () => {
    const { client, errors } = clientWith([status(503)]);

    const error = await failureOf(client.request("/items"));

    expect(errors).toEqual([error]);
    expect(errors[0]?.attempts).toBe(3);
  });

  test("is not called for a request that succeeds after retries", async () => {
    const { client, errors } = clientWith([status(503), status(200)]);

    await resolvedBy(client.request("/items"));

    expect(errors).toEqual([]);
  });

  test("is called again when trying again fails too", async () => {
    const { client, errors } = clientWith([status(400)]);

    const error = await failureOf(client.request("/items"));
    await thrownBy(error.tryAgain?.() ?? Promise.resolve());

    expect(errors).toHaveLength(2);
  });
});

describe("the reporters", () => {
  test("get a retry event for each retry, with its attempt, delay and reason", async () => {
    const { client, events } = clientWith([status(503), offline(), status(200)]);

    await resolvedBy(client.request("/items"));

    expect(events).toEqual([
      {
        type: "retry",
        error: expect.any(ResponseError),
        attempt: 1,
        delayMs: 250,
        reason: "backoff",
      },
      { type: "retry", error: expect.anything(), attempt: 2, delayMs: 500, reason: "backoff" },
    ]);
  });

  test("get the server's wait as the delay of a hinted retry", async () => {
    const hinted = envelope(503, {
      code: "MODEL_OVERLOADED",
      retry: { auto: true, user: true, after_ms: 3_000 },
    });
    const { client, events } = clientWith([hinted, status(200)]);

    await resolvedBy(client.request("/items"));

    expect(events).toMatchObject([{ type: "retry", delayMs: 3_000, reason: "server-hint" }]);
  });

  test("get one failure event, after the retries", async () => {
    const { client, events } = clientWith([status(503)]);

    const error = await failureOf(client.request("/items"));

    expect(events.map((event) => event.type)).toEqual(["retry", "retry", "failure"]);
    expect(events.at(-1)).toEqual({ type: "failure", error, reason: "attempts-used" });
  });

  test("learn from the failure event why it was not retried", async () => {
    const { client, events } = clientWith([status(404)]);

    await failureOf(client.request("/items"));

    expect(events).toMatchObject([{ type: "failure", reason: "status-not-retryable" }]);
  });

  test("that throw do not break the request", async () => {
    const { client } = clientWith([status(503), status(200)], {
      reporters: [
        {
          report: () => {
            throw new Error("reporter down");
          },
        },
      ],
    });

    const response = await resolvedBy(client.request("/items"));

    expect(response.status).toBe(200);
  });
});

describe("counters", () => {
  test("count each retry and each failure that reaches a caller", async () => {
    const { client } = clientWith([status(503)]);
    const before = counters();

    await failureOf(client.request("/items"));

    const after = counters();
    expect([after.retries - before.retries, after.failures - before.failures]).toEqual([2, 1]);
  });
});

describe("the breaker", () => {
  // Five requests that each fail once with a status worth retrying.
  async function openBreaker(): Promise<void> {
    const { client } = clientWith([status(503)], { retry: { limit: 0 } });
    for (let request = 0; request < 5; request++) {
      await failureOf(client.request("/items"));
    }
  }

  test("opened by five retryable failures stops retries of later requests", async () => {
    await openBreaker();
    const { client, sent } = clientWith([status(503), status(200)]);

    const error = await failureOf(client.request("/other"));

    expect(error.attempts).toBe(1);
    expect(sent).toHaveLength(1);
  });

  test("still sends the first attempt of later requests", async () => {
    await openBreaker();
    const { client } = clientWith([status(200, "fine")]);

    const response = await resolvedBy(client.request("/items"));

    expect(await response.text()).toBe("fine");
  });

  test("is closed by a success, after which retries resume", async () => {
    await openBreaker();
    const { client, sent } = clientWith([status(200), status(503), status(200)]);

    await resolvedBy(client.request("/items"));
    await resolvedBy(client.request("/items"));

    expect(sent).toHaveLength(3);
  });

  test("counts no failure a retry could not fix", async () => {
    const failing = clientWith([status(400)], { retry: { limit: 0 } });
    for (let request = 0; request < 5; request++) {
      await failureOf(failing.client.request("/items"));
    }
    const { client, sent } = clientWith([status(503), status(200)]);

    await resolvedBy(client.request("/items"));

    expect(sent).toHaveLength(2);
  });

  test("is ignored by a client made with breaker: false", async () => {
    await openBreaker();
    const { client, sent } = clientWith([status(503), status(200)], { breaker: false });

    await resolvedBy(client.request("/items"));

    expect(sent).toHaveLength(2);
  });

  test("of one origin leaves another origin's retries alone", async () => {
    await openBreaker();
    const { client, sent } = clientWith([status(503), status(200)], {
      baseUrl: "https://other.example",
    });

    await resolvedBy(client.request("/items"));

    expect(sent).toHaveLength(2);
  });
});

describe("the budget", () => {
  // A client whose retries of BASE spend a bucket of two tokens.
  async function drainBudget(): Promise<number> {
    const { client, sent } = clientWith([status(503)], {
      budget: { capacity: 2, refillPerSecond: 0 },
      breaker: false,
    });
    await failureOf(client.request("/items"));

    return sent.length;
  }

  test("lets a client retry until its tokens are spent", async () => {
    expect(await drainBudget()).toBe(3);
  });

  test("is shared, so one client's retries leave none for another's", async () => {
    await drainBudget();
    const { client, sent } = clientWith([status(503), status(200)]);

    const error = await failureOf(client.request("/items"));

    expect(error.attempts).toBe(1);
    expect(sent).toHaveLength(1);
  });

  test("is ignored by a client made with budget: false", async () => {
    await drainBudget();
    const { client, sent } = clientWith([status(503), status(200)], { budget: false });

    await resolvedBy(client.request("/items"));

    expect(sent).toHaveLength(2);
  });
});
