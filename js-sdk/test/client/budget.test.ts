import { beforeEach, describe, expect, test } from "vitest";
import {
  type BreakerOptions,
  type BudgetOptions,
  OriginState,
  originState,
  resetOrigins,
} from "../../src/budget.js";

const ORIGIN = "https://api.example";

beforeEach(() => {
  resetOrigins();
});

// A state on a clock the test moves by hand, with no refill unless asked.
function stateAt(budget: BudgetOptions = {}, breaker: BreakerOptions = {}) {
  const clock = { now: 1_000_000 };
  const state = new OriginState(
    { capacity: 10, refillPerSecond: 0, refillPerSuccess: 0, ...budget },
    { threshold: 5, cooldownMs: 30_000, ...breaker },
    () => clock.now,
  );

  return { state, clock };
}

function takeAll(state: OriginState): number {
  let taken = 0;
  while (state.take()) {
    taken++;
  }

  return taken;
}

describe("the retry budget", () => {
  test("starts full and gives one token per take until empty", () => {
    const { state } = stateAt({ capacity: 3 });

    expect([state.take(), state.take(), state.take(), state.take()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });

  test("earns refillPerSecond tokens back as time passes", () => {
    const { state, clock } = stateAt({ capacity: 3, refillPerSecond: 0.5 });
    takeAll(state);

    clock.now += 4_000;

    expect(takeAll(state)).toBe(2);
  });

  test("earns no whole token back before its time", () => {
    const { state, clock } = stateAt({ capacity: 3, refillPerSecond: 0.5 });
    takeAll(state);

    clock.now += 1_999;

    expect(state.take()).toBe(false);
  });

  test("never refills past its capacity however long it waits", () => {
    const { state, clock } = stateAt({ capacity: 3, refillPerSecond: 0.5 });
    takeAll(state);

    clock.now += 3_600_000;

    expect(takeAll(state)).toBe(3);
  });

  test("earns refillPerSuccess back with each success", () => {
    const { state } = stateAt({ capacity: 3, refillPerSuccess: 0.5 });
    takeAll(state);

    state.succeeded();
    state.succeeded();

    expect(takeAll(state)).toBe(1);
  });

  test("never refills past its capacity however many successes", () => {
    const { state } = stateAt({ capacity: 3, refillPerSuccess: 1 });

    for (let success = 0; success < 10; success++) {
      state.succeeded();
    }

    expect(takeAll(state)).toBe(3);
  });
});

describe("the breaker", () => {
  test("stays closed below the threshold of failures in a row", () => {
    const { state } = stateAt({}, { threshold: 3 });

    state.failed(undefined, false);
    state.failed(undefined, false);

    expect(state.isOpen()).toBe(false);
  });

  test("opens at the threshold of failures in a row", () => {
    const { state } = stateAt({}, { threshold: 3 });

    state.failed(undefined, false);
    state.failed(undefined, false);
    state.failed(undefined, false);

    expect(state.isOpen()).toBe(true);
  });

  test("counts failures again from zero after a success", () => {
    const { state } = stateAt({}, { threshold: 3 });

    state.failed(undefined, false);
    state.failed(undefined, false);
    state.succeeded();
    state.failed(undefined, false);
    state.failed(undefined, false);

    expect(state.isOpen()).toBe(false);
  });

  test("closes on a success while open", () => {
    const { state } = stateAt({}, { threshold: 1 });
    state.failed(undefined, false);

    state.succeeded();

    expect(state.isOpen()).toBe(false);
  });

  test("closes when its cooldown has passed", () => {
    const { state, clock } = stateAt({}, { threshold: 1, cooldownMs: 30_000 });
    state.failed(undefined, false);

    clock.now += 29_999;
    const before = state.isOpen();
    clock.now += 1;

    expect([before, state.isOpen()]).toEqual([true, false]);
  });

  test("opens again at the first failure after its cooldown", () => {
    const { state, clock } = stateAt({}, { threshold: 3, cooldownMs: 30_000 });
    state.failed(undefined, false);
    state.failed(undefined, false);
    state.failed(undefined, false);
    clock.now += 30_000;

    state.failed(undefined, false);

    expect(state.isOpen()).toBe(true);
  });

  test("opens for as long as a server asks when that wait is a long one", () => {
    const { state, clock } = stateAt();

    state.failed(60_000, true);
    clock.now += 59_999;
    const before = state.isOpen();
    clock.now += 1;

    expect([before, state.isOpen()]).toEqual([true, false]);
  });

  test("stays closed for a server's wait that is not a long one", () => {
    const { state } = stateAt();

    state.failed(60_000, false);

    expect(state.isOpen()).toBe(false);
  });

  test("keeps the longer of a server's wait and its cooldown", () => {
    const { state, clock } = stateAt({}, { threshold: 1, cooldownMs: 30_000 });

    state.failed(60_000, true);
    clock.now += 45_000;

    expect(state.isOpen()).toBe(true);
  });
});

describe("originState", () => {
  test("returns the same state for every caller of one origin", () => {
    expect(originState(ORIGIN)).toBe(originState(ORIGIN));
  });

  test("returns a separate state for another origin", () => {
    expect(originState(ORIGIN)).not.toBe(originState("https://other.example"));
  });

  test("keeps the options of its first caller", () => {
    originState(ORIGIN, { capacity: 1, refillPerSecond: 0 });

    const later = originState(ORIGIN, { capacity: 5 });

    expect(takeAll(later)).toBe(1);
  });

  test("shares one bucket, so one caller's retries drain the other's", () => {
    const first = originState(ORIGIN, { capacity: 2, refillPerSecond: 0 });
    const second = originState(ORIGIN);

    first.take();
    first.take();

    expect(second.take()).toBe(false);
  });

  test("starts over with a full bucket after resetOrigins", () => {
    const before = originState(ORIGIN, { capacity: 2, refillPerSecond: 0 });
    takeAll(before);

    resetOrigins();
    const after = originState(ORIGIN, { capacity: 2, refillPerSecond: 0 });

    expect(after).not.toBe(before);
    expect(takeAll(after)).toBe(2);
  });
});
