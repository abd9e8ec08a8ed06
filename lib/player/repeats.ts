/**
 * Lines a player would log again and again while a conductor stays out of
 * reach for the same reason (a certificate that does not hold the name
 * dialled, a refusal): each is shown once, its repeats are counted and go to
 * debug, and a reminder with the count is shown at most once per
 * {@linkcode REMINDER_MS}.
 *
 * @module
 */

/** How often a line that keeps repeating is shown again, with how many times it repeated. */
export const REMINDER_MS = 10 * 60_000;

/** What to do with a line: show it (at its level), or not; and how often it came since last shown. */
export interface RepeatVerdict {
  show: boolean;
  /** Times the line came, not shown, since it was last shown. */
  repeats: number;
}

interface Seen {
  line: string;
  shownAt: number;
  repeats: number;
}

/** The last line of each key (a conductor's address), at most `maxKeys` keys, the oldest forgotten. */
export class RepeatFilter {
  readonly #seen = new Map<string, Seen>();

  constructor(
    readonly maxKeys: number,
    readonly reminderMs: number = REMINDER_MS,
    readonly now: () => number = () => performance.now(),
  ) {}

  /** Notes that `line` is about to be logged for `key`; says whether to show it. */
  note(key: string, line: string): RepeatVerdict {
    const now = this.now();
    const seen = this.#seen.get(key);
    this.#seen.delete(key);
    if (seen && seen.line === line && now - seen.shownAt < this.reminderMs) {
      seen.repeats++;
      this.#seen.set(key, seen);
      return { show: false, repeats: seen.repeats };
    }
    const repeats = seen && seen.line === line ? seen.repeats : 0;
    this.#seen.set(key, { line, shownAt: now, repeats: 0 });
    // Refusals may name any address: the oldest are forgotten beyond a bound.
    for (const old of this.#seen.keys()) {
      if (this.#seen.size <= this.maxKeys) break;
      this.#seen.delete(old);
    }
    return { show: true, repeats };
  }

  /** Forgets every line (a conductor welcomed the player: what comes next is news). */
  clear(): void {
    this.#seen.clear();
  }
}
