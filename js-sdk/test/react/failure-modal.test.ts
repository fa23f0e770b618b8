// @vitest-environment happy-dom

import { act, cleanup, fireEvent, render } from "@testing-library/react";
import { createElement } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { FailureModal, type FailureModalProps } from "../../src/react/failure-modal.js";
import { modalDialog, networkError, recorder, settle, tryAgainButton } from "./helpers.js";

// Render the modal, and let it open.
async function renderModal(props: FailureModalProps, reactStrictMode = false) {
  const rendered = render(createElement(FailureModal, props), { reactStrictMode });
  const rerender = async (next: FailureModalProps) => {
    rendered.rerender(createElement(FailureModal, next));
    await settle();
  };
  await settle();

  return { ...rendered, rerender };
}

// Vitest has no global afterEach here, so the library cannot clean up alone.
afterEach(cleanup);

describe("FailureModal", () => {
  it("renders nothing into the React tree", async () => {
    const { container } = await renderModal({ error: networkError() });

    expect(container.innerHTML).toBe("");
  });

  it("opens the modal while it is mounted", async () => {
    await renderModal({ error: networkError() });

    expect(modalDialog()).not.toBeNull();
  });

  it("puts the modal in the container it is given", async () => {
    const container = document.body.appendChild(document.createElement("section"));

    await renderModal({ error: networkError(), container });

    expect(container.children).toHaveLength(1);
    expect(container.firstElementChild?.shadowRoot?.querySelector('[role="alertdialog"]')).not.toBe(
      null,
    );
    container.remove();
  });

  it("shows a new error in the modal already open", async () => {
    const { rerender } = await renderModal({ error: new Error("a bug in the page") });
    const first = modalDialog();
    const before = first?.textContent;

    await rerender({ error: networkError() });

    expect(modalDialog()).toBe(first);
    expect(modalDialog()?.textContent).not.toBe(before);
  });

  it("closes the modal on unmount", async () => {
    const { unmount } = await renderModal({ error: networkError() });

    unmount();

    expect(modalDialog()).toBeNull();
  });

  it("does not call onClose when it closes the modal on unmount", async () => {
    const onClose = vi.fn();
    const { unmount } = await renderModal({ error: networkError(), onClose });

    unmount();

    expect(onClose).not.toHaveBeenCalled();
  });

  it("calls onClose with the reason the user closed the modal", async () => {
    const onClose = vi.fn();
    await renderModal({ error: networkError(), onClose });

    fireEvent.keyDown(document, { key: "Escape" });

    expect(onClose).toHaveBeenCalledWith("escape");
    expect(modalDialog()).toBeNull();
  });

  it("runs the latest onRetry on Try again", async () => {
    const first = vi.fn(async () => {});
    const latest = vi.fn(async () => {});
    const error = networkError();
    const { rerender } = await renderModal({ error, onRetry: first });

    await rerender({ error, onRetry: latest });
    await act(async () => tryAgainButton().click());

    expect(first).not.toHaveBeenCalled();
    expect(latest).toHaveBeenCalledTimes(1);
  });

  it("runs the error's own tryAgain when no onRetry is given", async () => {
    const error = networkError();
    const tryAgain = vi.fn(async () => {});
    error.tryAgain = tryAgain;
    await renderModal({ error });

    await act(async () => tryAgainButton().click());

    expect(tryAgain).toHaveBeenCalledTimes(1);
  });

  it("opens the modal once for a list of reporters written inline", async () => {
    const reporter = recorder();
    const error = networkError();
    const { rerender } = await renderModal({ error, reporters: [reporter] });

    await rerender({ error, reporters: [reporter] });

    expect(reporter.events.map((event) => event.type)).toEqual(["modal.shown"]);
  });

  it("reports being shown once under StrictMode", async () => {
    const reporter = recorder();

    await renderModal({ error: networkError(), reporters: [reporter] }, true);

    expect(reporter.events.map((event) => event.type)).toEqual(["modal.shown"]);
    expect(modalDialog()).not.toBeNull();
  });

  it("opens the modal again when the locale changes", async () => {
    const reporter = recorder();
    const error = networkError();
    const { rerender } = await renderModal({ error, reporters: [reporter], locale: "en" });

    await rerender({ error, reporters: [reporter], locale: "fr" });

    expect(reporter.events.map((event) => event.type)).toEqual(["modal.shown", "modal.shown"]);
    expect(modalDialog()).not.toBeNull();
  });
});
