/**
 * One clock timer for many due times: job deadlines, retry waits and lost
 * players wait in a heap, and a single timer is armed for the earliest.
 * Entries are not cancelled: each callback checks that what it was for
 * still holds.
 *
 * @module
 */

import type { Clock, TimerHandle } from "./clock.ts";
import { Heap } from "./heap.ts";

interface Due {
  at: number;
  n: number;
  fn: () => void;
}

/** Callbacks at due times, in order. */
export class Timers {
  readonly #clock: Clock;
  readonly #heap = new Heap<Due>((a, b) => a.at < b.at || (a.at === b.at && a.n < b.n));
  readonly #onError: (err: unknown) => void;
  #n = 0;
  #armed: { at: number; handle: TimerHandle } | null = null;
  #stopped = false;

  constructor(clock: Clock, onError: (err: unknown) => void) {
    this.#clock = clock;
    this.#onError = onError;
  }

  /** Runs `fn` at epoch ms `at` (at once, on the next run, when it is past). */
  at(at: number, fn: () => void): void {
    if (this.#stopped) return;
    this.#heap.push({ at, n: this.#n++, fn });
    this.#arm();
  }

  #arm(): void {
    const top = this.#heap.peek();
    if (!top || this.#stopped) return;
    if (this.#armed && this.#armed.at <= top.at) return;
    if (this.#armed) this.#clock.clearTimeout(this.#armed.handle);
    const handle = this.#clock.setTimeout(
      () => this.#run(),
      Math.max(0, top.at - this.#clock.now()),
    );
    this.#armed = { at: top.at, handle };
  }

  #run(): void {
    this.#armed = null;
    const now = this.#clock.now();
    for (;;) {
      const top = this.#heap.peek();
      if (!top || top.at > now || this.#stopped) break;
      this.#heap.pop();
      try {
        top.fn();
      } catch (err) {
        this.#onError(err);
      }
    }
    this.#arm();
  }

  /** Stops: nothing more runs. */
  stop(): void {
    this.#stopped = true;
    if (this.#armed) this.#clock.clearTimeout(this.#armed.handle);
    this.#armed = null;
    this.#heap.clear();
  }
}
