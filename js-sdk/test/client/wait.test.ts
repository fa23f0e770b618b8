// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { sleep, whenOnline, whenVisible } from "../../src/wait.js";

const page = { online: true, visibility: "visible" as DocumentVisibilityState };

beforeEach(() => {
  vi.useFakeTimers();
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

// Follow a promise without awaiting it, to ask later whether it has settled.
function watch(promise: Promise<void>) {
  const seen = { settled: false, reason: undefined as unknown };
  promise.then(
    () => {
      seen.settled = true;
    },
    (reason: unknown) => {
      seen.settled = true;
      seen.reason = reason;
    },
  );

  return seen;
}

async function flush(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

describe("sleep", () => {
  test("is still pending just before its delay", async () => {
    const seen = watch(sleep(100, new AbortController().signal));

    await vi.advanceTimersByTimeAsync(99);

    expect(seen.settled).toBe(false);
  });

  test("resolves once its delay has passed", async () => {
    const seen = watch(sleep(100, new AbortController().signal));

    await vi.advanceTimersByTimeAsync(100);

    expect(seen).toEqual({ settled: true, reason: undefined });
  });

  test("rejects with the signal's reason when it aborts", async () => {
    const controller = new AbortController();
    const reason = new Error("the user left");
    const slept = sleep(100, controller.signal);

    controller.abort(reason);

    await expect(slept).rejects.toBe(reason);
  });

  test("rejects at once for a signal that already aborted", async () => {
    const controller = new AbortController();
    controller.abort("gone");

    await expect(sleep(100, controller.signal)).rejects.toBe("gone");
  });

  test("clears its timer when the signal aborts", async () => {
    const controller = new AbortController();
    watch(sleep(100, controller.signal));

    controller.abort();
    await flush();

    expect(vi.getTimerCount()).toBe(0);
  });

  test("stops listening to the signal once it resolves", async () => {
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, "removeEventListener");
    const add = vi.spyOn(controller.signal, "addEventListener");
    const slept = sleep(10, controller.signal);

    await vi.advanceTimersByTimeAsync(10);
    await slept;

    expect(remove).toHaveBeenCalledWith("abort", add.mock.calls[0]?.[1]);
  });
});

describe("whenOnline", () => {
  test("resolves at once when the browser is online", async () => {
    const seen = watch(whenOnline(new AbortController().signal));

    await flush();

    expect(seen.settled).toBe(true);
  });

  test("waits while the browser is offline", async () => {
    page.online = false;
    const seen = watch(whenOnline(new AbortController().signal));

    await vi.advanceTimersByTimeAsync(60_000);

    expect(seen.settled).toBe(false);
  });

  test("resolves on the online event", async () => {
    page.online = false;
    const seen = watch(whenOnline(new AbortController().signal));

    page.online = true;
    window.dispatchEvent(new Event("online"));
    await flush();

    expect(seen).toEqual({ settled: true, reason: undefined });
  });

  test("rejects with the signal's reason when it aborts while offline", async () => {
    page.online = false;
    const controller = new AbortController();
    const waited = whenOnline(controller.signal);

    controller.abort("gone");

    await expect(waited).rejects.toBe("gone");
  });

  test("stops listening for the online event when the signal aborts", async () => {
    page.online = false;
    const remove = vi.spyOn(window, "removeEventListener");
    const controller = new AbortController();
    watch(whenOnline(controller.signal));

    controller.abort();
    await flush();

    expect(remove).toHaveBeenCalledWith("online", expect.any(Function));
  });
});

describe("whenVisible", () => {
  test("resolves at once when the page is visible", async () => {
    const seen = watch(whenVisible(new AbortController().signal));

    await flush();

    expect(seen.settled).toBe(true);
  });

  test("waits while the page is hidden", async () => {
    page.visibility = "hidden";
    const seen = watch(whenVisible(new AbortController().signal));

    await vi.advanceTimersByTimeAsync(60_000);

    expect(seen.settled).toBe(false);
  });

  test("keeps waiting through a visibilitychange that leaves it hidden", async () => {
    page.visibility = "hidden";
    const seen = watch(whenVisible(new AbortController().signal));

    document.dispatchEvent(new Event("visibilitychange"));
    await flush();

    expect(seen.settled).toBe(false);
  });

  test("resolves when the page becomes visible", async () => {
    page.visibility = "hidden";
    const seen = watch(whenVisible(new AbortController().signal));

    page.visibility = "visible";
    document.dispatchEvent(new Event("visibilitychange"));
    await flush();

    expect(seen).toEqual({ settled: true, reason: undefined });
  });

  test("rejects with the signal's reason when it aborts while hidden", async () => {
    page.visibility = "hidden";
    const controller = new AbortController();
    const waited = whenVisible(controller.signal);

    controller.abort("gone");

    await expect(waited).rejects.toBe("gone");
  });

  test("stops listening for visibilitychange once visible", async () => {
    page.visibility = "hidden";
    const remove = vi.spyOn(document, "removeEventListener");
    const waited = whenVisible(new AbortController().signal);

    page.visibility = "visible";
    document.dispatchEvent(new Event("visibilitychange"));
    await waited;

    expect(remove).toHaveBeenCalledWith("visibilitychange", expect.any(Function));
  });
});
