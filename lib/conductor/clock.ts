/**
 * The conductor's time seam. Everything in the conductor that reads the
 * time or waits for it goes through a {@linkcode Clock}, so that tests can
 * drive deadlines, retry waits and lost players without waiting.
 *
 * @module
 */

/** A handle for a pending {@linkcode Clock.setTimeout}. */
export type TimerHandle = { readonly id: number } | ReturnType<typeof setTimeout>;

/** Time, and waiting for it. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a pending timer; a timer that ran or was cancelled is ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(Math.max(0, ms), 2_147_483_647)),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
