import { afterEach, beforeEach, expect, describe as group, test } from "vitest";
import { resetOrigins } from "../../src/budget.js";
import { createClient } from "../../src/client.js";
import { describe } from "../../src/describe.js";
import { type HiccupError, isHiccupError } from "../../src/errors/hiccup-error.js";
import { isNetworkError } from "../../src/errors/network-error.js";
import { isResponseError } from "../../src/errors/response-error.js";
import { isTimeoutError } from "../../src/errors/timeout-error.js";
import { codeWords } from "../support/contract.js";
import { problem, reply, type Script, serve, type TestServer } from "./harness.js";

let server: TestServer | undefined;

beforeEach(() => {
  resetOrigins();
});

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(script: Script): Promise<TestServer> {
  server = await serve(script);

  return server;
}

async function failure(promise: Promise<unknown>): Promise<HiccupError> {
  const thrown: unknown = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!isHiccupError(thrown)) {
    throw new Error(`expected a HiccupError, got ${String(thrown)}`);
  }

  return thrown;
}

group("a 503 with Retry-After", () => {
  test("is retried once, no sooner than the server asked", async () => {
    const { url, seen } = await start((index, _seen, response) =>
      index === 0 ? reply(response, 503, "", { "Retry-After": "2" }) : reply(response, 200, "ok"),
    );
    const client = createClient({ baseUrl: url });

    const response = await client.request("/drafts");

    expect(await response.text()).toBe("ok");
    expect(seen).toHaveLength(2);
    const [first, second] = seen;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(2000);
  });
});

group("a POST", () => {
  test("without an Idempotency-Key is never retried", async () => {
    const { url, seen } = await start((_index, _seen, response) => reply(response, 503));
    const client = createClient({ baseUrl: url, retry: { baseMs: 1 } });

    const error = await failure(client.request("/drafts", { method: "POST", body: "{}" }));

    expect(seen).toHaveLength(1);
    expect(error.code).toBe("DEPENDENCY_UNAVAILABLE");
    expect(error.attempts).toBe(1);
  });

  test("with an Idempotency-Key is retried with the same key", async () => {
    const { url, seen } = await start((index, _seen, response) =>
      index < 2 ? reply(response, 503) : reply(response, 201, "made"),
    );
    const client = createClient({ baseUrl: url, retry: { baseMs: 1 } });

    const response = await client.request("/drafts", {
      method: "POST",
      body: '{"title":"a"}',
      idempotencyKey: true,
    });

    expect(response.status).toBe(201);
    expect(seen.map((entry) => entry.method)).toEqual(["POST", "POST", "POST"]);
    const keys = seen.map((entry) => entry.headers["idempotency-key"]);
    expect(keys[0]).toMatch(/^[0-9a-f-]{32,36}$/);
    expect(new Set(keys).size).toBe(1);
    expect(seen.map((entry) => entry.body)).toEqual(Array(3).fill('{"title":"a"}'));
  });

  test("with a key keeps it when the user tries again", async () => {
    const { url, seen } = await start((index, _seen, response) =>
      index === 0 ? reply(response, 400) : reply(response, 201),
    );
    const client = createClient({ baseUrl: url });

    const error = await failure(
      client.request("/drafts", { method: "POST", idempotencyKey: "key-1" }),
    );
    const again = (await error.tryAgain?.()) as Response;

    expect(again.status).toBe(201);
    expect(seen.map((entry) => entry.headers["idempotency-key"])).toEqual(["key-1", "key-1"]);
  });
});

group("the retry budget", () => {
  test("is spent by 100 concurrent failing calls, which then stop retrying", async () => {
    const { url, seen } = await start((_index, _seen, response) => reply(response, 503));
    const client = createClient({
      baseUrl: url,
      retry: { baseMs: 1, limit: 5 },
      budget: { capacity: 10, refillPerSecond: 0 },
      breaker: false,
    });

    const errors = await Promise.all(
      Array.from({ length: 100 }, (_, index) => failure(client.json(`/items/${index}`))),
    );

    expect(seen).toHaveLength(110);
    expect(errors.every((error) => error.code === "DEPENDENCY_UNAVAILABLE")).toBe(true);
    expect(errors.reduce((sum, error) => sum + error.attempts - 1, 0)).toBe(10);
  });

  test("is shared by every client that calls the origin", async () => {
    const { url, seen } = await start((_index, _seen, response) => reply(response, 503));
    const options = {
      baseUrl: url,
      retry: { baseMs: 1, limit: 5 },
      budget: { capacity: 3, refillPerSecond: 0 },
      breaker: false,
    } as const;

    await failure(createClient(options).json("/a"));
    await failure(createClient(options).json("/b"));

    expect(seen.map((entry) => entry.path)).toEqual(["/a", "/a", "/a", "/a", "/b"]);
  });
});

group("a failure without an envelope", () => {
  test("from a proxy's HTML 502 gets the upstream code and its copy", async () => {
    const { url, seen } = await start((_index, _seen, response) =>
      reply(response, 502, "<html><body><h1>502 Bad Gateway</h1></body></html>", {
        "Content-Type": "text/html",
      }),
    );
    const client = createClient({ baseUrl: url, retry: { baseMs: 1 } });

    const error = await failure(client.json("/drafts"));

    expect(seen).toHaveLength(3);
    expect(isResponseError(error)).toBe(true);
    expect([error.code, error.category, error.status]).toEqual(["UPSTREAM_ERROR", "upstream", 502]);
    expect(error.retry.user).toBe(true);
    const words = describe(error, "en");
    expect(words.title).toBe(codeWords("UPSTREAM_ERROR").title);
    expect(JSON.stringify(words)).not.toContain("Bad Gateway");
  });

  test("from a dropped connection gets the network code and its copy", async () => {
    const { url, seen } = await start((_index, _seen, response) => response.socket?.destroy());
    const client = createClient({ baseUrl: url, retry: { baseMs: 1, limit: 1 } });

    const error = await failure(client.json("/drafts"));

    expect(seen).toHaveLength(2);
    expect(isNetworkError(error)).toBe(true);
    expect([error.code, error.category, error.status]).toEqual(["NETWORK_OFFLINE", "network", 0]);
    expect(describe(error, "en").title).toBe(codeWords("NETWORK_OFFLINE").title);
  });

  test("from a server that never answers is a timeout, retried for a GET", async () => {
    const { url, seen } = await start(() => undefined);
    const client = createClient({ baseUrl: url, timeoutMs: 200, retry: { baseMs: 1, limit: 1 } });

    const error = await failure(client.json("/slow"));

    expect(seen).toHaveLength(2);
    expect(isTimeoutError(error)).toBe(true);
    expect(error.code).toBe("REQUEST_TIMED_OUT");
  });
});

group("every attempt", () => {
  test("carries a traceparent with one trace and a new span", async () => {
    const { url, seen } = await start((index, _seen, response) =>
      index < 2 ? reply(response, 503) : reply(response, 200),
    );
    const client = createClient({ baseUrl: url, retry: { baseMs: 1 } });

    await client.request("/drafts");

    const parents = seen.map((entry) => String(entry.headers["traceparent"]));
    const parts = parents.map((header) => header.split("-"));
    expect(parents.every((header) => /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/.test(header))).toBe(true);
    expect(new Set(parts.map((part) => part[1])).size).toBe(1);
    expect(new Set(parts.map((part) => part[2])).size).toBe(3);
  });
});

group("an envelope", () => {
  test("that says not to retry is not retried, and its IDs reach the error", async () => {
    const { url, seen } = await start((_index, _seen, response) =>
      problem(response, 503, {
        code: "MAINTENANCE",
        request_id: "req-7",
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
        retry: { auto: false, user: true, after_ms: 60000 },
      }),
    );
    const client = createClient({ baseUrl: url, retry: { baseMs: 1 } });

    const error = await failure(client.json("/drafts"));

    expect(seen).toHaveLength(1);
    expect(error.code).toBe("MAINTENANCE");
    expect(error.requestId).toBe("req-7");
    expect(error.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(error.retry).toEqual({ auto: false, user: true, afterMs: 60000 });
  });
});

group("the deadline header", () => {
  test("reaches the server with the time the attempt waits", async () => {
    const { url, seen } = await start((_index, _seen, response) => reply(response, 200, "ok"));
    const client = createClient({ baseUrl: url, timeoutMs: 4_000 });

    await client.request("/drafts");

    const sent = Number(seen[0]?.headers["x-request-deadline-ms"]);
    expect(sent).toBeGreaterThan(3_000);
    expect(sent).toBeLessThanOrEqual(4_000);
  });
});
