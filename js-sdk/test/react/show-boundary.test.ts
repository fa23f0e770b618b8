// @vitest-environment happy-dom

import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { createElement } from "react";
import { afterEach, describe, expect, it } from "vitest";

import { type FallbackProps, HiccupBoundary } from "../../src/react/boundary.js";
import { useShowBoundary } from "../../src/react/show-boundary.js";

const failure = new Error("saving the draft failed");

function SaveButton() {
  const showBoundary = useShowBoundary();
  const onClick = () => showBoundary(failure);

  return createElement("button", { type: "button", onClick }, "save");
}

function Caught({ error }: FallbackProps) {
  return createElement("p", null, error === failure ? "caught the failure" : "caught another");
}

// Vitest has no global afterEach here, so the library cannot clean up alone.
afterEach(cleanup);

describe("useShowBoundary", () => {
  it("hands a failure from an event handler to the nearest boundary", () => {
    render(
      createElement(HiccupBoundary, { FallbackComponent: Caught }, createElement(SaveButton)),
      {
        onCaughtError: () => {},
      },
    );

    fireEvent.click(screen.getByText("save"));

    expect(screen.getByText("caught the failure")).toBeDefined();
  });
});
