/**
 * When each connected player was last heard from, written behind: every
 * frame (a heartbeat or any message) moves a player's time on in memory,
 * and the players heard since the last write are written together, in one
 * commit, at most once every `flushMs`. A crash loses at most that much:
 * the stored time of a player that stays connected is never more than
 * `flushMs` (and one commit) behind the last frame it sent.
 *
 * @module
 */

import type { Clock, TimerHandle } from "./clock.ts";

/** What {@linkcode LastSeen} needs. */
export interface LastSeenDeps {
  clock: Clock;
  /** Records, in the open batch, that `player` was last seen at `at`. */
  touch: (player: string, at: number) => void;
  /** Time between writes at least (ms). */
  flushMs: number;
}

/** Players' last-heard times, batched into one write per interval. */
export class LastSeen {
  readonly #d: LastSeenDeps;
  /** Players heard since the last write, with when they were last heard. */
  readonly #pending = new Map<string, number>();
  #timer: TimerHandle | null = null;
  #stopped = false;

  constructor(deps: LastSeenDeps) {
    this.#d = deps;
  }

  /** `player` was heard from at `at`; written with the next batch. */
  heard(player: string, at: number): void {
    this.#pending.set(player, at);
    if (this.#timer === null && !this.#stopped) {
      this.#timer = this.#d.clock.setTimeout(() => {
        this.#timer = null;
        this.flush();
      }, this.#d.flushMs);
    }
  }

  /** Drops what is pending for `player` (its disconnection is written instead). */
  forget(player: string): void {
    this.#pending.delete(player);
  }

  /** Players heard and not yet written. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Writes every pending time now, in one batch; returns how many. */
  flush(): number {
    const n = this.#pending.size;
    for (const [player, at] of this.#pending) this.#d.touch(player, at);
    this.#pending.clear();
    return n;
  }

  /** No more timed writes (the conductor is stopping); {@linkcode flush} still writes. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.#d.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }
}
