import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { resetOrigins } from "../../src/budget.js";
import { createClient } from "../../src/client.js";
import { CODES } from "../../src/contract.generated.js";
import { isHiccupError } from "../../src/errors/hiccup-error.js";
import { isNetworkError, NetworkError } from "../../src/errors/network-error.js";
import { isResponseError, ResponseError } from "../../src/errors/response-error.js";
import { isTimeoutError } from "../../src/errors/timeout-error.js";
import { statusBasics } from "../../src/problem.js";
import {
  type Answer,
  envelope,
  failureOf,
  fakeFetch,
  json,
  offline,
  status,
  traceOf,
} from "./helpers.js";

const NOW = Date.parse("2026-10-21T07:28:00Z");

beforeEach(() => {
  resetOrigins();
  vi.useFakeTimers();
  vi.setSystemTime(NOW);
});

afterEach(() => {
  vi.useRealTimers();
});

// The error the client raises for one attempt answered by `answer`.
async function errorFor(answer: Answer, path = "/drafts") {
  const { fetch } = fakeFetch(answer);
  const client = createClient({ baseUrl: "https://api.example", retry: false, fetch });

  return failureOf(client.request(path));
}

async function responseErrorFor(answer: Answer, path = "/drafts"): Promise<ResponseError> {
  const error = await errorFor(answer, path);
  if (!(error instanceof ResponseError)) {
    throw new Error(`expected a ResponseError, got a ${error.name}`);
  }

  return error;
}

describe("an envelope", () => {
  test("gives its code and category", async () => {
    const error = await errorFor(
      envelope(422, { code: "IDEMPOTENCY_KEY_REUSED", category: "conflict" }),
    );

    expect([error.code, error.category, error.status]).toEqual([
      "IDEMPOTENCY_KEY_REUSED",
      "conflict",
      422,
    ]);
  });

  test("keeps a code the contract does not know, with the category it names", async () => {
    const error = await errorFor(envelope(503, { code: "ACME_PAUSED", category: "rate_limited" }));

    expect([error.code, error.category]).toEqual(["ACME_PAUSED", "rate_limited"]);
  });

  test.each([
    ["missing", undefined],
    ["unknown to this build", "acme_trouble"],
    ["not a string", 7],
  ])("with a category %s gets the category of its status", async (_, category) => {
    const error = await errorFor(envelope(503, { code: "ACME_PAUSED", category }));

    expect([error.code, error.category]).toEqual(["ACME_PAUSED", "unavailable"]);
  });

  test("gives its request and trace IDs", async () => {
    const error = await errorFor(
      envelope(500, { code: "INTERNAL", request_id: "req-1", trace_id: "trace-1" }),
    );

    expect([error.requestId, error.traceId]).toEqual(["req-1", "trace-1"]);
  });

  test("gives its params, keeping only strings and numbers", async () => {
    const error = await errorFor(
      envelope(503, {
        code: "MODEL_UNAVAILABLE",
        params: { model: "Claude", seconds: 30, nested: { no: 1 }, flag: true },
      }),
    );

    expect(error.params).toEqual({ model: "Claude", seconds: 30 });
  });

  test("gives its field errors, whatever part of the request they point at", async () => {
    const error = await errorFor(
      envelope(422, {
        code: "VALIDATION_FAILED",
        errors: [
          { code: "FIELD_REQUIRED", source: { pointer: "/email" } },
          { code: "FIELD_TOO_SHORT", source: { parameter: "q" }, params: { min_length: 3 } },
          { code: "FIELD_INVALID_FORMAT", source: { header: "If-Match" } },
        ],
      }),
    );

    expect(error.fieldErrors).toEqual([
      { source: { pointer: "/email" }, code: "FIELD_REQUIRED", params: {} },
      { source: { parameter: "q" }, code: "FIELD_TOO_SHORT", params: { min_length: 3 } },
      { source: { header: "If-Match" }, code: "FIELD_INVALID_FORMAT", params: {} },
    ]);
  });

  test("drops field errors without a code or a known source", async () => {
    const error = await errorFor(
      envelope(422, {
        code: "VALIDATION_FAILED",
        errors: [
          { source: { pointer: "/email" } },
          { code: "FIELD_REQUIRED", source: { cookie: "sid" } },
          { code: "FIELD_REQUIRED", source: { pointer: 7 } },
          "FIELD_REQUIRED",
        ],
      }),
    );

    expect(error.fieldErrors).toEqual([]);
  });

  test("gives its retry hints, and when the wait ends", async () => {
    const error = await errorFor(
      envelope(503, {
        code: "MODEL_OVERLOADED",
        retry: { auto: true, user: true, after_ms: 1_500 },
      }),
    );

    expect(error.retry).toEqual({ auto: true, user: true, afterMs: 1_500 });
    expect(error.retryAt).toBe(NOW + 1_500);
  });

  test("takes the wait from Retry-After when its hints have no after_ms", async () => {
    const error = await errorFor(
      envelope(
        429,
        { code: "RATE_LIMITED", retry: { auto: true, user: true } },
        {
          "Retry-After": "7",
        },
      ),
    );

    expect(error.retry.afterMs).toBe(7_000);
    expect(error.retryAt).toBe(NOW + 7_000);
  });

  test("prefers its own after_ms to Retry-After", async () => {
    const error = await errorFor(
      envelope(
        429,
        { code: "RATE_LIMITED", retry: { auto: true, after_ms: 2_000 } },
        {
          "Retry-After": "7",
        },
      ),
    );

    expect(error.retry.afterMs).toBe(2_000);
  });

  test("without hints takes the auto and user of its status's code", async () => {
    const error = await errorFor(envelope(400, { code: "MAINTENANCE" }));

    expect(error.retry).toEqual({ auto: false, user: false, afterMs: undefined });
  });

  test("without hints heeds an X-Should-Retry header", async () => {
    const error = await errorFor(status(503, "", { "X-Should-Retry": "false" }));

    expect(error.retry).toEqual({ auto: false, user: true, afterMs: undefined });
  });

  test("gives the copy the server rendered for the user", async () => {
    const user = {
      locale: "fr",
      title: "Un instant",
      message: "Réessayez bientôt.",
      action: "Réessayer",
      suggestions: ["Patientez.", 3],
    };

    const error = await errorFor(envelope(503, { code: "ACME_PAUSED", user }));

    expect(error.user).toEqual({
      locale: "fr",
      title: "Un instant",
      message: "Réessayez bientôt.",
      action: "Réessayer",
      suggestions: ["Patientez."],
    });
  });

  test("ignores server copy that lacks a title or a message", async () => {
    const error = await errorFor(
      envelope(503, { code: "ACME_PAUSED", user: { locale: "fr", title: "Un instant" } }),
    );

    expect(error.user).toBeUndefined();
  });

  test("stays readable in error.response for the caller", async () => {
    const error = await responseErrorFor(envelope(409, { code: "CONFLICT", detail: "stale" }));

    const body: unknown = await error.response.json();

    expect(body).toEqual({
      type: "/problems/x",
      title: "t",
      status: 409,
      code: "CONFLICT",
      detail: "stale",
    });
    expect(error.problem).toEqual(body);
  });
});

describe("a response that is not an envelope", () => {
  test("gets the code of its status when its JSON has no code", async () => {
    const error = await responseErrorFor(json(404, { detail: "Not Found" }));

    expect([error.code, error.category, error.problem]).toEqual([
      "NOT_FOUND",
      "not_found",
      undefined,
    ]);
  });

  test("from a proxy's HTML 502 page is an upstream error", async () => {
    const error = await errorFor(
      status(502, "<html><body>Bad Gateway</body></html>", { "Content-Type": "text/html" }),
    );

    expect([error.code, error.category, error.status]).toEqual(["UPSTREAM_ERROR", "upstream", 502]);
  });

  test("with an empty 503 body is a dependency being unavailable", async () => {
    const error = await errorFor(status(503));

    expect([error.code, error.category]).toEqual(["DEPENDENCY_UNAVAILABLE", "unavailable"]);
  });

  test("with invalid JSON under a JSON content type gets the code of its status", async () => {
    const error = await responseErrorFor(
      status(500, '{"code": "INTER', { "Content-Type": "application/problem+json" }),
    );

    expect([error.code, error.problem]).toEqual(["INTERNAL", undefined]);
  });

  test.each([
    { code: 418, expected: "BAD_REQUEST" },
    { code: 599, expected: "INTERNAL" },
  ])("with the unmapped status $code is $expected", async ({ code, expected }) => {
    const error = await errorFor(status(code));

    expect(error.code).toBe(expected);
  });

  test("takes its wait from Retry-After", async () => {
    const error = await errorFor(status(503, "", { "Retry-After": "3" }));

    expect(error.retry).toEqual({ auto: true, user: true, afterMs: 3_000 });
    expect(error.retryAt).toBe(NOW + 3_000);
  });

  test("has no wait without Retry-After, whatever the contract suggests", async () => {
    const error = await errorFor(status(503));

    expect([error.retry.afterMs, error.retryAt]).toEqual([undefined, undefined]);
  });

  test("takes its request ID from X-Request-ID", async () => {
    const error = await errorFor(status(500, "", { "X-Request-ID": "req-9" }));

    expect(error.requestId).toBe("req-9");
  });

  test("carries the trace ID the request was sent with", async () => {
    const { fetch, sent } = fakeFetch(status(500));
    const client = createClient({ baseUrl: "https://api.example", retry: false, fetch });

    const error = await failureOf(client.request("/drafts"));

    expect(error.traceId).toBe(traceOf(sent[0]?.headers.get("traceparent") ?? null).traceId);
  });
});

describe("a fetch that throws a TypeError", () => {
  test("is a NetworkError with the contract's offline code", async () => {
    const error = await errorFor(offline());

    expect(error).toBeInstanceOf(NetworkError);
    expect([error.code, error.category, error.status]).toEqual(["NETWORK_OFFLINE", "network", 0]);
  });

  test("keeps the TypeError as the cause", async () => {
    const error = await errorFor(offline());

    expect(error.cause).toBeInstanceOf(TypeError);
  });
});

describe("an error's message", () => {
  test("names the method, the path and the code", async () => {
    const error = await errorFor(status(503));

    expect(error.message).toBe("GET /drafts: 503 DEPENDENCY_UNAVAILABLE");
  });

  test("leaves out the query string of a failed response", async () => {
    const error = await errorFor(status(503), "/search?q=my+secret#results");

    expect(error.message).not.toContain("secret");
    expect(error.url).toBe("https://api.example/search");
  });

  test("leaves out the query string of a network failure", async () => {
    const error = await errorFor(offline(), "/search?q=my+secret");

    expect(error.message).toBe("GET /search: no response");
    expect(error.url).toBe("https://api.example/search");
  });
});

describe("the type guards", () => {
  test.each([
    { id: "response", answer: status(503), guard: isResponseError },
    { id: "network", answer: offline(), guard: isNetworkError },
  ])("recognise a $id failure", async ({ answer, guard }) => {
    expect(guard(await errorFor(answer))).toBe(true);
  });

  test("tell the kinds of failure apart", async () => {
    const error = await errorFor(offline());

    expect([isResponseError(error), isTimeoutError(error), isHiccupError(error)]).toEqual([
      false,
      false,
      true,
    ]);
  });

  test.each([
    { id: "an Error", value: new Error("x") },
    { id: "null", value: null },
    { id: "a string", value: "NETWORK_OFFLINE" },
  ])("reject $id", ({ value }) => {
    expect([isHiccupError(value), isResponseError(value), isNetworkError(value)]).toEqual([
      false,
      false,
      false,
    ]);
  });

  test("recognise an error from another copy of the package by its brand", () => {
    const foreign = { [Symbol.for("hiccup.error")]: true, kind: "network" };

    expect([isHiccupError(foreign), isNetworkError(foreign)]).toEqual([true, true]);
  });
});

describe("the codes a bare status stands for", () => {
  test.each(statusBasics())(
    "%s has the category and retry flags the contract gives it",
    (code, category, auto, user) => {
      const spec = CODES[code];

      expect([category, auto, user]).toEqual([spec.category, spec.retry.auto, spec.retry.user]);
    },
  );
});
