// @vitest-environment happy-dom
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from "vitest";
import { beaconReporter } from "../../src/reporters/beacon.js";
import { failure, refusal, retry, serverFailure } from "./fixtures.js";
import { type LocalServer, startServer } from "./servers.js";

// The page side of beaconReporter: sendBeacon, its fallback, and the events
// that tell a page it is going away. beacon.test.ts covers batching.

let server: LocalServer;
let url: string;
let visibility: DocumentVisibilityState;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  url = `${server.origin}/v1/logs/${crypto.randomUUID()}`;
  visibility = "visible";
  Object.defineProperty(document, "visibilityState", {
    configurable: true,
    get: () => visibility,
  });
});

afterEach(() => {
  Reflect.deleteProperty(document, "visibilityState");
  vi.restoreAllMocks();
});

function hidePage(): void {
  visibility = "hidden";
  document.dispatchEvent(new Event("visibilitychange"));
}

/** Replace sendBeacon with a spy that accepts every beacon, sending nothing. */
function acceptBeacons() {
  return vi.spyOn(navigator, "sendBeacon").mockReturnValue(true);
}

async function beaconed(call: unknown[] | undefined): Promise<{ url: unknown; records: unknown }> {
  const [target, data] = call ?? [];
  const blob = data as Blob;

  return { url: target, records: { type: blob.type, body: JSON.parse(await blob.text()) } };
}

function attemptsIn(body: string): number[] {
  return (JSON.parse(body) as { attempt: number }[]).map((record) => record.attempt);
}

async function requestTo(target: string) {
  for (;;) {
    const request = server.requests.find((candidate) => target.endsWith(candidate.path));
    if (request !== undefined) {
      return request;
    }
    await server.received(server.requests.length + 1);
  }
}

describe("beaconReporter on page hide", () => {
  test("beacons the buffer as JSON when the page is hidden", async () => {
    const sendBeacon = acceptBeacons();
    const reporter = beaconReporter(url);

    reporter.report(retry(serverFailure(), 1));
    reporter.report(retry(serverFailure(), 2));
    hidePage();

    expect(sendBeacon).toHaveBeenCalledTimes(1);
    const { url: target, records } = await beaconed(sendBeacon.mock.calls[0]);
    expect(target).toBe(url);
    expect(records).toEqual({
      type: "application/json",
      body: [
        expect.objectContaining({ event: "http.client.retry", attempt: 1 }),
        expect.objectContaining({ event: "http.client.retry", attempt: 2 }),
      ],
    });
  });

  test("beacons the buffer on pagehide", async () => {
    const sendBeacon = acceptBeacons();
    const reporter = beaconReporter(url);

    reporter.report(failure(refusal()));
    window.dispatchEvent(new Event("pagehide"));

    expect(sendBeacon).toHaveBeenCalledTimes(1);
    expect((await beaconed(sendBeacon.mock.calls[0])).records).toEqual({
      type: "application/json",
      body: [expect.objectContaining({ event: "http.client.failure", "error.code": "CONFLICT" })],
    });
  });

  test("keeps the buffer when the page becomes visible", () => {
    const sendBeacon = acceptBeacons();
    const reporter = beaconReporter(url);

    reporter.report(failure(refusal()));
    document.dispatchEvent(new Event("visibilitychange"));

    expect(sendBeacon).not.toHaveBeenCalled();
  });

  test("stops listening once closed", () => {
    acceptBeacons();
    const reporter = beaconReporter(url);
    reporter.close();
    const flush = vi.spyOn(reporter, "flush");

    hidePage();
    window.dispatchEvent(new Event("pagehide"));

    expect(flush).not.toHaveBeenCalled();
  });

  test("listens until closed", () => {
    acceptBeacons();
    const reporter = beaconReporter(url);
    const flush = vi.spyOn(reporter, "flush");

    hidePage();
    window.dispatchEvent(new Event("pagehide"));

    expect(flush).toHaveBeenCalledTimes(2);
  });
});

describe("beaconReporter delivery", () => {
  test("a beacon the browser queues reaches the endpoint", async () => {
    // happy-dom's sendBeacon posts the Blob for real.
    const sendBeacon = vi.spyOn(navigator, "sendBeacon");
    const reporter = beaconReporter(url);

    reporter.report(retry(serverFailure(), 3));
    reporter.flush();
    const request = await requestTo(url);

    expect(sendBeacon).toHaveBeenCalledTimes(1);
    expect(request.headers["content-type"]).toBe("application/json");
    expect(attemptsIn(request.body)).toEqual([3]);
  });

  test.each([
    { name: "refuses the batch", sendBeacon: () => false },
    {
      name: "throws",
      sendBeacon: () => {
        throw new TypeError("Failed to execute 'sendBeacon' on 'Navigator': Invalid URL");
      },
    },
  ])("falls back to a keepalive fetch when sendBeacon $name", async ({ sendBeacon }) => {
    const beacon = vi.spyOn(navigator, "sendBeacon").mockImplementation(sendBeacon);
    const reporter = beaconReporter(url);

    reporter.report(retry(serverFailure(), 5));
    reporter.flush();
    const request = await requestTo(url);

    expect(beacon).toHaveBeenCalledTimes(1);
    expect(attemptsIn(request.body)).toEqual([5]);
  });

  test("falls back to a keepalive fetch where there is no sendBeacon", async () => {
    Object.defineProperty(navigator, "sendBeacon", { configurable: true, value: undefined });
    const reporter = beaconReporter(url);

    try {
      reporter.report(retry(serverFailure(), 6));
      reporter.flush();
    } finally {
      Reflect.deleteProperty(navigator, "sendBeacon");
    }

    expect(attemptsIn((await requestTo(url)).body)).toEqual([6]);
  });
});
