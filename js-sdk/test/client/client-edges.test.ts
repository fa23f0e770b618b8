import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { originState, resetOrigins } from "../../src/budget.js";
import { isTimeoutError } from "../../src/errors/timeout-error.js";
import {
  type Answer,
  BASE,
  clientWith,
  failureOf,
  json,
  resolvedBy,
  status,
  thrownBy,
} from "./helpers.js";

beforeEach(() => {
  resetOrigins();
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("a response below 400", () => {
  test.each([304, 301])("resolves like a success when its status is %i", async (code) => {
    const { client } = clientWith([() => new Response(null, { status: code })]);

    const response = await resolvedBy(client.request("/items", { redirect: "manual" }));

    expect(response.status).toBe(code);
  });
});

describe("a 2xx whose body is not JSON", () => {
  test("leaves a response on the error whose body can still be read", async () => {
    const { client } = clientWith([status(200, "<html>oops</html>")]);

    const error = await failureOf(client.json("/items"));

    expect(await (error as unknown as { response: Response }).response.text()).toBe(
      "<html>oops</html>",
    );
  });

  test("whose body stalls is a timeout, since the body is read under the attempt's timer", async () => {
    // Like a real fetch, aborting the request's signal errors its body.
    const stalled: Answer = (signal) => {
      const body = new ReadableStream({
        start(controller) {
          signal.addEventListener("abort", () => controller.error(signal.reason));
        },
      });

      return new Response(body, { status: 200 });
    };
    // Node's streams queue their work in ways fake timers would stall.
    vi.useRealTimers();
    const { client } = clientWith([stalled], { timeoutMs: 50, retry: false });

    const error = await client.json("/items").catch((thrown: unknown) => thrown);

    expect(isTimeoutError(error)).toBe(true);
  });
});

describe("the options of one request", () => {
  test("refine the client's retry options instead of replacing them", async () => {
    const { client, sent } = clientWith([status(503)], { retry: { limit: 4 } });

    await failureOf(client.request("/items", { retry: { baseMs: 1 } }));

    expect(sent).toHaveLength(5);
  });

  test("turn retries off with retry: false whatever the client says", async () => {
    const { client, sent } = clientWith([status(503)], { retry: { limit: 4 } });

    await failureOf(client.request("/items", { retry: false }));

    expect(sent).toHaveLength(1);
  });

  test("may not give both json and body", async () => {
    const { client, sent } = clientWith([json(200, {})]);

    const thrown = await thrownBy(client.json("/items", { method: "POST", json: {}, body: "x" }));

    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as Error).message).toBe("Give a request either `json` or `body`, not both.");
    expect(sent).toHaveLength(0);
  });
});

describe("an onError hook that throws", () => {
  test("does not replace the failure the caller gets", async () => {
    const { client } = clientWith([status(404)], {
      onError: () => {
        throw new Error("bug in the hook");
      },
    });

    const error = await failureOf(client.request("/items"));

    expect(error.code).toBe("NOT_FOUND");
  });
});

describe("the origin's breaker", () => {
  test("counts failures of a client with retries off", async () => {
    const { client } = clientWith([status(503)], { retry: false });

    for (let i = 0; i < 5; i++) {
      await failureOf(client.request("/items"));
    }

    expect(originState(new URL(BASE).origin).isOpen()).toBe(true);
  });

  test("starts counting again after an answer that shows the origin is up", async () => {
    const { client } = clientWith(
      [status(503), status(503), status(503), status(503), status(404), status(503)],
      { retry: false },
    );

    for (let i = 0; i < 6; i++) {
      await failureOf(client.request("/items"));
    }

    expect(originState(new URL(BASE).origin).isOpen()).toBe(false);
  });
});

describe("a long-lived caller signal", () => {
  test("keeps no listener once each operation is over", async () => {
    const controller = new AbortController();
    const added = vi.spyOn(controller.signal, "addEventListener");
    const removed = vi.spyOn(controller.signal, "removeEventListener");
    const { client } = clientWith([status(200)]);

    for (let i = 0; i < 3; i++) {
      await resolvedBy(client.request("/items", { signal: controller.signal }));
    }

    expect(added.mock.calls.length).toBe(3);
    expect(removed.mock.calls.length).toBe(3);
  });
});
