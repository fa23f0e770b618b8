// W3C Trace Context (https://www.w3.org/TR/trace-context/): one trace per
// operation, one span per attempt, so the server's traces show the retries.

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZEROS = /^0+$/;

/** The trace an operation's attempts belong to. */
export interface Trace {
  readonly traceId: string;
  readonly flags: string;
}

/**
 * Continue the trace of a caller's `traceparent` header, or start a new,
 * sampled one when there is none or it is not valid.
 */
export function startTrace(header: string | null): Trace {
  const match = header === null ? null : TRACEPARENT.exec(header.trim());
  const [, traceId, parentId, flags] = match ?? [];
  // The spec makes an all-zero trace ID or parent ID invalid.
  if (traceId && parentId && flags && !ZEROS.test(traceId) && !ZEROS.test(parentId)) {
    return { traceId, flags };
  }

  return { traceId: randomHex(16), flags: "01" };
}

/** Return the `traceparent` of one attempt: the trace, with a new span ID. */
export function attemptParent(trace: Trace): string {
  return `00-${trace.traceId}-${randomHex(8)}-${trace.flags}`;
}

// Neither ID may be all zeros; 8 random bytes are that with odds of 2^-64,
// and then the first byte is nudged.
function randomHex(bytes: number): string {
  const values = crypto.getRandomValues(new Uint8Array(bytes));
  if (values.every((value) => value === 0)) {
    values[0] = 1;
  }

  return Array.from(values, (value) => value.toString(16).padStart(2, "0")).join("");
}
