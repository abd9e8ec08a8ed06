/**
 * Capped exponential backoff with full jitter: after the n-th failure in a
 * row, wait a random time up to min(cap, base · 2ⁿ). Many players that lost
 * the same conductor at once spread out instead of returning together.
 *
 * @module
 */

/** Delays between reconnection attempts. */
export class Backoff {
  #failures = 0;
  #pinned = false;

  constructor(
    readonly baseMs: number,
    readonly capMs: number,
    readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    if (this.#pinned) {
      this.#pinned = false;
      return Math.round(this.capMs * (0.5 + this.random() / 2));
    }
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    return Math.max(50, Math.round(ceiling * this.random()));
  }

  /** Waits the longest for the next attempt (after a refusal that retrying soon will not fix). */
  max(): void {
    this.#pinned = true;
    this.#failures = 30;
  }

  /** A connection worked: start again from the base. */
  reset(): void {
    this.#failures = 0;
    this.#pinned = false;
  }
}
