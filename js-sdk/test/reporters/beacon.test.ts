import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from "vitest";
import {
  type BeaconReporterOptions,
  beaconReporter,
  DEFAULT_MAX_BYTES,
} from "../../src/reporters/beacon.js";
import { logRecord, recordHeader } from "../../src/reporters/record.js";
import { failure, refusal, responseError, retry, serverFailure } from "./fixtures.js";
import { type LocalServer, type ReceivedRequest, startServer } from "./servers.js";

// Node has no `navigator.sendBeacon`, so every batch here takes the
// keepalive fetch fallback to a real server; beacon-page.test.ts covers
// sendBeacon and the page-hide events in a DOM.

const NOW = new Date("2026-03-14T09:27:29.120Z");
const PATH = "/v1/logs";

let server: LocalServer;
let url: string;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  // Each test gets a path of its own, so that it counts its own requests.
  url = `${server.origin}${PATH}/${crypto.randomUUID()}`;
  server.status = 204;
  vi.useFakeTimers({ now: NOW, toFake: ["Date"] });
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Resolve with the first `count` requests this test's reporter made. */
async function batches(count: number): Promise<ReceivedRequest[]> {
  for (let seen = 0; ; seen = server.requests.length) {
    const mine = server.requests.filter((request) => url.endsWith(request.path));
    if (mine.length >= count) {
      return mine;
    }
    await server.received(seen + 1);
  }
}

function recordsOf(request: ReceivedRequest): { event: string; attempt: number }[] {
  return JSON.parse(request.body);
}

function attempts(requests: readonly ReceivedRequest[]): number[][] {
  return requests.map((request) => recordsOf(request).map((record) => record.attempt));
}

/** The size of the record `retry(serverFailure(), attempt)` makes, encoded. */
function retryRecordBytes(options: BeaconReporterOptions = {}): number {
  const record = logRecord(retry(serverFailure(), 1), recordHeader(options));

  return Buffer.byteLength(JSON.stringify(record));
}

describe("beaconReporter batches", () => {
  test("go as a JSON POST of the buffered records", async () => {
    const reporter = beaconReporter(url, { service: "writer-web" });

    reporter.report(failure(refusal()));
    reporter.flush();
    const [request] = await batches(1);

    expect(request?.method).toBe("POST");
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(request?.body ?? "")).toEqual([
      logRecord(failure(refusal()), recordHeader({ service: "writer-web" })),
    ]);
  });

  test("go as soon as maxBatch records are buffered", async () => {
    const reporter = beaconReporter(url, { maxBatch: 3 });

    for (const attempt of [1, 2, 3]) {
      reporter.report(retry(serverFailure(), attempt));
    }

    expect(attempts(await batches(1))).toEqual([[1, 2, 3]]);
  });

  test("hold at most maxBatch records each", async () => {
    const reporter = beaconReporter(url, { maxBatch: 2 });

    for (const attempt of [1, 2, 3, 4, 5]) {
      reporter.report(retry(serverFailure(), attempt));
    }
    reporter.flush();

    expect(attempts(await batches(3))).toEqual([[1, 2], [3, 4], [5]]);
  });

  test("start anew before a record would take one past maxBytes", async () => {
    // Room for exactly two records, their brackets and a comma.
    const maxBytes = 2 * retryRecordBytes() + 3;
    const reporter = beaconReporter(url, { maxBytes });

    for (const attempt of [1, 2, 3]) {
      reporter.report(retry(serverFailure(), attempt));
    }
    reporter.flush();
    const requests = await batches(2);

    expect(attempts(requests)).toEqual([[1, 2], [3]]);
    expect(requests.map((request) => request.raw.length)).toEqual([
      maxBytes,
      retryRecordBytes() + 2,
    ]);
  });

  test("go with keepalive, so that they outlive the page", () => {
    const send = vi.spyOn(globalThis, "fetch");
    const reporter = beaconReporter(url);

    reporter.report(failure(refusal()));
    reporter.flush();

    expect(send).toHaveBeenCalledWith(url, expect.objectContaining({ keepalive: true }));
  });

  test("go flushIntervalMs after their first record", async () => {
    vi.useFakeTimers({ now: NOW, toFake: ["Date", "setTimeout", "clearTimeout"] });
    const send = vi.spyOn(globalThis, "fetch");
    const reporter = beaconReporter(url, { flushIntervalMs: 1_000 });

    reporter.report(retry(serverFailure(), 1));
    vi.advanceTimersByTime(600);
    reporter.report(retry(serverFailure(), 2));
    vi.advanceTimersByTime(399);
    expect(send).not.toHaveBeenCalled();

    vi.advanceTimersByTime(1);
    vi.useRealTimers();

    expect(send).toHaveBeenCalledTimes(1);
    expect(attempts(await batches(1))).toEqual([[1, 2]]);
  });

  test("are not sent when nothing is buffered", () => {
    const send = vi.spyOn(globalThis, "fetch");

    beaconReporter(url).flush();

    expect(send).not.toHaveBeenCalled();
  });
});

describe("beaconReporter drops", () => {
  test("a record too big for a batch of its own, and counts it", async () => {
    const reporter = beaconReporter(url, { maxBytes: 2_000 });
    const huge = responseError("MODEL_UNAVAILABLE", "unavailable", 503, {
      params: { model: "m".repeat(2_000) },
    });

    reporter.report(failure(huge));
    reporter.report(retry(serverFailure(), 7));
    reporter.flush();

    expect(reporter.dropped).toBe(1);
    expect(attempts(await batches(1))).toEqual([[7]]);
  });

  test("records reported after close, and counts them", () => {
    const reporter = beaconReporter(url);
    const send = vi.spyOn(globalThis, "fetch");

    reporter.close();
    reporter.report(failure(refusal()));
    reporter.flush();

    expect({ dropped: reporter.dropped, sent: send.mock.calls.length }).toEqual({
      dropped: 1,
      sent: 0,
    });
  });

  test("by default, a record over 60 KB but none under", async () => {
    const reporter = beaconReporter(url);
    const withModel = (length: number) =>
      responseError("MODEL_UNAVAILABLE", "unavailable", 503, {
        params: { model: "m".repeat(length) },
      });

    reporter.report(failure(withModel(DEFAULT_MAX_BYTES)));
    reporter.report(failure(withModel(DEFAULT_MAX_BYTES - 1_000)));
    reporter.flush();
    const [request] = await batches(1);

    expect(reporter.dropped).toBe(1);
    expect(request?.raw.length).toBeLessThanOrEqual(DEFAULT_MAX_BYTES);
    expect(recordsOf(request as ReceivedRequest)).toHaveLength(1);
  });
});

describe("beaconReporter close", () => {
  test("sends what is buffered", async () => {
    const reporter = beaconReporter(url);

    reporter.report(retry(serverFailure(), 4));
    reporter.close();

    expect(attempts(await batches(1))).toEqual([[4]]);
  });

  test("stops the flush timer", () => {
    vi.useFakeTimers({ now: NOW, toFake: ["Date", "setTimeout", "clearTimeout"] });
    const reporter = beaconReporter(url);

    reporter.report(retry(serverFailure(), 1));
    expect(vi.getTimerCount()).toBe(1);
    reporter.close();

    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("beaconReporter with a failing endpoint", () => {
  test("does not resend a batch the endpoint answered 500, and sends the next", async () => {
    server.status = 500;
    const reporter = beaconReporter(url);

    reporter.report(retry(serverFailure(), 1));
    reporter.flush();
    await batches(1);
    reporter.report(retry(serverFailure(), 2));
    reporter.flush();

    expect(attempts(await batches(2))).toEqual([[1], [2]]);
  });

  test("swallows the failure of an endpoint that is down", async () => {
    const down = await startServer();
    await down.close();
    const send = vi.spyOn(globalThis, "fetch");
    const reporter = beaconReporter(`${down.origin}${PATH}`);

    reporter.report(retry(serverFailure(), 1));
    reporter.flush();
    await expect(send.mock.results[0]?.value).rejects.toThrow(new TypeError("fetch failed"));
    reporter.report(retry(serverFailure(), 2));
    reporter.flush();

    expect(send).toHaveBeenCalledTimes(2);
  });
});

describe("beaconReporter options", () => {
  test.each([
    { name: "maxBatch", value: 0 },
    { name: "maxBatch", value: 1.5 },
    { name: "maxBytes", value: -1 },
    { name: "flushIntervalMs", value: Number.POSITIVE_INFINITY },
  ])("rejects $name $value", ({ name, value }) => {
    expect(() => beaconReporter(url, { [name]: value })).toThrow(
      new RangeError(`${name} must be a positive integer, got ${value}`),
    );
  });
});
