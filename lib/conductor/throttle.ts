/**
 * Log lines about events that may come by the thousand (refused
 * connections, accept failures): the first is written at once, the rest
 * are counted and summed up in one line per interval.
 *
 * @module
 */

import type { LogFields, Logger, LogLevel } from "../log.ts";

/** One kind of frequent event, logged at most once per interval with a count. */
export class ThrottledLog {
  readonly #log: Logger;
  readonly #level: LogLevel;
  readonly #msg: string;
  readonly #intervalMs: number;
  readonly #burst: number;
  #lastAt = -Infinity;
  #written = 0;
  #suppressed = 0;
  #last: LogFields = {};
  #timer: ReturnType<typeof setTimeout> | null = null;

  /** @param burst lines written one by one in each interval before the rest are counted */
  constructor(log: Logger, level: LogLevel, msg: string, intervalMs = 10_000, burst = 1) {
    this.#burst = burst;
    this.#log = log;
    this.#level = level;
    this.#msg = msg;
    this.#intervalMs = intervalMs;
  }

  /** One more event; `fields` describe it (the last ones are shown with the count). */
  note(fields: LogFields = {}): void {
    const now = performance.now();
    if (now - this.#lastAt >= this.#intervalMs) {
      this.#lastAt = now;
      this.#written = 0;
    }
    if (this.#written < this.#burst && this.#suppressed === 0) {
      this.#written++;
      this.#log[this.#level](this.#msg, fields);
      return;
    }
    this.#suppressed++;
    this.#last = fields;
    if (this.#timer === null) {
      this.#timer = setTimeout(() => this.flush(), this.#lastAt + this.#intervalMs - now);
      Deno.unrefTimer(this.#timer);
    }
  }

  /** Writes the count of the events not yet written, if any. */
  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#suppressed === 0) return;
    const n = this.#suppressed;
    this.#suppressed = 0;
    this.#lastAt = performance.now();
    this.#written = this.#burst;
    this.#log[this.#level](this.#msg, { ...this.#last, more: n });
  }
}
