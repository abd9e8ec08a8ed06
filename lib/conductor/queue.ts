/**
 * The conductor's in-memory view of every task that is not final, indexed
 * for scheduling: queued all-of tasks per target, queued one-of tasks in
 * queue order, and what each player holds. The database is the truth; this
 * is rebuilt from it at start and changed in step with every write.
 *
 * @module
 */

import type { OpenTask } from "../store/mod.ts";

/** A task that is not final, as the scheduler keeps it. */
export interface TaskRec extends Omit<OpenTask, "targets"> {
  /** All-of: `[host]`; one-of: the job's targets in the order given. */
  candidates: string[];
}

/** A list of tasks kept in ascending `seq` order. */
class SeqList {
  items: TaskRec[] = [];

  insert(t: TaskRec): void {
    const a = this.items;
    if (a.length === 0 || a[a.length - 1].seq < t.seq) {
      a.push(t);
      return;
    }
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid].seq < t.seq) lo = mid + 1;
      else hi = mid;
    }
    a.splice(lo, 0, t);
  }

  remove(t: TaskRec): void {
    const i = this.items.indexOf(t);
    if (i >= 0) this.items.splice(i, 1);
  }
}

/** Every open task, indexed for the scheduler. */
export class Queue {
  readonly #tasks = new Map<number, TaskRec>();
  readonly #queuedFor = new Map<string, SeqList>();
  readonly #oneOf = new SeqList();
  readonly #held = new Map<string, Set<TaskRec>>();
  readonly #byJob = new Map<number, Set<TaskRec>>();
  #low = 0;
  #high = 0;

  /** Builds the queue from the database's open tasks. */
  load(tasks: OpenTask[], seqRange: { low: number; high: number }): void {
    this.#low = seqRange.low;
    this.#high = seqRange.high;
    for (const { targets, ...t } of tasks) {
      this.add({ ...t, candidates: t.scope === "all" ? [t.host!] : targets });
    }
  }

  /** The next `n` queue positions at the tail. */
  takeTailSeqs(n: number): number {
    const first = this.#high + 1;
    this.#high += n;
    return first;
  }

  /** A queue position ahead of every other. */
  takeHeadSeq(): number {
    return --this.#low;
  }

  /** Adds an open task. */
  add(t: TaskRec): void {
    this.#tasks.set(t.id, t);
    let job = this.#byJob.get(t.jobId);
    if (!job) this.#byJob.set(t.jobId, job = new Set());
    job.add(t);
    this.#index(t);
  }

  #index(t: TaskRec): void {
    if (t.state === "queued") {
      if (t.scope === "one") this.#oneOf.insert(t);
      else this.#listFor(t.host!).insert(t);
    } else {
      let held = this.#held.get(t.host!);
      if (!held) this.#held.set(t.host!, held = new Set());
      held.add(t);
    }
  }

  #unindex(t: TaskRec): void {
    if (t.state === "queued") {
      if (t.scope === "one") this.#oneOf.remove(t);
      else this.#queuedFor.get(t.host!)?.remove(t);
    } else {
      this.#held.get(t.host!)?.delete(t);
    }
  }

  #listFor(host: string): SeqList {
    let list = this.#queuedFor.get(host);
    if (!list) this.#queuedFor.set(host, list = new SeqList());
    return list;
  }

  /** An open task by id. */
  get(id: number): TaskRec | undefined {
    return this.#tasks.get(id);
  }

  /** Moves a queued task to `player` as attempt `attempt`. */
  assign(t: TaskRec, player: string, attempt: number): void {
    this.#unindex(t);
    t.state = "assigned";
    t.host = player;
    t.attempt = attempt;
    this.#index(t);
  }

  /** Marks an assigned task as running. */
  start(t: TaskRec): void {
    t.state = "running";
  }

  /** Puts a task back in the queue at `seq`. */
  requeue(t: TaskRec, seq: number): void {
    this.#unindex(t);
    t.state = "queued";
    t.seq = seq;
    if (t.scope === "one") t.host = null;
    this.#index(t);
  }

  /** Removes a task that became final; returns how many tasks of its job are still open. */
  close(t: TaskRec): number {
    this.#unindex(t);
    this.#tasks.delete(t.id);
    const job = this.#byJob.get(t.jobId);
    job?.delete(t);
    if (job?.size === 0) this.#byJob.delete(t.jobId);
    return job?.size ?? 0;
  }

  /** The open tasks of job `jobId`. */
  ofJob(jobId: number): TaskRec[] {
    return [...(this.#byJob.get(jobId) ?? [])];
  }

  /** Tasks assigned to or running on `player`. */
  heldBy(player: string): TaskRec[] {
    return [...(this.#held.get(player) ?? [])];
  }

  /** How many tasks `player` holds. */
  heldCount(player: string): number {
    return this.#held.get(player)?.size ?? 0;
  }

  /** The first queued all-of task for `player` that may be placed at `now`. */
  headFor(player: string, now: number): TaskRec | undefined {
    for (const t of this.#queuedFor.get(player)?.items ?? []) {
      if (t.notBefore === null || t.notBefore <= now) return t;
    }
    return undefined;
  }

  /** Queued all-of tasks for `player`, in order. */
  queuedFor(player: string): TaskRec[] {
    return [...(this.#queuedFor.get(player)?.items ?? [])];
  }

  /** Queued one-of tasks, in order. */
  queuedOneOf(): readonly TaskRec[] {
    return this.#oneOf.items;
  }

  /** Every open task. */
  all(): IterableIterator<TaskRec> {
    return this.#tasks.values();
  }

  /** Number of open tasks. */
  get size(): number {
    return this.#tasks.size;
  }
}
