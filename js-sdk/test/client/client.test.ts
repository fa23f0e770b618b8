import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { resetOrigins } from "../../src/budget.js";
import { createClient } from "../../src/client.js";
import { ResponseError } from "../../src/errors/response-error.js";
import {
  BASE,
  clientWith,
  failureOf,
  fakeFetch,
  json,
  resolvedBy,
  status,
  thrownBy,
  traceOf,
} from "./helpers.js";

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

beforeEach(() => {
  resetOrigins();
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

function header(name: string) {
  return (entry: { readonly headers: Headers }) => entry.headers.get(name);
}

describe("json()", () => {
  test("resolves to the parsed body", async () => {
    const { client } = clientWith([json(200, { id: 7, tags: ["a"] })]);

    expect(await resolvedBy(client.json("/items/7"))).toEqual({ id: 7, tags: ["a"] });
  });

  test.each([200, 204])("resolves to undefined for an empty %i", async (code) => {
    const { client } = clientWith([status(code)]);

    expect(await resolvedBy(client.json("/items/7"))).toBeUndefined();
  });

  test("sends the json option as a JSON body with its Content-Type", async () => {
    const { client, sent } = clientWith([status(201)]);

    await resolvedBy(client.json("/items", { method: "POST", json: { title: "a" } }));

    expect(sent[0]?.body).toBe('{"title":"a"}');
    expect(sent[0]?.headers.get("Content-Type")).toBe("application/json");
  });

  test("keeps the caller's Content-Type for the json option", async () => {
    const { client, sent } = clientWith([status(200)]);
    const headers = { "Content-Type": "application/merge-patch+json" };

    await resolvedBy(client.json("/items/7", { method: "PATCH", json: { a: 1 }, headers }));

    expect(sent[0]?.headers.get("Content-Type")).toBe("application/merge-patch+json");
  });

  test("asks for JSON and problem details", async () => {
    const { client, sent } = clientWith([status(200)]);

    await resolvedBy(client.json("/items"));

    expect(sent[0]?.headers.get("Accept")).toBe("application/json, application/problem+json");
  });

  test("keeps an Accept the caller chose", async () => {
    const { client, sent } = clientWith([status(200)]);

    await resolvedBy(client.json("/items", { headers: { Accept: "application/vnd.a+json" } }));

    expect(sent[0]?.headers.get("Accept")).toBe("application/vnd.a+json");
  });

  test("keeps an Accept the client was given for every request", async () => {
    const { client, sent } = clientWith([status(200)], {
      headers: { Accept: "application/vnd.a+json" },
    });

    await resolvedBy(client.json("/items"));

    expect(sent[0]?.headers.get("Accept")).toBe("application/vnd.a+json");
  });

  test("rejects a 2xx whose body is not JSON with an INTERNAL ResponseError", async () => {
    const { client } = clientWith([status(200, "<html>", { "X-Request-ID": "req-3" })]);

    const error = await failureOf(client.json("/items"));

    expect(error).toBeInstanceOf(ResponseError);
    expect([error.code, error.category, error.status, error.requestId]).toEqual([
      "INTERNAL",
      "internal",
      200,
      "req-3",
    ]);
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });
});

describe("request()", () => {
  test("resolves to the response of a 2xx, its body unread", async () => {
    const { client } = clientWith([status(201, "made")]);

    const response = await resolvedBy(client.request("/items", { method: "POST" }));

    expect([response.status, await response.text()]).toEqual([201, "made"]);
  });

  test("sends the method upper-cased", async () => {
    const { client, sent } = clientWith([status(200)]);

    await resolvedBy(client.request("/items/7", { method: "delete" }));

    expect(sent[0]?.method).toBe("DELETE");
  });
});

describe("the request URL", () => {
  test.each([
    { input: "items", expected: "https://api.example/v1/items" },
    { input: "/items", expected: "https://api.example/items" },
    { input: "https://other.example/x", expected: "https://other.example/x" },
    { input: new URL("https://other.example/y"), expected: "https://other.example/y" },
  ])("$input resolves to $expected", async ({ input, expected }) => {
    const fake = fakeFetch(status(200));
    const client = createClient({ baseUrl: `${BASE}/v1/`, fetch: fake.fetch });

    await resolvedBy(client.request(input));

    expect(fake.sent[0]?.url).toBe(expected);
  });

  test("rejects a relative URL without a base with a TypeError saying so", async () => {
    const fake = fakeFetch(status(200));
    const client = createClient({ fetch: fake.fetch });

    const thrown = await thrownBy(client.request("/items"));

    expect(thrown).toBeInstanceOf(TypeError);
    expect(thrown).toHaveProperty(
      "message",
      'The request URL "/items" is not valid against base undefined.',
    );
    expect(fake.sent).toHaveLength(0);
  });

  test("rejects a URL that is invalid even against the base", async () => {
    const { client } = clientWith([status(200)]);

    const thrown = await thrownBy(client.request("http://[::1"));

    expect(thrown).toHaveProperty(
      "message",
      `The request URL "http://[::1" is not valid against base ${BASE}.`,
    );
  });
});

describe("the request headers", () => {
  test("are the client's merged with the request's, the request's winning", async () => {
    const { client, sent } = clientWith([status(200)], {
      headers: { "X-App": "notes", "X-Mode": "client" },
    });

    await resolvedBy(client.request("/items", { headers: { "X-Mode": "request" } }));

    expect([sent[0]?.headers.get("X-App"), sent[0]?.headers.get("X-Mode")]).toEqual([
      "notes",
      "request",
    ]);
  });
});

describe("the Idempotency-Key", () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  test("is new for a request with idempotencyKey: true", async () => {
    const { client, sent } = clientWith([status(201)]);

    await resolvedBy(client.request("/items", { method: "POST", idempotencyKey: true }));

    expect(sent[0]?.headers.get("Idempotency-Key")).toMatch(UUID);
  });

  test("differs between two requests", async () => {
    const { client, sent } = clientWith([status(201)]);

    await resolvedBy(client.request("/items", { method: "POST", idempotencyKey: true }));
    await resolvedBy(client.request("/items", { method: "POST", idempotencyKey: true }));

    expect(sent[0]?.headers.get("Idempotency-Key")).not.toBe(
      sent[1]?.headers.get("Idempotency-Key"),
    );
  });

  test("is the caller's own when idempotencyKey is a string", async () => {
    const { client, sent } = clientWith([status(201)]);

    await resolvedBy(client.request("/items", { method: "POST", idempotencyKey: "order-42" }));

    expect(sent[0]?.headers.get("Idempotency-Key")).toBe("order-42");
  });

  test("is the caller's own when they set the header", async () => {
    const { client, sent } = clientWith([status(201)], { idempotencyKeys: true });
    const headers = { "Idempotency-Key": "order-42" };

    await resolvedBy(client.request("/items", { method: "POST", headers, idempotencyKey: true }));

    expect(sent[0]?.headers.get("Idempotency-Key")).toBe("order-42");
  });

  test.each([
    { method: "POST", keyed: true },
    { method: "PATCH", keyed: true },
    { method: "GET", keyed: false },
    { method: "PUT", keyed: false },
    { method: "DELETE", keyed: false },
  ])("with idempotencyKeys: true is sent for $method: $keyed", async ({ method, keyed }) => {
    const { client, sent } = clientWith([status(200)], { idempotencyKeys: true });

    await resolvedBy(client.request("/items", { method }));

    expect(sent[0]?.headers.has("Idempotency-Key")).toBe(keyed);
  });

  test("is left out by idempotencyKey: false despite idempotencyKeys: true", async () => {
    const { client, sent } = clientWith([status(201)], { idempotencyKeys: true });

    await resolvedBy(client.request("/items", { method: "POST", idempotencyKey: false }));

    expect(sent[0]?.headers.has("Idempotency-Key")).toBe(false);
  });

  test("is not sent unless asked for", async () => {
    const { client, sent } = clientWith([status(201)]);

    await resolvedBy(client.request("/items", { method: "POST" }));

    expect(sent[0]?.headers.has("Idempotency-Key")).toBe(false);
  });

  test("is the same on every attempt", async () => {
    const { client, sent } = clientWith([status(503), status(503), status(201)]);

    await resolvedBy(client.request("/items", { method: "POST", idempotencyKey: true }));

    const keys = sent.map(header("Idempotency-Key"));
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
  });

  test("is the same when the failure is tried again", async () => {
    const { client, sent } = clientWith([status(400), status(201)]);

    const error = await failureOf(
      client.request("/items", { method: "POST", idempotencyKey: true }),
    );
    await resolvedBy(error.tryAgain?.() ?? Promise.resolve());

    const keys = sent.map(header("Idempotency-Key"));
    expect(keys[1]).toBe(keys[0]);
    expect(error.idempotencyKey).toBe(keys[0]);
  });
});

describe("the traceparent", () => {
  test("is sent on every attempt, in one trace with a new span each", async () => {
    const { client, sent } = clientWith([status(503), status(503), status(200)]);

    await resolvedBy(client.request("/items"));

    const parents = sent.map((entry) => traceOf(entry.headers.get("traceparent")));
    expect(new Set(parents.map((parent) => parent.traceId)).size).toBe(1);
    expect(new Set(parents.map((parent) => parent.spanId)).size).toBe(3);
  });

  test("keeps its trace when the failure is tried again", async () => {
    const { client, sent } = clientWith([status(400), status(200)]);

    const error = await failureOf(client.request("/items"));
    await resolvedBy(error.tryAgain?.() ?? Promise.resolve());

    const [first, again] = sent.map((entry) => traceOf(entry.headers.get("traceparent")));
    expect(again?.traceId).toBe(first?.traceId);
    expect(again?.spanId).not.toBe(first?.spanId);
    expect(error.traceId).toBe(first?.traceId);
  });

  test("continues the caller's trace", async () => {
    const { client, sent } = clientWith([status(200)]);
    const traceparent = `00-${CALLER_TRACE}-00f067aa0ba902b7-01`;

    await resolvedBy(client.request("/items", { headers: { traceparent } }));

    const sentParent = sent[0]?.headers.get("traceparent") ?? null;
    expect(traceOf(sentParent).traceId).toBe(CALLER_TRACE);
    expect(sentParent).not.toBe(traceparent);
  });

  test("differs in trace between two requests", async () => {
    const { client, sent } = clientWith([status(200)]);

    await resolvedBy(client.request("/items"));
    await resolvedBy(client.request("/items"));

    const [first, second] = sent.map((entry) => traceOf(entry.headers.get("traceparent")));
    expect(second?.traceId).not.toBe(first?.traceId);
  });
});

describe("the deadline header", () => {
  test("tells the server how long the attempt waits", async () => {
    const { client, sent } = clientWith([status(200)], { timeoutMs: 5_000 });

    await resolvedBy(client.request("/items"));

    expect(sent.map(header("X-Request-Deadline-Ms"))).toEqual(["5000"]);
  });

  test("is cut to what is left of the operation's deadline", async () => {
    const { client, sent } = clientWith([status(503, "", { "Retry-After": "2" }), status(200)], {
      timeoutMs: 5_000,
      deadlineMs: 3_000,
    });

    await resolvedBy(client.request("/items"));

    const [first, second] = sent.map(header("X-Request-Deadline-Ms")).map(Number);
    expect(first).toBe(3_000);
    // The retry waited the 2 s the server asked for.
    expect(second).toBeLessThanOrEqual(1_000);
    expect(second).toBeGreaterThan(0);
  });

  test("replaces one the caller set", async () => {
    const { client, sent } = clientWith([status(200)], { timeoutMs: 5_000 });

    await resolvedBy(client.request("/items", { headers: { "X-Request-Deadline-Ms": "999999" } }));

    expect(sent.map(header("X-Request-Deadline-Ms"))).toEqual(["5000"]);
  });
});

describe("tryAgain", () => {
  test("resolves to what the operation resolves to when it succeeds", async () => {
    const { client } = clientWith([status(400), json(200, { ok: true })]);

    const error = await failureOf(client.json("/items"));

    expect(await resolvedBy(error.tryAgain?.() ?? Promise.resolve())).toEqual({ ok: true });
  });
});
