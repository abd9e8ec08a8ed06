/**
 * Capped exponential backoff with full jitter: after the n-th failure in a
 * row, wait a random time up to min(cap, base · 2ⁿ). Many players that lost
 * the same conductor at once spread out instead of returning together.
 *
 * Two caps: when no conductor was there at all (nothing listened, the host
 * or the network was unreachable), a retry costs the conductor nothing, and
 * the wait is capped at {@linkcode DOWN_CAP_MS}, so that a player comes back
 * within a few seconds of its conductor, however long it was away; when a
 * conductor took the connection and refused it (a TLS or hello refusal), a
 * retry costs it a handshake and will not help soon, and the wait grows to
 * the full cap (`reconnect_max`). A standby's "not the leader" is not such a
 * refusal: it will lead soon; the player's loop takes the ceiling the
 * standby gives (`retry_ms`), or counts it as "down" when it gives none.
 *
 * @module
 */

/**
 * The longest wait while the conductor is down: the most a player waits
 * after its conductor is back. 10,000 players waiting up to 5 s dial a dead
 * port 4,000 times a second (refused by the kernel, nothing for anyone to
 * do), and come back to a restarted conductor at about 2,000 a second,
 * half of what one conductor admits.
 */
export const DOWN_CAP_MS = 5_000;

/** Delays between reconnection attempts. */
export class Backoff {
  #failures = 0;
  #pinned = false;

  constructor(
    readonly baseMs: number,
    readonly capMs: number,
    readonly random: () => number = Math.random,
    readonly downCapMs: number = DOWN_CAP_MS,
  ) {}

  /**
   * The delay before the next attempt; each call counts one more failure.
   * `down`: the conductor was not there at all (see the module's note);
   * `cap`: another ceiling than {@linkcode Backoff.capFor} gives (a
   * standby's), never above `reconnect_max`.
   */
  next(down = false, cap: number = this.capFor(down)): number {
    cap = Math.min(cap, this.capMs);
    if (this.#pinned) {
      this.#pinned = false;
      return Math.round(cap * (0.5 + this.random() / 2));
    }
    const ceiling = Math.min(cap, this.baseMs * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    return Math.max(50, Math.round(ceiling * this.random()));
  }

  /** The longest delay {@linkcode Backoff.next} gives with that `down`. */
  capFor(down: boolean): number {
    return down ? Math.min(this.capMs, this.downCapMs) : this.capMs;
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
