import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type { HiccupEvent } from "../../src/events.js";
import { type ConsoleLike, consoleReporter } from "../../src/reporters/console.js";
import type { LogRecord } from "../../src/reporters/record.js";
import {
  failure,
  modalShown,
  networkError,
  REQUEST_ID,
  recovered,
  refusal,
  responseError,
  retry,
  serverFailure,
  TRACE_ID,
  timeoutError,
} from "./fixtures.js";
import { schemaViolations } from "./log-schema.js";
import { PERSONAL_CODE, PERSONAL_VALUE } from "./personal-contract.js";

vi.mock(import("../../src/contract.generated.js"), async (original) => {
  const { withPersonalParam } = await import("./personal-contract.js");
  return withPersonalParam(await original());
});

const NOW = "2026-03-14T09:27:29.120Z";

interface ConsoleCall {
  readonly method: keyof ConsoleLike;
  readonly args: readonly unknown[];
}

/** Return a console that keeps its calls, and the list it keeps them in. */
function recordingConsole(): { console: ConsoleLike; calls: ConsoleCall[] } {
  const calls: ConsoleCall[] = [];
  const method =
    (name: keyof ConsoleLike) =>
    (...args: unknown[]): void => {
      calls.push({ method: name, args });
    };

  return {
    console: {
      debug: method("debug"),
      info: method("info"),
      warn: method("warn"),
      error: method("error"),
    },
    calls,
  };
}

/** Report `event` and return the console method called and the one record it got. */
function write(event: HiccupEvent, options = {}): { method: string; record: LogRecord } {
  const { console, calls } = recordingConsole();
  consoleReporter({ ...options, console }).report(event);
  const [call, ...others] = calls;

  expect(others).toEqual([]);
  expect(call?.args).toHaveLength(1);

  return { method: call?.method ?? "", record: call?.args[0] as LogRecord };
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date(NOW), toFake: ["Date"] });
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("consoleReporter records", () => {
  test("a failure the server refused at warning, with every field", () => {
    expect(write(failure(refusal({ attempts: 2 })))).toEqual({
      method: "warn",
      record: {
        timestamp: NOW,
        level: "warning",
        logger: "hiccup.sdk",
        event: "http.client.failure",
        service: "browser",
        request_id: REQUEST_ID,
        trace_id: TRACE_ID,
        "http.request.method": "POST",
        "http.response.status_code": 409,
        "url.path": "/v1/drafts/42",
        "error.code": "CONFLICT",
        "error.type": "409",
        "error.category": "conflict",
        attempt: 2,
      },
    });
  });

  test("a failure with why it was not retried", () => {
    const { record } = write({ type: "failure", error: serverFailure(), reason: "budget-spent" });

    expect(record["retry.reason"]).toBe("budget-spent");
  });

  test("a failure of the server at error", () => {
    const { method, record } = write(failure(serverFailure()));

    expect({ method, level: record.level, status: record["http.response.status_code"] }).toEqual({
      method: "error",
      level: "error",
      status: 503,
    });
  });

  test("a network failure at error, typed by name, without a response status", () => {
    const { method, record } = write(failure(networkError()));

    expect(method).toBe("error");
    expect(record).toMatchObject({ level: "error", "error.type": "NetworkError" });
    expect(record).not.toHaveProperty(["http.response.status_code"]);
  });

  test("a timeout at error, typed by name, without a response status", () => {
    const { method, record } = write(failure(timeoutError()));

    expect(method).toBe("error");
    expect(record).toMatchObject({
      level: "error",
      "error.type": "TimeoutError",
      "error.code": "REQUEST_TIMED_OUT",
    });
    expect(record).not.toHaveProperty(["http.response.status_code"]);
  });

  test("a retry at debug, with its attempt, delay and reason", () => {
    const { method, record } = write(retry(serverFailure(), 2, 1234.6));

    expect(method).toBe("debug");
    expect(record).toMatchObject({
      level: "debug",
      event: "http.client.retry",
      "http.response.status_code": 503,
      "error.code": "MODEL_OVERLOADED",
      attempt: 2,
      delay_ms: 1235,
      "retry.reason": "backoff",
    });
  });

  test.each([
    { name: "the failure modal shown", event: modalShown, want: "ui.failure_modal.shown" },
    { name: "a recovery", event: recovered, want: "ui.failure_modal.recovered" },
  ])("$name at info, named $want", ({ event, want }) => {
    const { method, record } = write(event(serverFailure()));

    expect(method).toBe("info");
    expect(record).toMatchObject({ level: "info", event: want, "error.code": "MODEL_OVERLOADED" });
    expect(record).not.toHaveProperty("attempt");
  });
});

describe("consoleReporter fields", () => {
  test("label records with the given service, version and env", () => {
    const { record } = write(failure(refusal()), {
      service: "writer-web",
      version: "1.4.2",
      env: "staging",
    });

    expect(record).toMatchObject({ service: "writer-web", version: "1.4.2", env: "staging" });
  });

  test("leave version and env out when not given", () => {
    const { record } = write(failure(refusal()));

    expect(record).not.toHaveProperty("version");
    expect(record).not.toHaveProperty("env");
  });

  test("keep the path of the URL alone", () => {
    const { record } = write(failure(refusal({ url: "https://writer.example/v1/drafts/42/" })));

    expect(record["url.path"]).toBe("/v1/drafts/42/");
  });

  test("spell a method outside OpenTelemetry's list _OTHER", () => {
    const { record } = write(failure(refusal({ method: "PROPFIND" })));

    expect(record["http.request.method"]).toBe("_OTHER");
  });

  test("spell a method in upper case", () => {
    const { record } = write(failure(refusal({ method: "patch" })));

    expect(record["http.request.method"]).toBe("PATCH");
  });

  test("leave out a request ID and a trace ID that are not well formed", () => {
    const error = refusal({ requestId: "abc\r\nInjected: yes", traceId: "0".repeat(32) });
    const { record } = write(failure(error));

    expect(record).not.toHaveProperty("request_id");
    expect(record).not.toHaveProperty("trace_id");
  });

  test("leave out a code that is not in the contract's shape", () => {
    const { record } = write(failure(responseError("not-a-code", "internal", 500)));

    expect(record).not.toHaveProperty(["error.code"]);
  });
});

describe("consoleReporter params", () => {
  test("keep the params the contract declares and does not mark personal", () => {
    const error = responseError("MODEL_UNAVAILABLE", "unavailable", 503, {
      params: { model: "writer-large" },
    });

    expect(write(failure(error)).record["error.params"]).toEqual({ model: "writer-large" });
  });

  test("drop a param the contract marks personal", () => {
    const error = responseError(PERSONAL_CODE, "upstream", 503, {
      params: { address: PERSONAL_VALUE, minutes: 5 },
    });
    const { record } = write(failure(error));

    expect(record["error.params"]).toEqual({ minutes: 5 });
    expect(JSON.stringify(record)).not.toContain(PERSONAL_VALUE);
  });

  test("drop a param the contract does not declare for the code", () => {
    const error = responseError("MODEL_UNAVAILABLE", "unavailable", 503, {
      params: { model: "writer-large", email: PERSONAL_VALUE },
    });

    expect(write(failure(error)).record["error.params"]).toEqual({ model: "writer-large" });
  });

  test("drop every param of a code this build does not know", () => {
    const error = responseError("BRAND_NEW_CODE", "internal", 500, {
      params: { anything: PERSONAL_VALUE },
    });

    expect(write(failure(error)).record).not.toHaveProperty(["error.params"]);
  });

  test("never carry the message, the server's copy or field errors", () => {
    const typed = "my secret draft about Ada";
    const error = responseError("FIELD_TOO_LONG", "invalid_request", 422, {
      params: { max_length: 80 },
      user: { locale: "en", title: typed, message: typed },
      fieldErrors: [
        { source: { pointer: "/title" }, code: "FIELD_TOO_LONG", params: { value: typed } },
      ],
      cause: new Error(typed),
    });
    const { record } = write(failure(error));

    expect(JSON.stringify(record)).not.toContain(typed);
    expect(JSON.stringify(record)).not.toContain(error.message);
  });
});

describe("consoleReporter and the log-record schema", () => {
  const events: [string, HiccupEvent][] = [
    ["a refusal", failure(refusal())],
    ["a server failure", failure(serverFailure())],
    ["a network failure", failure(networkError())],
    ["a timeout", failure(timeoutError())],
    ["a retry", retry(serverFailure())],
    ["the modal shown", modalShown(refusal())],
    ["a recovery", recovered(networkError())],
  ];

  test.each(events)("the record of %s has every required field, each well formed", (_, event) => {
    expect(schemaViolations(write(event).record)).toEqual([]);
  });

  test("the schema check names what a malformed record breaks", () => {
    const record = {
      timestamp: "2026-03-14 09:27:29",
      level: "warn",
      event: "HTTP Client Failure",
      service: "browser",
      "http.response.status_code": 0,
    };

    expect(schemaViolations(record)).toEqual([
      "/: must have required property 'logger'",
      '/timestamp: must match pattern "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$"',
      '/timestamp: must match format "date-time"',
      "/level: must be equal to one of the allowed values",
      '/event: must match pattern "^[a-z0-9_.]+$"',
      "/http.response.status_code: must be >= 100",
    ]);
  });
});

describe("consoleReporter options", () => {
  test("reject an empty service", () => {
    expect(() => consoleReporter({ service: "" })).toThrow(
      new RangeError('service must be a non-empty string, got ""'),
    );
  });

  test("write to the global console when given none", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);

    consoleReporter().report(failure(refusal()));

    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ event: "http.client.failure" }));
  });
});
