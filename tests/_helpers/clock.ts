/**
 * A clock that tests drive: time stands still until {@linkcode ManualClock.advance}.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../../lib/conductor/mod.ts";

interface Pending {
  id: number;
  at: number;
  fn: () => void;
}

/** A {@linkcode Clock} whose time moves only when told. */
export class ManualClock implements Clock {
  #now: number;
  #n = 0;
  #pending: Pending[] = [];

  constructor(start = Date.UTC(2026, 10, 22, 12, 0, 0)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.#n;
    this.#pending.push({ id, at: this.#now + Math.max(0, ms), fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    const id = (handle as { id: number }).id;
    this.#pending = this.#pending.filter((p) => p.id !== id);
  }

  /** Moves time on by `ms`, running every timer that comes due, in order. */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      this.#pending.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.#pending[0];
      if (!next || next.at > until) break;
      this.#pending.shift();
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = until;
  }
}
