/**
 * Group commit: many small writes share one transaction and one fsync.
 *
 * A write runs at once, inside the open transaction (in a savepoint of its
 * own, so a write that throws undoes only itself), and its promise settles
 * once the transaction holding it is committed. The transaction commits
 * once the I/O events at hand are handled, or sooner when it grows large.
 * Whatever must wait for durability — answering a submit, acknowledging a
 * result, sending an assignment — waits for that promise.
 *
 * @module
 */

import { clearImmediate, setImmediate } from "node:timers";
import type { Database } from "./db.ts";

/** Writes grouped per commit at most. */
const MAX_GROUP = 2000;

/** Batches writes to `db` into shared transactions. */
export class GroupCommit {
  readonly #db: Database;
  readonly #onFatal: (err: unknown) => void;
  #open = false;
  #count = 0;
  #waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  #timer: ReturnType<typeof setImmediate> | undefined;
  #closed = false;
  /** Commits made, for tests and metrics. */
  commits = 0;

  /**
   * @param onFatal called when a commit fails; the caller's in-memory state
   *   may then be ahead of the disk, so it should stop.
   */
  constructor(db: Database, onFatal: (err: unknown) => void) {
    this.#db = db;
    this.#onFatal = onFatal;
  }

  /**
   * Runs `fn` now inside the open transaction and returns its value with a
   * promise that resolves once it is committed. Throws what `fn` throws,
   * with `fn`'s writes undone.
   */
  write<T>(fn: () => T): { value: T; durable: Promise<void> } {
    if (this.#closed) throw new Error("the store is closed");
    if (!this.#open) {
      this.#db.exec("BEGIN IMMEDIATE");
      this.#open = true;
      // setImmediate runs after the I/O already at hand (so its writes join this group),
      // and costs microseconds where setTimeout(0) costs milliseconds.
      this.#timer = setImmediate(() => this.flush());
    }
    this.#db.exec("SAVEPOINT w");
    let value: T;
    try {
      value = fn();
      this.#db.exec("RELEASE w");
    } catch (err) {
      this.#db.exec("ROLLBACK TO w");
      this.#db.exec("RELEASE w");
      throw err;
    }
    const durable = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    // A failed commit is reported through onFatal; a caller that did not wait must not crash on it.
    durable.catch(() => {});
    if (++this.#count >= MAX_GROUP) this.flush();
    return { value, durable };
  }

  /**
   * Runs `fn` once the transaction open now is committed, or at once when
   * none is open. `fn` does not run when the commit fails.
   */
  afterCommit(fn: () => void): void {
    if (!this.#open) {
      fn();
      return;
    }
    this.#waiters.push({ resolve: fn, reject: () => {} });
  }

  /** Commits the open transaction now, if there is one. */
  flush(): void {
    if (!this.#open) return;
    if (this.#timer !== undefined) clearImmediate(this.#timer);
    const waiters = this.#waiters;
    this.#waiters = [];
    this.#open = false;
    this.#count = 0;
    try {
      this.#db.exec("COMMIT");
      this.commits++;
    } catch (err) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // Nothing more can be done here; onFatal decides.
      }
      for (const w of waiters) w.reject(err);
      this.#onFatal(err);
      return;
    }
    for (const w of waiters) w.resolve();
  }

  /** Commits what is open and refuses further writes. */
  close(): void {
    this.flush();
    this.#closed = true;
  }
}
