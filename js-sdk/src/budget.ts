import type { OriginGate } from "./retry.js";

/** How many automatic retries the tab may spend on one origin. */
export interface BudgetOptions {
  /** Tokens the bucket holds, and starts with. Each retry takes one. */
  readonly capacity?: number;
  /** Tokens added back per second. */
  readonly refillPerSecond?: number;
  /** Tokens added back by each successful response. */
  readonly refillPerSuccess?: number;
}

/** When the tab stops retrying an origin by itself for a while. */
export interface BreakerOptions {
  /** Retryable failures in a row that open the breaker. */
  readonly threshold?: number;
  /** How long it stays open, unless the server asked for longer. */
  readonly cooldownMs?: number;
}

export const DEFAULT_CAPACITY = 10;
export const DEFAULT_REFILL_PER_SECOND = 0.5;
export const DEFAULT_REFILL_PER_SUCCESS = 0.1;
export const DEFAULT_THRESHOLD = 5;
export const DEFAULT_COOLDOWN_MS = 30_000;

/**
 * What the tab remembers about one origin, shared by every client that
 * calls it: a token bucket of retries and a breaker.
 *
 * A success refills the bucket a little and closes the breaker. The
 * breaker only stops automatic retries: first attempts still go out, and
 * the first one that succeeds closes it again.
 */
export class OriginState implements OriginGate {
  private tokens: number;
  private refilledAt: number;
  private failuresInARow = 0;
  private openUntil = 0;

  constructor(
    private readonly budget: Required<BudgetOptions>,
    private readonly breaker: Required<BreakerOptions>,
    private readonly now: () => number,
  ) {
    this.tokens = budget.capacity;
    this.refilledAt = now();
  }

  /** Tell whether the breaker is open now. */
  isOpen(): boolean {
    return this.now() < this.openUntil;
  }

  /** Take one retry token; return whether there was one. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) {
      return false;
    }
    this.tokens -= 1;

    return true;
  }

  /** Record a successful response from the origin. */
  succeeded(): void {
    this.failuresInARow = 0;
    this.openUntil = 0;
    this.refill();
    this.tokens = Math.min(this.budget.capacity, this.tokens + this.budget.refillPerSuccess);
  }

  /**
   * Record a failure a retry could have fixed.
   *
   * @param waitMs How long the server asked callers to wait: a wait longer
   *   than retries may spend opens the breaker for that long.
   * @param longWait Whether `waitMs` is such a wait.
   */
  failed(waitMs: number | undefined, longWait: boolean): void {
    this.failuresInARow++;
    const now = this.now();
    if (longWait && waitMs !== undefined) {
      this.openUntil = Math.max(this.openUntil, now + waitMs);
    }
    if (this.failuresInARow >= this.breaker.threshold) {
      this.openUntil = Math.max(this.openUntil, now + this.breaker.cooldownMs);
    }
  }

  private refill(): void {
    const now = this.now();
    const earned = ((now - this.refilledAt) / 1000) * this.budget.refillPerSecond;
    this.tokens = Math.min(this.budget.capacity, this.tokens + earned);
    this.refilledAt = now;
  }
}

const origins = new Map<string, OriginState>();

/**
 * Return the tab's state for `origin`, making it on first use with these
 * options. Later clients of the same origin share it, whatever their own
 * options: a budget only limits retries if everyone draws on the same one.
 */
export function originState(
  origin: string,
  budget: BudgetOptions = {},
  breaker: BreakerOptions = {},
  now: () => number = Date.now,
): OriginState {
  let state = origins.get(origin);
  if (state === undefined) {
    state = new OriginState(budgetPolicy(budget), breakerPolicy(breaker), now);
    origins.set(origin, state);
  }

  return state;
}

/** Forget every origin's budget and breaker, as a page load would. */
export function resetOrigins(): void {
  origins.clear();
}

function budgetPolicy(options: BudgetOptions): Required<BudgetOptions> {
  return {
    capacity: options.capacity ?? DEFAULT_CAPACITY,
    refillPerSecond: options.refillPerSecond ?? DEFAULT_REFILL_PER_SECOND,
    refillPerSuccess: options.refillPerSuccess ?? DEFAULT_REFILL_PER_SUCCESS,
  };
}

function breakerPolicy(options: BreakerOptions): Required<BreakerOptions> {
  return {
    threshold: options.threshold ?? DEFAULT_THRESHOLD,
    cooldownMs: options.cooldownMs ?? DEFAULT_COOLDOWN_MS,
  };
}
