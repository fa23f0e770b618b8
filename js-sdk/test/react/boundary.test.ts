// @vitest-environment happy-dom

import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { createElement, type ErrorInfo, type ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { bindReporters } from "../../src/events.js";
import {
  type FallbackProps,
  HiccupBoundary,
  type HiccupBoundaryProps,
  type ResetDetails,
} from "../../src/react/boundary.js";
import { modalDialog, networkError, recorder, settle, tryAgainButton } from "./helpers.js";

// What a child throws until a test mends it, before resetting the boundary.
interface Fault {
  readonly thrown: unknown;
  mended: boolean;
}

function Drafts({ fault }: { readonly fault: Fault }): ReactNode {
  if (!fault.mended) {
    throw fault.thrown;
  }

  return createElement("p", null, "the drafts");
}

function Caught({ error }: FallbackProps): ReactNode {
  return createElement("p", null, `caught ${String(error)}`);
}

function ResetButton({ resetErrorBoundary }: FallbackProps): ReactNode {
  const onClick = () => resetErrorBoundary("retry", 2);

  return createElement("button", { type: "button", onClick }, "reset");
}

function breakable(thrown: unknown) {
  const fault: Fault = { thrown, mended: false };

  return { fault, child: createElement(Drafts, { fault }) };
}

function renderBoundary(props: HiccupBoundaryProps, child: ReactNode, reactStrictMode = false) {
  return render(createElement(HiccupBoundary, props, child), {
    onCaughtError: () => {},
    reactStrictMode,
  });
}

// Vitest has no global afterEach here, so the library cannot clean up alone.
afterEach(cleanup);

describe("HiccupBoundary", () => {
  it("renders its children while they do not throw", () => {
    renderBoundary({ fallback: "failed" }, createElement("p", null, "the drafts"));

    expect(screen.getByText("the drafts")).toBeDefined();
  });

  it("renders the fallback node in place of children that throw", () => {
    const { child } = breakable(new Error("render failed"));

    renderBoundary({ fallback: createElement("p", null, "failed") }, child);

    expect(screen.getByText("failed")).toBeDefined();
    expect(screen.queryByText("the drafts")).toBeNull();
  });

  it("renders nothing in place of children that throw with a null fallback", () => {
    const { child } = breakable(new Error("render failed"));

    const { container } = renderBoundary({ fallback: null }, child);

    expect(container.innerHTML).toBe("");
    expect(modalDialog()).toBeNull();
  });

  it("passes fallbackRender whatever value was thrown", () => {
    const thrown = { reason: "not an Error at all" };
    const { child } = breakable(thrown);
    const fallbackRender = vi.fn((_: FallbackProps) => "failed");

    renderBoundary({ fallbackRender }, child);

    expect(fallbackRender.mock.lastCall?.[0].error).toBe(thrown);
    expect(screen.getByText("failed")).toBeDefined();
  });

  it("renders FallbackComponent with the thrown value", () => {
    const { child } = breakable("a thrown string");

    renderBoundary({ FallbackComponent: Caught }, child);

    expect(screen.getByText("caught a thrown string")).toBeDefined();
  });

  it("calls onError with the thrown value and the component stack", () => {
    const thrown = new Error("render failed");
    const { child } = breakable(thrown);
    const onError = vi.fn((_error: unknown, _info: ErrorInfo) => {});

    renderBoundary({ fallback: "failed", onError }, child);

    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.lastCall?.[0]).toBe(thrown);
    expect(onError.mock.lastCall?.[1].componentStack).toContain("Drafts");
  });

  it("renders the children again on resetErrorBoundary", () => {
    const { fault, child } = breakable(new Error("render failed"));
    renderBoundary({ FallbackComponent: ResetButton }, child);

    fault.mended = true;
    fireEvent.click(screen.getByText("reset"));

    expect(screen.getByText("the drafts")).toBeDefined();
  });

  it("tells onReset that the imperative API reset it, with its args", () => {
    const { fault, child } = breakable(new Error("render failed"));
    const onReset = vi.fn((_: ResetDetails) => {});
    renderBoundary({ FallbackComponent: ResetButton, onReset }, child);

    fault.mended = true;
    fireEvent.click(screen.getByText("reset"));

    expect(onReset).toHaveBeenCalledTimes(1);
    expect(onReset).toHaveBeenCalledWith({ reason: "imperative-api", args: ["retry", 2] });
  });

  it("resets when a reset key changes, telling onReset the old and new keys", () => {
    const { fault, child } = breakable(new Error("render failed"));
    const onReset = vi.fn((_: ResetDetails) => {});
    const { rerender } = renderBoundary(
      { fallback: "failed", onReset, resetKeys: ["draft-1"] },
      child,
    );

    fault.mended = true;
    rerender(
      createElement(HiccupBoundary, { fallback: "failed", onReset, resetKeys: ["draft-2"] }, child),
    );

    expect(onReset).toHaveBeenCalledWith({ reason: "keys", prev: ["draft-1"], next: ["draft-2"] });
    expect(screen.getByText("the drafts")).toBeDefined();
  });

  it("keeps the fallback while the reset keys hold the same values", () => {
    const { fault, child } = breakable(new Error("render failed"));
    const onReset = vi.fn((_: ResetDetails) => {});
    const { rerender } = renderBoundary(
      { fallback: "failed", onReset, resetKeys: ["draft-1"] },
      child,
    );

    fault.mended = true;
    rerender(
      createElement(HiccupBoundary, { fallback: "failed", onReset, resetKeys: ["draft-1"] }, child),
    );

    expect(onReset).not.toHaveBeenCalled();
    expect(screen.getByText("failed")).toBeDefined();
  });

  it("opens the failure modal when no fallback is given", async () => {
    const { child } = breakable(new Error("render failed"));

    renderBoundary({}, child);
    await settle();

    expect(modalDialog()).not.toBeNull();
  });

  it("renders the children again from the modal's Try again", async () => {
    const { fault, child } = breakable(networkError());
    const onReset = vi.fn((_: ResetDetails) => {});
    renderBoundary({ onReset }, child);
    await settle();

    fault.mended = true;
    await act(async () => tryAgainButton().click());

    expect(onReset).toHaveBeenCalledWith({ reason: "imperative-api", args: [] });
    expect(screen.getByText("the drafts")).toBeDefined();
    expect(modalDialog()).toBeNull();
  });

  it("offers Try again for a bug in a component, and renders the children again", async () => {
    const { fault, child } = breakable(new TypeError("drafts is undefined"));
    renderBoundary({}, child);
    await settle();

    fault.mended = true;
    await act(async () => tryAgainButton().click());

    expect(screen.getByText("the drafts")).toBeDefined();
    expect(modalDialog()).toBeNull();
  });

  it("reports a recovery when the children render after Try again", async () => {
    const failure = networkError();
    const { fault, child } = breakable(failure);
    const reporter = recorder();
    renderBoundary({ reporters: [reporter] }, child);
    await settle();

    fault.mended = true;
    await act(async () => tryAgainButton().click());

    expect(reporter.events.map((event) => event.type)).toEqual([
      "failure",
      "modal.shown",
      "recovered",
    ]);
  });

  it("shows the modal again, reporting no recovery, when Try again fails again", async () => {
    const { child } = breakable(networkError());
    const reporter = recorder();
    renderBoundary({ reporters: [reporter] }, child);
    await settle();

    await act(async () => tryAgainButton().click());

    expect(modalDialog()).not.toBeNull();
    expect(reporter.events.map((event) => event.type)).toEqual([
      "failure",
      "modal.shown",
      "modal.shown",
    ]);
  });

  it("reports the failure and the modal once each under StrictMode", async () => {
    const { child } = breakable(networkError());
    const reporter = recorder();

    renderBoundary({ reporters: [reporter] }, child, true);
    await settle();

    expect(reporter.events.map((event) => event.type)).toEqual(["failure", "modal.shown"]);
  });

  it("reports a HiccupError no client raised as one failure event", () => {
    const failure = networkError();
    const { child } = breakable(failure);
    const reporter = recorder();

    renderBoundary({ fallback: "failed", reporters: [reporter] }, child);

    expect(reporter.events).toEqual([{ type: "failure", error: failure }]);
  });

  it("does not report a HiccupError a client raised and reported", () => {
    const failure = networkError();
    const client = recorder();
    // What a client does to every failure it raises, once it reported it.
    failure.tryAgain = async () => {};
    bindReporters(failure, [client]);
    const { child } = breakable(failure);
    const reporter = recorder();

    renderBoundary({ fallback: "failed", reporters: [reporter] }, child);

    expect(reporter.events).toEqual([]);
    expect(client.events).toEqual([]);
  });

  it("reports a HiccupError once however often it is caught", () => {
    const { child } = breakable(networkError());
    const reporter = recorder();
    renderBoundary({ FallbackComponent: ResetButton, reporters: [reporter] }, child);

    fireEvent.click(screen.getByText("reset"));

    expect(screen.getByText("reset")).toBeDefined();
    expect(reporter.events).toHaveLength(1);
  });

  it("reports the failure to the reporters bound to the error too", () => {
    const failure = networkError();
    const bound = recorder();
    bindReporters(failure, [bound]);
    const { child } = breakable(failure);

    renderBoundary({ fallback: "failed" }, child);

    expect(bound.events).toEqual([{ type: "failure", error: failure }]);
  });

  it("reports nothing for a value that is not a HiccupError", () => {
    const { child } = breakable(new Error("render failed"));
    const reporter = recorder();

    renderBoundary({ fallback: "failed", reporters: [reporter] }, child);

    expect(reporter.events).toEqual([]);
  });
});
