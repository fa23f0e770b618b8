// @vitest-environment happy-dom

import { act, cleanup, render, renderHook, screen } from "@testing-library/react";
import { createElement } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { type FallbackProps, HiccupBoundary } from "../../src/react/boundary.js";
import { useRequest } from "../../src/react/use-request.js";
import { type Deferred, deferred } from "./helpers.js";

// Each call of the operation gets the next of these promises, and its
// signal is kept, so a test decides when and how each run ends.
function scripted<T>(count: number) {
  const runs: Deferred<T>[] = Array.from({ length: count }, () => deferred<T>());
  const signals: AbortSignal[] = [];
  const operation = vi.fn((signal: AbortSignal) => {
    const run = runs[signals.length];
    signals.push(signal);
    if (run === undefined) {
      throw new Error(`the operation ran more than ${count} times`);
    }

    return run.promise;
  });

  return { runs, signals, operation };
}

interface DraftsProps {
  readonly operation: (signal: AbortSignal) => Promise<string>;
  readonly throwOnError: boolean;
}

// Shows the drafts, or says that they failed unless it throws the failure.
function Drafts({ operation, throwOnError }: DraftsProps) {
  const { status, data } = useRequest(operation, [], { throwOnError });

  return createElement("p", null, status === "error" ? "no drafts" : (data ?? "loading"));
}

function renderInBoundary(props: DraftsProps) {
  const fallbackRender = ({ error }: FallbackProps) => `caught: ${String(error)}`;
  const drafts = createElement(Drafts, props);

  return render(createElement(HiccupBoundary, { fallbackRender }, drafts), {
    onCaughtError: () => {},
  });
}

function run<T>(runs: readonly Deferred<T>[], index: number): Deferred<T> {
  const found = runs[index];
  if (found === undefined) {
    throw new Error(`there is no run ${index}`);
  }

  return found;
}

// Vitest has no global afterEach here, so the library cannot clean up alone.
afterEach(cleanup);

describe("useRequest", () => {
  it("is loading until the operation resolves", () => {
    const { operation } = scripted<string>(1);

    const { result } = renderHook(() => useRequest(operation, []));

    expect(result.current.status).toBe("loading");
    expect(result.current.loading).toBe(true);
    expect(result.current.data).toBeUndefined();
  });

  it("holds the data the operation resolved with", async () => {
    const { runs, operation } = scripted<string>(1);
    const { result } = renderHook(() => useRequest(operation, []));

    await act(async () => run(runs, 0).resolve("draft 1"));

    expect(result.current.status).toBe("success");
    expect(result.current.loading).toBe(false);
    expect(result.current.data).toBe("draft 1");
  });

  it("holds the failure the operation rejected with", async () => {
    const { runs, operation } = scripted<string>(1);
    const failure = new Error("the server is down");
    const { result } = renderHook(() => useRequest(operation, []));

    await act(async () => run(runs, 0).reject(failure));

    expect(result.current.status).toBe("error");
    expect(result.current.error).toBe(failure);
    expect(result.current.data).toBeUndefined();
  });

  it("holds a synchronous throw of the operation as a failure", async () => {
    const failure = new Error("not an async function");
    const operation = () => {
      throw failure;
    };

    const { result } = renderHook(() => useRequest(operation, []));
    await act(async () => {});

    expect(result.current.status).toBe("error");
    expect(result.current.error).toBe(failure);
  });

  it("never reports an AbortError as a failure", async () => {
    const { runs, operation } = scripted<string>(1);
    const { result } = renderHook(() => useRequest(operation, []));

    await act(async () => run(runs, 0).reject(new DOMException("stopped", "AbortError")));

    expect(result.current.status).toBe("idle");
    expect(result.current.error).toBeUndefined();
  });

  it("passes the operation a signal that is not aborted", () => {
    const { signals, operation } = scripted<string>(1);

    renderHook(() => useRequest(operation, []));

    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(false);
  });

  it("aborts the signal on unmount", () => {
    const { signals, operation } = scripted<string>(1);
    const { unmount } = renderHook(() => useRequest(operation, []));

    unmount();

    expect(signals[0]?.aborted).toBe(true);
  });

  it("runs again and aborts the previous run when the deps change", () => {
    const { signals, operation } = scripted<string>(2);
    const { rerender } = renderHook(({ id }) => useRequest(operation, [id]), {
      initialProps: { id: 1 },
    });

    rerender({ id: 2 });

    expect(operation).toHaveBeenCalledTimes(2);
    expect(signals.map((signal) => signal.aborted)).toEqual([true, false]);
  });

  it("is loading again as soon as the deps change", async () => {
    const { runs, operation } = scripted<string>(2);
    const { result, rerender } = renderHook(({ id }) => useRequest(operation, [id]), {
      initialProps: { id: 1 },
    });
    await act(async () => run(runs, 0).resolve("draft 1"));

    rerender({ id: 2 });

    expect(result.current.status).toBe("loading");
    expect(result.current.data).toBeUndefined();
  });

  it("drops the results of runs that newer deps replaced", async () => {
    const { runs, operation } = scripted<string>(3);
    const { result, rerender } = renderHook(({ id }) => useRequest(operation, [id]), {
      initialProps: { id: 1 },
    });
    rerender({ id: 2 });
    rerender({ id: 3 });

    await act(async () => run(runs, 2).resolve("draft 3"));
    await act(async () => run(runs, 1).resolve("draft 2"));
    await act(async () => run(runs, 0).reject(new Error("too late to matter")));

    expect(result.current.status).toBe("success");
    expect(result.current.data).toBe("draft 3");
  });

  it("runs the operation again on retry", async () => {
    const { runs, signals, operation } = scripted<string>(2);
    const { result } = renderHook(() => useRequest(operation, []));
    await act(async () => run(runs, 0).reject(new Error("the server is down")));

    act(() => result.current.retry());
    const loading = result.current.status;
    await act(async () => run(runs, 1).resolve("draft 1"));

    expect(operation).toHaveBeenCalledTimes(2);
    expect(loading).toBe("loading");
    expect(signals[1]?.aborted).toBe(false);
    expect(result.current.data).toBe("draft 1");
  });

  it("stays idle and runs nothing while disabled", () => {
    const { operation } = scripted<string>(1);

    const { result } = renderHook(() => useRequest(operation, [], { enabled: false }));

    expect(operation).not.toHaveBeenCalled();
    expect(result.current.status).toBe("idle");
  });

  it("runs once it is enabled", () => {
    const { operation } = scripted<string>(1);
    const { result, rerender } = renderHook(
      ({ enabled }) => useRequest(operation, [], { enabled }),
      { initialProps: { enabled: false } },
    );

    rerender({ enabled: true });

    expect(operation).toHaveBeenCalledTimes(1);
    expect(result.current.status).toBe("loading");
  });

  it("throws the failure to the nearest boundary with throwOnError", async () => {
    const { runs, operation } = scripted<string>(1);
    renderInBoundary({ operation, throwOnError: true });

    await act(async () => run(runs, 0).reject(new Error("the server is down")));

    expect(screen.getByText("caught: Error: the server is down")).toBeDefined();
  });

  it("keeps the failure from the boundary without throwOnError", async () => {
    const { runs, operation } = scripted<string>(1);
    renderInBoundary({ operation, throwOnError: false });

    await act(async () => run(runs, 0).reject(new Error("the server is down")));

    expect(screen.getByText("no drafts")).toBeDefined();
  });

  it("keeps only the second run of StrictMode's double mount", async () => {
    const { runs, signals, operation } = scripted<string>(2);
    const { result } = renderHook(() => useRequest(operation, []), { reactStrictMode: true });

    await act(async () => run(runs, 1).resolve("draft from the second run"));
    await act(async () => run(runs, 0).resolve("draft from the first run"));

    expect(signals.map((signal) => signal.aborted)).toEqual([true, false]);
    expect(result.current.data).toBe("draft from the second run");
  });
});
