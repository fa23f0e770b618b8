import { type DependencyList, useCallback, useEffect, useState } from "react";

import { sameItems } from "./same-items.js";

/** Options of `useRequest`. */
export interface UseRequestOptions {
  /** Run the operation at all. While `false` the state is `idle`. Default `true`. */
  readonly enabled?: boolean | undefined;
  /**
   * Throw a failure during render instead of returning it, so that the
   * nearest error boundary shows it. Default `false`.
   */
  readonly throwOnError?: boolean | undefined;
}

/**
 * Where an operation run by `useRequest` stands.
 *
 * - `idle`: nothing runs and nothing is known: the hook is disabled, or the
 *   operation was cancelled by an `AbortError` of its own.
 * - `loading`: a run is in flight for the current deps.
 * - `success`: the run for the current deps resolved with `data`.
 * - `error`: the run for the current deps failed with `error`.
 */
export type RequestState<T> =
  | {
      readonly status: "idle";
      readonly loading: false;
      readonly data: undefined;
      readonly error: undefined;
    }
  | {
      readonly status: "loading";
      readonly loading: true;
      readonly data: undefined;
      readonly error: undefined;
    }
  | {
      readonly status: "success";
      readonly loading: false;
      readonly data: T;
      readonly error: undefined;
    }
  | {
      readonly status: "error";
      readonly loading: false;
      readonly data: undefined;
      readonly error: unknown;
    };

/** What `useRequest` returns: the state, and a way to run the operation again. */
export type UseRequestResult<T> = RequestState<T> & {
  /** Run the operation again with the current deps. */
  readonly retry: () => void;
};

// How a run ended, and which deps and attempt it ran for: a result that
// does not match the current ones is stale and never shown.
type Settled<T> = {
  readonly deps: DependencyList;
  readonly attempt: number;
  readonly state: RequestState<T>;
};

const IDLE = { status: "idle", loading: false, data: undefined, error: undefined } as const;
const LOADING = { status: "loading", loading: true, data: undefined, error: undefined } as const;

/**
 * Run an async operation when the component mounts and whenever `deps`
 * change, and follow its state.
 *
 * Each run gets an `AbortSignal` that is aborted when the deps change, on
 * `retry()` and on unmount, so the operation can cancel its request. The
 * result of an aborted run is dropped: an older response never overwrites
 * a newer one, and nothing is set after unmount. An `AbortError` is never
 * reported as a failure.
 *
 * Under StrictMode in development React mounts every effect twice, so the
 * operation starts twice; the first run is aborted at once and its outcome
 * dropped, and a hiccup client does not report an aborted request.
 *
 * A failure is returned as `status: "error"`. It reaches an error boundary
 * only with `throwOnError`: a boundary cannot see a rejected promise.
 *
 * @param operation The work to do; it should pass `signal` on to `fetch`
 *   or to a hiccup client's `request` or `json`.
 * @param deps The values the operation reads, as for `useEffect`: a change
 *   of any of them (by `Object.is`) runs it again. Keep its length fixed.
 */
export function useRequest<T>(
  operation: (signal: AbortSignal) => Promise<T>,
  deps: DependencyList,
  options: UseRequestOptions = {},
): UseRequestResult<T> {
  const enabled = options.enabled ?? true;
  const [attempt, setAttempt] = useState(0);
  const [settled, setSettled] = useState<Settled<T> | undefined>(undefined);
  const retry = useCallback(() => setAttempt((n) => n + 1), []);

  // The deps are the caller's, as with useEffect; the operation is read
  // from the render that changed them, so it needs no entry of its own.
  // biome-ignore lint/correctness/useExhaustiveDependencies: see above.
  useEffect(() => {
    if (!enabled) {
      return;
    }
    const controller = new AbortController();
    const settle = (state: RequestState<T>) => {
      if (!controller.signal.aborted) {
        setSettled({ deps, attempt, state });
      }
    };

    // A promise built this way also turns a synchronous throw into a
    // rejection, so an operation that is not an async function fails alike.
    new Promise<T>((resolve) => resolve(operation(controller.signal))).then(
      (data) => settle({ status: "success", loading: false, data, error: undefined }),
      (error: unknown) => settle(isAbortError(error) ? IDLE : failed(error)),
    );

    return () => controller.abort();
  }, [...deps, attempt, enabled]);

  const state = currentState(settled, deps, attempt, enabled);
  if (options.throwOnError === true && state.status === "error") {
    throw state.error;
  }

  return { ...state, retry };
}

function failed(error: unknown): RequestState<never> {
  return { status: "error", loading: false, data: undefined, error };
}

function currentState<T>(
  settled: Settled<T> | undefined,
  deps: DependencyList,
  attempt: number,
  enabled: boolean,
): RequestState<T> {
  if (!enabled) {
    return IDLE;
  }
  if (settled === undefined || settled.attempt !== attempt || !sameItems(settled.deps, deps)) {
    return LOADING;
  }

  return settled.state;
}

// Fetch rejects with a DOMException named "AbortError"; other libraries
// throw errors of their own with the same name.
function isAbortError(error: unknown): boolean {
  return (
    typeof error === "object" && error !== null && "name" in error && error.name === "AbortError"
  );
}
