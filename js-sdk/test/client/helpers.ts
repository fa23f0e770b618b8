import { vi } from "vitest";
import { type ClientOptions, createClient } from "../../src/client.js";
import { type HiccupError, isHiccupError } from "../../src/errors/hiccup-error.js";
import type { HiccupEvent } from "../../src/events.js";

/** One request the fake fetch received. */
export interface Sent {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly body: string | undefined;
}

/** How the fake fetch answers one request: a response, or a thrown error. */
export type Answer = (signal: AbortSignal) => Response | Promise<Response>;

export interface FakeFetch {
  readonly fetch: typeof fetch;
  readonly sent: Sent[];
}

/**
 * Make a fetch that answers the n-th request with `answers[n]`, and every
 * request past the end with the last answer. Like the browser's, it
 * rejects with the signal's reason when the signal aborts.
 */
export function fakeFetch(...answers: Answer[]): FakeFetch {
  const sent: Sent[] = [];
  const fetch: typeof globalThis.fetch = async (input, init = {}) => {
    const signal = init.signal ?? new AbortController().signal;
    signal.throwIfAborted();
    sent.push({
      url: String(input),
      method: init.method ?? "GET",
      headers: new Headers(init.headers),
      body: typeof init.body === "string" ? init.body : undefined,
    });
    const answer = answers[Math.min(sent.length, answers.length) - 1];
    if (answer === undefined) {
      throw new Error("fakeFetch needs at least one answer");
    }

    return Promise.race([answer(signal), aborted(signal)]);
  };

  return { fetch, sent };
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

/** Answer with `status`, a text body and headers. */
export function status(code: number, body = "", headers: Record<string, string> = {}): Answer {
  return () => new Response(code === 204 ? null : body, { status: code, headers });
}

/** Answer with `value` as a JSON body. */
export function json(code: number, value: unknown, headers: Record<string, string> = {}): Answer {
  return status(code, JSON.stringify(value), { "Content-Type": "application/json", ...headers });
}

/** Answer with an RFC 9457 envelope made of `members`. */
export function envelope(
  code: number,
  members: Record<string, unknown>,
  headers: Record<string, string> = {},
): Answer {
  const body = { type: "/problems/x", title: "t", status: code, ...members };

  return status(code, JSON.stringify(body), {
    "Content-Type": "application/problem+json",
    ...headers,
  });
}

/** Fail the way fetch does when no response arrives. */
export function offline(): Answer {
  return () => {
    throw new TypeError("Failed to fetch");
  };
}

/** Never answer; only the signal ends the request. */
export function hang(): Answer {
  return () => new Promise<never>(() => {});
}

/** Run every timer until none is left, then return what `promise` threw. */
export async function thrownBy(promise: Promise<unknown>): Promise<unknown> {
  const outcome = promise.then(
    () => {
      throw new Error("expected the promise to reject, but it resolved");
    },
    (thrown: unknown) => thrown,
  );
  await vi.runAllTimersAsync();

  return outcome;
}

/** Like `thrownBy`, for a rejection that must be a HiccupError. */
export async function failureOf(promise: Promise<unknown>): Promise<HiccupError> {
  const thrown = await thrownBy(promise);
  if (!isHiccupError(thrown)) {
    throw new Error(`expected a HiccupError, got ${String(thrown)}`);
  }

  return thrown;
}

/** Run every timer until none is left, then return what `promise` resolved to. */
export async function resolvedBy<T>(promise: Promise<T>): Promise<T> {
  const outcome = promise.then(
    (value) => ({ value }),
    (thrown: unknown) => ({ thrown }),
  );
  await vi.runAllTimersAsync();
  const settled = await outcome;
  if ("thrown" in settled) {
    throw settled.thrown;
  }

  return settled.value;
}

/** Split a traceparent into its trace ID and span ID. */
export function traceOf(header: string | null): { traceId: string; spanId: string } {
  const [, traceId = "", spanId = ""] = (header ?? "").split("-");

  return { traceId, spanId };
}

/** The origin the clients of these tests call. */
export const BASE = "https://api.example";

/**
 * Make a client of BASE whose requests `answers` answer in turn, keeping
 * every event it reports and every error it hands to onError.
 */
export function clientWith(answers: Answer[], options: ClientOptions = {}) {
  const fake = fakeFetch(...answers);
  const events: HiccupEvent[] = [];
  const errors: HiccupError[] = [];
  const client = createClient({
    baseUrl: BASE,
    fetch: fake.fetch,
    reporters: [{ report: (event) => events.push(event) }],
    onError: (error) => errors.push(error),
    ...options,
  });

  return { client, sent: fake.sent, events, errors };
}
