// @vitest-environment happy-dom
import * as Sentry from "@sentry/browser";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import type { HiccupError } from "../../src/errors/hiccup-error.js";
import type { HiccupEvent } from "../../src/events.js";
import { isCapturedByDefault, sentryReporter } from "../../src/reporters/sentry.js";
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
import { PERSONAL_CODE, PERSONAL_VALUE } from "./personal-contract.js";
import { eventsOf, parseEnvelope, type SentryEvent } from "./sentry-envelope.js";
import { type LocalServer, startServer } from "./servers.js";

vi.mock(import("../../src/contract.generated.js"), async (original) => {
  const { withPersonalParam } = await import("./personal-contract.js");
  return withPersonalParam(await original());
});

// The real @sentry/browser, sending real envelopes over HTTP to a local
// stand-in for Sentry's ingest endpoint.
//
// Two default integrations are left out: Dedupe drops an event that repeats
// the one before it, as parametrized tests do on purpose, and the session
// integration sends envelopes of its own. ExtraErrorData is added, since it
// copies an error's own properties into the event: the reporter must keep
// personal data out even then.
const LEFT_OUT = new Set(["Dedupe", "BrowserSession"]);

let ingest: LocalServer;

beforeAll(async () => {
  ingest = await startServer();
  ingest.status = 200;
  Sentry.init({
    dsn: `http://public@127.0.0.1:${ingest.port}/1`,
    release: "writer-web@1.4.2",
    environment: "test",
    integrations: (defaults) => [
      ...defaults.filter((integration) => !LEFT_OUT.has(integration.name)),
      Sentry.extraErrorDataIntegration(),
    ],
    // Sentry's own fetch transport, handed the page's fetch: left to find
    // one itself, it looks in a blank iframe, which happy-dom does not load.
    transport: (options) => Sentry.makeFetchTransport(options, fetch),
  });
});

afterEach(() => {
  Sentry.getIsolationScope().clearBreadcrumbs();
  Sentry.getCurrentScope().clearBreadcrumbs();
});

afterAll(async () => {
  await Sentry.close();
  await ingest.close();
});

interface Sent {
  readonly events: SentryEvent[];
  /** The request bodies, as they went over the wire. */
  readonly raw: string;
}

/** Report `events` with `reporter`, and return what reached the ingest endpoint. */
async function send(events: HiccupEvent[], reporter = sentryReporter(Sentry)): Promise<Sent> {
  const before = ingest.requests.length;

  for (const event of events) {
    reporter.report(event);
  }
  await Sentry.flush();
  const requests = ingest.requests.slice(before);

  return {
    events: requests.flatMap((request) => eventsOf(parseEnvelope(request.raw))),
    raw: requests.map((request) => request.body).join("\n"),
  };
}

/** Report `events` and return the one Sentry event they made. */
async function captured(events: HiccupEvent[], reporter = sentryReporter(Sentry)) {
  const { events: sent, raw } = await send(events, reporter);

  expect(sent).toHaveLength(1);

  return { event: sent[0] as SentryEvent, raw };
}

/** Return the breadcrumbs the reporter left, without the SDK's own. */
function ours(event: SentryEvent) {
  return (event.breadcrumbs ?? []).filter(({ category = "" }) =>
    /^(http\.client|ui\.failure_modal)\./.test(category),
  );
}

describe("sentryReporter captures", () => {
  test("a server failure, tagged with its code, category, IDs and status", async () => {
    const { event } = await captured([failure(serverFailure())]);

    expect(event.tags).toEqual({
      "error.code": "MODEL_OVERLOADED",
      category: "unavailable",
      request_id: REQUEST_ID,
      trace_id: TRACE_ID,
      "http.status_code": "503",
    });
  });

  test("a server failure at level error", async () => {
    const { event } = await captured([failure(serverFailure())]);

    expect(event.level).toBe("error");
  });

  test("a timeout at level error, without a status tag", async () => {
    const { event } = await captured([failure(timeoutError())]);

    expect({ level: event.level, tags: event.tags }).toEqual({
      level: "error",
      tags: {
        "error.code": "REQUEST_TIMED_OUT",
        category: "timeout",
        request_id: REQUEST_ID,
        trace_id: TRACE_ID,
      },
    });
  });

  test("a refusal the capture option accepts, at level warning", async () => {
    const reporter = sentryReporter(Sentry, { capture: (error) => error.status === 409 });
    const { event } = await captured([failure(refusal())], reporter);

    expect({ level: event.level, code: event.tags?.["error.code"] }).toEqual({
      level: "warning",
      code: "CONFLICT",
    });
  });

  test("the error under its own name, with a message of safe fields", async () => {
    const { event } = await captured([failure(serverFailure())]);

    expect(event.exception?.values.at(-1)).toMatchObject({
      type: "ResponseError",
      value: "POST /v1/drafts/{id} answered 503: MODEL_OVERLOADED",
    });
  });

  test("the error's stack", async () => {
    const { event } = await captured([failure(serverFailure())]);
    const frames = event.exception?.values.at(-1)?.stacktrace?.frames ?? [];

    expect(frames.map(({ filename }) => filename)).toContainEqual(
      expect.stringMatching(/test\/reporters\/fixtures\.ts$/),
    );
  });

  test("the kind, path, attempts and safe params as the hiccup context", async () => {
    const error = responseError("MODEL_UNAVAILABLE", "unavailable", 503, {
      params: { model: "writer-large" },
      attempts: 3,
    });
    const { event } = await captured([failure(error)]);

    expect(event.contexts?.["hiccup"]).toEqual({
      kind: "response",
      category: "unavailable",
      method: "POST",
      path: "/v1/drafts/42",
      attempts: 3,
      params: { model: "writer-large" },
    });
  });
});

describe("sentryReporter fingerprints", () => {
  test.each([
    {
      name: "a numeric ID",
      url: "https://writer.example/v1/drafts/42",
      want: ["MODEL_OVERLOADED", "503", "POST", "/v1/drafts/{id}"],
    },
    {
      name: "a UUID",
      url: "https://writer.example/v2/drafts/0195f3c2-7a4e-7b61-9d0c-3e8f2a6b1c47/export",
      want: ["MODEL_OVERLOADED", "503", "POST", "/v2/drafts/{id}/export"],
    },
    {
      name: "an escaped e-mail address",
      url: "https://writer.example/v1/users/ada%40example.com",
      want: ["MODEL_OVERLOADED", "503", "POST", "/v1/users/{id}"],
    },
    {
      name: "no ID",
      url: "https://writer.example/v1/drafts",
      want: ["MODEL_OVERLOADED", "503", "POST", "/v1/drafts"],
    },
  ])("by code, status, method and path, with $name replaced", async ({ url, want }) => {
    const { event } = await captured([failure(serverFailure({ url }))]);

    expect(event.fingerprint).toEqual(want);
  });

  test("two failures of one endpoint alike, whatever their IDs", async () => {
    const first = await captured([failure(serverFailure({ url: "https://w.example/v1/d/1" }))]);
    const second = await captured([failure(serverFailure({ url: "https://w.example/v1/d/2" }))]);

    expect(second.event.fingerprint).toEqual(first.event.fingerprint);
  });
});

describe("sentryReporter keeps personal data out", () => {
  test("of every part of the envelope", async () => {
    const error = responseError(PERSONAL_CODE, "upstream", 503, {
      params: { address: PERSONAL_VALUE, minutes: 5, email: PERSONAL_VALUE },
      user: { locale: "en", title: "Mailbox down", message: `We can't reach ${PERSONAL_VALUE}.` },
      fieldErrors: [
        {
          source: { pointer: "/to" },
          code: "FIELD_INVALID_FORMAT",
          params: { to: PERSONAL_VALUE },
        },
      ],
      cause: new Error(`connect to ${PERSONAL_VALUE} refused`),
    });
    const { event, raw } = await captured([failure(error)]);

    expect(event.contexts?.["hiccup"]?.["params"]).toEqual({ minutes: 5 });
    expect(raw).not.toContain(PERSONAL_VALUE);
    expect(raw).not.toContain(encodeURIComponent(PERSONAL_VALUE));
  });

  test("of breadcrumbs", async () => {
    const error = responseError(PERSONAL_CODE, "upstream", 503, {
      params: { address: PERSONAL_VALUE, minutes: 5 },
    });
    const { event, raw } = await captured([
      retry(error),
      modalShown(error),
      failure(serverFailure()),
    ]);

    expect(ours(event)).toHaveLength(2);
    expect(raw).not.toContain(PERSONAL_VALUE);
  });
});

describe("sentryReporter leaves breadcrumbs", () => {
  test("for a refusal, sending no event until a captured one carries it", async () => {
    const { events } = await send([failure(refusal())]);
    const { event } = await captured([failure(serverFailure())]);

    expect(events).toEqual([]);
    expect(ours(event)).toEqual([
      {
        timestamp: expect.any(Number),
        type: "http",
        category: "http.client.failure",
        level: "warning",
        message: "CONFLICT",
        data: {
          method: "POST",
          url: "/v1/drafts/42",
          status_code: 409,
          "error.code": "CONFLICT",
          request_id: REQUEST_ID,
          trace_id: TRACE_ID,
        },
      },
    ]);
  });

  test("for a network failure, by default", async () => {
    const { event } = await captured([failure(networkError()), failure(serverFailure())]);

    expect(ours(event)).toEqual([
      expect.objectContaining({
        category: "http.client.failure",
        level: "error",
        message: "NETWORK_OFFLINE",
        data: expect.not.objectContaining({ status_code: expect.anything() }),
      }),
    ]);
  });

  test("for a retry, with its attempt, delay and reason", async () => {
    const { event } = await captured([retry(serverFailure(), 2, 850.4), failure(serverFailure())]);

    expect(ours(event)).toEqual([
      expect.objectContaining({
        type: "http",
        category: "http.client.retry",
        level: "debug",
        data: expect.objectContaining({ attempt: 2, delay_ms: 850, reason: "backoff" }),
      }),
    ]);
  });

  test("for the failure modal shown and a recovery", async () => {
    const { event } = await captured([
      modalShown(refusal()),
      recovered(refusal()),
      failure(serverFailure()),
    ]);

    expect(ours(event).map(({ type, category, level }) => ({ type, category, level }))).toEqual([
      { type: "user", category: "ui.failure_modal.shown", level: "info" },
      { type: "user", category: "ui.failure_modal.recovered", level: "info" },
    ]);
  });
});

describe("isCapturedByDefault", () => {
  test.each<{ name: string; error: () => HiccupError; want: boolean }>([
    { name: "a 503", error: () => serverFailure(), want: true },
    { name: "a 500", error: () => responseError("INTERNAL", "internal", 500), want: true },
    { name: "a timeout", error: () => timeoutError(), want: true },
    { name: "a 409", error: () => refusal(), want: false },
    { name: "a 429", error: () => responseError("RATE_LIMITED", "rate_limited", 429), want: false },
    { name: "a network failure", error: () => networkError(), want: false },
  ])("is $want for $name", ({ error, want }) => {
    expect(isCapturedByDefault(error())).toBe(want);
  });
});
