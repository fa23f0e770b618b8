// Waits that end early, with the signal's reason, when a signal aborts.

/** Resolve after `ms`, or reject with `signal`'s reason once it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return until(signal, (done) => {
    const timer = setTimeout(done, ms);

    return () => clearTimeout(timer);
  });
}

/**
 * Resolve once the browser says it is online (at once if it already is, or
 * cannot tell), or reject once `signal` aborts.
 */
export function whenOnline(signal: AbortSignal): Promise<void> {
  if (globalThis.navigator?.onLine !== false) {
    return Promise.resolve();
  }

  return until(signal, (done) => {
    addEventListener("online", done);

    return () => removeEventListener("online", done);
  });
}

/**
 * Resolve once the page is visible (at once if it is, or has no document),
 * or reject once `signal` aborts. A hidden tab has nobody waiting on it, so
 * its retries can wait until someone looks.
 */
export function whenVisible(signal: AbortSignal): Promise<void> {
  const doc = globalThis.document as Document | undefined;
  if (doc?.visibilityState !== "hidden") {
    return Promise.resolve();
  }

  return until(signal, (done) => {
    const check = () => {
      if (doc.visibilityState !== "hidden") {
        done();
      }
    };
    doc.addEventListener("visibilitychange", check);

    return () => doc.removeEventListener("visibilitychange", check);
  });
}

// Run `start(done)`, which returns its own clean-up, until it calls `done`
// or `signal` aborts, whichever comes first.
function until(signal: AbortSignal, start: (done: () => void) => () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    let settled = false;
    let stop: (() => void) | undefined;
    const finish = (outcome: () => void) => {
      settled = true;
      stop?.();
      signal.removeEventListener("abort", onAbort);
      outcome();
    };
    const onAbort = () => finish(() => reject(signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    stop = start(() => finish(resolve));
    // `start` may have finished at once, before its clean-up existed.
    if (settled) {
      stop();
    }
  });
}
