import { describe, expect, test } from "vitest";
import { attemptParent, startTrace } from "../../src/traceparent.js";
import { traceOf } from "./helpers.js";

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";

describe("a new trace", () => {
  test("gives a traceparent of version 00, sampled", () => {
    const header = attemptParent(startTrace(null));

    expect(header).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  test("has a trace ID of its own", () => {
    expect(startTrace(null).traceId).not.toBe(startTrace(null).traceId);
  });

  test("gives each attempt a new span ID in the same trace", () => {
    const trace = startTrace(null);

    const first = traceOf(attemptParent(trace));
    const second = traceOf(attemptParent(trace));

    expect(second.traceId).toBe(first.traceId);
    expect(second.spanId).not.toBe(first.spanId);
  });
});

describe("a caller's traceparent", () => {
  test("is continued with its trace ID and flags", () => {
    const trace = startTrace(`00-${CALLER_TRACE}-${CALLER_SPAN}-00`);

    expect(trace).toEqual({ traceId: CALLER_TRACE, flags: "00" });
  });

  test("gets a span of the SDK's own, not the caller's", () => {
    const trace = startTrace(`00-${CALLER_TRACE}-${CALLER_SPAN}-01`);

    const { traceId, spanId } = traceOf(attemptParent(trace));

    expect(traceId).toBe(CALLER_TRACE);
    expect(spanId).not.toBe(CALLER_SPAN);
  });

  test("is read with the whitespace around it ignored", () => {
    expect(startTrace(` 00-${CALLER_TRACE}-${CALLER_SPAN}-01 `).traceId).toBe(CALLER_TRACE);
  });

  test.each([
    { id: "garbage", header: "not a traceparent" },
    { id: "empty", header: "" },
    { id: "another version", header: `01-${CALLER_TRACE}-${CALLER_SPAN}-01` },
    { id: "upper-case hex", header: `00-${CALLER_TRACE.toUpperCase()}-${CALLER_SPAN}-01` },
    { id: "a short trace ID", header: `00-${CALLER_TRACE.slice(1)}-${CALLER_SPAN}-01` },
    { id: "an all-zero trace ID", header: `00-${"0".repeat(32)}-${CALLER_SPAN}-01` },
    { id: "an all-zero parent ID", header: `00-${CALLER_TRACE}-${"0".repeat(16)}-01` },
  ])("is replaced by a new sampled trace when it has $id", ({ header }) => {
    const trace = startTrace(header);

    expect(trace.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(trace.traceId).not.toBe(CALLER_TRACE);
    expect(trace.traceId).not.toBe("0".repeat(32));
    expect(trace.flags).toBe("01");
  });
});
