// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { resetOrigins } from "../../src/budget.js";
import { createClient } from "../../src/client.js";
import { type Answer, failureOf, fakeFetch, offline, resolvedBy, status } from "./helpers.js";

const page = { online: true, visibility: "visible" as DocumentVisibilityState };

beforeEach(() => {
  resetOrigins();
  vi.useFakeTimers();
  // Full jitter then waits half of each step: 250 ms before the first retry.
  vi.spyOn(Math, "random").mockReturnValue(0.5);
  page.online = true;
  page.visibility = "visible";
  Object.defineProperty(navigator, "onLine", { configurable: true, get: () => page.online });
  Object.defineProperty(document, "visibilityState", {
    configurable: true,
    get: () => page.visibility,
  });
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function clientWith(...answers: Answer[]) {
  const fake = fakeFetch(...answers);
  const client = createClient({ baseUrl: "https://api.example", fetch: fake.fetch });

  return { client, sent: fake.sent };
}

function goOnline(): void {
  page.online = true;
  window.dispatchEvent(new Event("online"));
}

function show(): void {
  page.visibility = "visible";
  document.dispatchEvent(new Event("visibilitychange"));
}

describe("a network failure while the browser is offline", () => {
  test("holds the retry back while offline", async () => {
    page.online = false;
    const { client, sent } = clientWith(offline(), status(200));
    void client.request("/items").catch(() => {});

    await vi.advanceTimersByTimeAsync(60_000);

    expect(sent).toHaveLength(1);
  });

  test("is retried once the browser is back online", async () => {
    page.online = false;
    const { client, sent } = clientWith(offline(), status(200, "back"));
    const pending = client.request("/items");
    await vi.advanceTimersByTimeAsync(60_000);

    goOnline();
    const response = await resolvedBy(pending);

    expect(await response.text()).toBe("back");
    expect(sent).toHaveLength(2);
  });

  test("waits a backoff after the online event, so tabs do not return together", async () => {
    page.online = false;
    const { client, sent } = clientWith(offline(), status(200));
    void client.request("/items").catch(() => {});
    await vi.advanceTimersByTimeAsync(60_000);

    goOnline();
    await vi.advanceTimersByTimeAsync(249);
    const early = sent.length;
    await vi.advanceTimersByTimeAsync(1);

    expect([early, sent.length]).toEqual([1, 2]);
  });

  test("ends at the deadline with the network failure if the browser stays offline", async () => {
    page.online = false;
    const { client } = clientWith(offline());

    const error = await failureOf(client.request("/items"));

    expect([error.code, error.message, error.attempts]).toEqual([
      "NETWORK_OFFLINE",
      "GET /items: no response",
      1,
    ]);
  });
});

describe("a failure in a hidden tab", () => {
  test("holds the retry back while the tab is hidden", async () => {
    page.visibility = "hidden";
    const { client, sent } = clientWith(status(503), status(200));
    void client.request("/items").catch(() => {});

    await vi.advanceTimersByTimeAsync(60_000);

    expect(sent).toHaveLength(1);
  });

  test("is retried once the tab is visible again", async () => {
    page.visibility = "hidden";
    const { client, sent } = clientWith(status(503), status(200, "seen"));
    const pending = client.request("/items");
    await vi.advanceTimersByTimeAsync(60_000);

    show();
    const response = await resolvedBy(pending);

    expect(await response.text()).toBe("seen");
    expect(sent).toHaveLength(2);
  });
});
