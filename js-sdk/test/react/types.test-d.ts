// Checked by `npm run typecheck`, never run: each assertion holds only if
// this file compiles, and each `@ts-expect-error` only if its line does not.

import { createElement } from "react";

import {
  type FallbackProps,
  HiccupBoundary,
  type RequestState,
  useRequest,
} from "../../src/react/index.js";

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

function assertType<T extends true>(_proof?: T): void {}

function Fallback(_: FallbackProps) {
  return null;
}

// Each way to render a failure on its own, or none, is accepted.
createElement(HiccupBoundary, { fallback: "failed" });
createElement(HiccupBoundary, { fallbackRender: () => "failed" });
createElement(HiccupBoundary, { FallbackComponent: Fallback });
createElement(HiccupBoundary, {});

// @ts-expect-error: fallback and FallbackComponent exclude each other.
createElement(HiccupBoundary, { fallback: "failed", FallbackComponent: Fallback });

// @ts-expect-error: fallback and fallbackRender exclude each other.
createElement(HiccupBoundary, { fallback: "failed", fallbackRender: () => "failed" });

// @ts-expect-error: fallbackRender and FallbackComponent exclude each other.
createElement(HiccupBoundary, { fallbackRender: () => "failed", FallbackComponent: Fallback });

// A fallback gets the caught value as unknown, never as an Error.
assertType<Equal<FallbackProps["error"], unknown>>();

// onError gets the caught value as unknown too.
createElement(HiccupBoundary, {
  onError: (error) => assertType<Equal<typeof error, unknown>>(),
});

// The status tells which state holds data and which an error.
function Drafts() {
  const drafts = useRequest(async () => ["draft"], []);
  if (drafts.status === "success") {
    assertType<Equal<typeof drafts.data, string[]>>();
  }
  if (drafts.status === "loading") {
    assertType<Equal<typeof drafts.data, undefined>>();
  }

  return null;
}
void Drafts;

assertType<Equal<Extract<RequestState<number>, { status: "error" }>["error"], unknown>>();
