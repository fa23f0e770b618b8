// Type checked by `nox -s openapi`, never run: the session copies this file
// next to the types openapi-typescript generates from the OpenAPI document of
// python/tests/openapi_app.py. Each assertion holds only if this file
// compiles, and each `@ts-expect-error` only if its line does not.

import type { components, paths } from "./schema.generated.js";

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

function assertType<T extends true>(_proof?: T): void {}

type Problem = components["schemas"]["Problem"];
type CreateDraft = paths["/drafts"]["post"];
type ReadDraft = paths["/drafts/{draft_id}"]["get"];
type FailureStatus = Exclude<keyof ReadDraft["responses"], 200 | "default">;

/** A failed `GET /drafts/{draft_id}`, discriminated by the status it declares. */
type Failure = {
  [S in FailureStatus]: {
    status: S;
    body: ReadDraft["responses"][S]["content"]["application/problem+json"];
  };
}[FailureStatus];

// The envelope's members keep the types a client relies on.
assertType<Equal<Problem["code"], string>>();
assertType<Equal<Problem["request_id"], string>>();
assertType<Equal<Problem["status"], number>>();

// Every declared failure, the 422 included, is the envelope and nothing else.
assertType<Equal<FailureStatus, 422 | 429 | 503 | 504>>();
assertType<Equal<Failure["body"], Problem>>();
assertType<
  Equal<CreateDraft["responses"][422]["content"], { "application/problem+json": Problem }>
>();

// Any failure a route does not declare is the envelope too.
assertType<
  Equal<ReadDraft["responses"]["default"]["content"], { "application/problem+json": Problem }>
>();

// Every response says which request it answered, successes included.
assertType<Equal<ReadDraft["responses"][200]["headers"]["X-Request-ID"], string>>();
assertType<Equal<ReadDraft["responses"]["default"]["headers"]["X-Request-ID"], string>>();

// A failure whose code says when to try again declares Retry-After.
assertType<Equal<ReadDraft["responses"][429]["headers"]["Retry-After"], number>>();

// A validation failure names no time to wait: the header is not declared.
assertType<Equal<ReadDraft["responses"][422]["headers"]["Retry-After"], unknown>>();

// @ts-expect-error: FastAPI's own 422 body is gone from the document.
type _FastApi422 = components["schemas"]["HTTPValidationError"];

// @ts-expect-error: a 422 is never plain JSON.
type _Json422 = CreateDraft["responses"][422]["content"]["application/json"];

// @ts-expect-error: the route declares no 502.
type _Undeclared = ReadDraft["responses"][502];

/** Say what a client would do with a failure, using only typed members. */
export function explain(failure: Failure): string {
  const problem = failure.body;
  const code: string = problem.code;
  const requestId: string = problem.request_id;
  const waitMs: number | undefined = problem.retry?.after_ms;
  const source = problem.errors?.[0]?.source;
  const where = source?.pointer ?? source?.parameter ?? source?.header ?? "the request";

  switch (failure.status) {
    case 422:
      return `${code}: change ${where} (reference ${requestId})`;
    case 429:
    case 503:
    case 504:
      return `${code}: try again in ${waitMs ?? 0} ms (reference ${requestId})`;
    default: {
      const unhandled: never = failure;
      return unhandled;
    }
  }
}

export function misuse(problem: Problem): void {
  // @ts-expect-error: extension members are unknown and must be read by index.
  void problem.stack;

  // @ts-expect-error: `retry` has no members beyond auto, user and after_ms.
  void problem.retry?.delay_ms;

  // @ts-expect-error: a field error's source names no `path`.
  void problem.errors?.[0]?.source.path;

  // @ts-expect-error: `retry` is optional, so it must be checked first.
  const waitMs: number | undefined = problem.retry.after_ms;
  void waitMs;

  // @ts-expect-error: `status` is a number, not a string.
  const status: string = problem.status;
  void status;
}

export const request: CreateDraft["requestBody"]["content"]["application/json"] = {
  prompt: "A story about a lighthouse",
  // @ts-expect-error: the body model allows plain, warm or formal only.
  tone: "loud",
};
