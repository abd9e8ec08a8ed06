/**
 * The simulated players of a bench run, together: connecting them all
 * with a bounded number of handshakes in flight, reconnecting one that
 * drops, and the counts the figures are made of — results acknowledged
 * (in all and per job), drops, and tasks assigned twice.
 *
 * @module
 */

import { errorMessage, OrchError } from "../errors.ts";
import type { Assign } from "../protocol/mod.ts";
import type { Deployment } from "./deployment.ts";
import { SimPlayer } from "./sim_player.ts";

/** TCP + TLS handshakes (and hellos) in flight at once, so the conductor's listen backlog holds. */
export const CONNECT_CONCURRENCY = 200;
/** Attempts to connect one player before the bench gives up. */
const CONNECT_ATTEMPTS = 5;
/** A wait fails when nothing (no welcome, no acknowledged result) happened for this long. */
export const STALL_MS = 120_000;
/** Drop reasons kept for the report. */
const MAX_REASONS = 5;

/** Where the players connect, and how they present themselves. */
export interface FleetTarget {
  port: number;
  slots: number;
  heartbeatMs: number;
}

/** Every simulated player, and what they saw. */
export class Fleet {
  readonly players: SimPlayer[];
  /** Results acknowledged, in all. */
  acks = 0;
  /** Connections that ended without the bench closing them. */
  dropped = 0;
  /** Assignments of a task id some simulated player had been given before. */
  twice = 0;
  /** performance.now() of the latest acknowledgement. */
  lastAckAt = 0;
  /** Why connections dropped (the first few distinct reasons). */
  readonly dropReasons: string[] = [];
  readonly #seen = new Set<number>();
  readonly #jobOf = new Map<number, number>();
  readonly #jobAcks = new Map<number, number>();
  /** Pending {@linkcode until} waits: checked on progress, failed by {@linkcode stop}. */
  readonly #waits = new Set<{ check: () => void; fail: (err: Error) => void }>();
  #lastProgress = performance.now();
  #target: FleetTarget | null = null;
  #live = false;
  readonly #reconnects = new Set<ReturnType<typeof setTimeout>>();
  /** Called with the time of the next assignment, once; see {@linkcode onNextAssign}. */
  #nextAssign: ((at: number) => void) | null = null;

  constructor(deployment: Deployment) {
    const events = {
      onAssign: (_p: SimPlayer, a: Assign) => this.#onAssign(a),
      onAck: (_p: SimPlayer, taskId: number) => this.#onAck(taskId),
      onDrop: (p: SimPlayer, reason: string) => this.#onDrop(p, reason),
    };
    this.players = deployment.names.map((name, i) =>
      new SimPlayer(name, deployment.material(i), events)
    );
  }

  /** Results sent by any player and not yet acknowledged. */
  get unacknowledged(): number {
    let n = 0;
    for (const p of this.players) n += p.unacknowledged;
    return n;
  }

  /** Time since the last welcome or acknowledged result, or since `since` when that is later. */
  quietMs(since: number): number {
    return performance.now() - Math.max(this.#lastProgress, since);
  }

  /** Results acknowledged so far for tasks of job `jobId`. */
  jobAcks(jobId: number): number {
    return this.#jobAcks.get(jobId) ?? 0;
  }

  /** Stops counting job `jobId` (its tasks are done). */
  forgetJob(jobId: number): void {
    this.#jobAcks.delete(jobId);
  }

  /** Calls `fn` with the time of the next assignment any player receives. */
  onNextAssign(fn: (at: number) => void): void {
    this.#nextAssign = fn;
  }

  /**
   * Connects every player to `target`, at most {@linkcode CONNECT_CONCURRENCY}
   * at once; resolves once all are welcomed. `onCount` hears how many are.
   * A player that cannot connect after a few attempts fails the whole.
   */
  async connectAll(target: FleetTarget, onCount: (welcomed: number) => void): Promise<void> {
    this.#target = target;
    this.#live = true;
    let next = 0;
    let welcomed = 0;
    const worker = async () => {
      while (next < this.players.length && this.#live) {
        const p = this.players[next++];
        await this.#connectOne(p, target);
        onCount(++welcomed);
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(CONNECT_CONCURRENCY, this.players.length) }, worker),
    );
  }

  async #connectOne(p: SimPlayer, target: FleetTarget): Promise<void> {
    for (let attempt = 1;; attempt++) {
      try {
        await p.connect(target);
        this.#progress();
        return;
      } catch (err) {
        if (attempt >= CONNECT_ATTEMPTS || !this.#live) {
          throw new OrchError(
            "unavailable",
            `simulated player ${p.name} could not connect (${attempt} attempts): ${
              errorMessage(err)
            }`,
          );
        }
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  /** Disconnects every player on purpose; none reconnects until the next {@linkcode connectAll}. */
  closeAll(): void {
    this.#live = false;
    for (const t of this.#reconnects) clearTimeout(t);
    this.#reconnects.clear();
    for (const p of this.players) p.close();
  }

  /**
   * Resolves once `done()` holds; it is checked after every welcome and
   * acknowledged result. Rejects when nothing happened for {@linkcode STALL_MS},
   * naming `what` was awaited.
   */
  until(done: () => boolean, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    const since = performance.now();
    return new Promise((resolve, reject) => {
      const wait = {
        check: () => {
          if (!done()) return;
          finish();
          resolve();
        },
        fail: (err: Error) => {
          finish();
          reject(err);
        },
      };
      const finish = () => {
        clearInterval(timer);
        this.#waits.delete(wait);
      };
      const timer = setInterval(() => {
        wait.check();
        const quiet = this.quietMs(since);
        if (this.#waits.has(wait) && quiet > STALL_MS) {
          wait.fail(
            new OrchError(
              "timeout",
              `waiting for ${what}: nothing happened for ${Math.round(quiet / 1000)}s`,
            ),
          );
        }
      }, 1000);
      this.#waits.add(wait);
    });
  }

  /** Disconnects every player for good and fails every pending {@linkcode until}. */
  stop(): void {
    this.closeAll();
    for (const w of [...this.#waits]) w.fail(new OrchError("unavailable", "the bench is stopping"));
  }

  #progress(): void {
    this.#lastProgress = performance.now();
    for (const w of [...this.#waits]) w.check();
  }

  #onAssign(a: Assign): void {
    const now = performance.now();
    if (this.#nextAssign) {
      const fn = this.#nextAssign;
      this.#nextAssign = null;
      fn(now);
    }
    if (this.#seen.has(a.task_id)) this.twice++;
    else this.#seen.add(a.task_id);
    this.#jobOf.set(a.task_id, a.job_id);
  }

  #onAck(taskId: number): void {
    this.acks++;
    this.lastAckAt = performance.now();
    const job = this.#jobOf.get(taskId);
    if (job !== undefined) {
      this.#jobOf.delete(taskId);
      this.#jobAcks.set(job, (this.#jobAcks.get(job) ?? 0) + 1);
    }
    this.#progress();
  }

  #onDrop(p: SimPlayer, reason: string): void {
    this.dropped++;
    if (this.dropReasons.length < MAX_REASONS && !this.dropReasons.includes(reason)) {
      this.dropReasons.push(reason.slice(0, 200));
    }
    if (!this.#live || !this.#target) return;
    // Back like a real player, after a short random wait, with its unacknowledged results.
    const target = this.#target;
    const retry = (attempt: number) => {
      const t = setTimeout(() => {
        this.#reconnects.delete(t);
        if (!this.#live) return;
        p.connect(target).then(
          () => this.#progress(),
          () => retry(Math.min(attempt + 1, 10)),
        );
      }, 250 + Math.random() * 250 * attempt);
      this.#reconnects.add(t);
    };
    retry(1);
  }
}
