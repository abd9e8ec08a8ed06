/**
 * A write's changes as both stores gather them: the write transaction a
 * store hands to `write(fn)` records what `fn` asks for, and the store
 * applies it all in one transaction once `fn` returns.
 *
 * @module
 */

import type {
  AttemptRow,
  JobRecord,
  NewAuditRecord,
  PlayerRecord,
  PruneCount,
  PruneRequest,
  ScheduleRecord,
  TaskRow,
  WriteTx,
} from "./types.ts";

/** A change of a schedule, applied in the order asked for. */
export type ScheduleOp =
  | { op: "add"; schedule: ScheduleRecord }
  | { op: "remove"; name: string }
  | { op: "due"; name: string; lastDue: number };

/**
 * What one write asked for, gathered while its function runs and applied
 * by the store at its end (one transaction): a task saved twice keeps its
 * last image, and so does a player.
 */
export class Changes implements WriteTx {
  conductorId: string | null = null;
  readonly jobs: JobRecord[] = [];
  readonly inserted: TaskRow[] = [];
  /** Task id → its last saved image in this write. */
  readonly saved = new Map<number, TaskRow>();
  readonly attempts: AttemptRow[] = [];
  readonly finished = new Map<number, number>();
  readonly cancelled = new Map<number, number>();
  /** Player name → its last record in this write. */
  readonly players = new Map<string, PlayerRecord>();
  readonly touched = new Map<string, number>();
  readonly drained = new Map<string, number | null>();
  readonly audit: NewAuditRecord[] = [];
  readonly schedules: ScheduleOp[] = [];
  readonly prunes: { req: PruneRequest; done: (count: PruneCount) => void }[] = [];
  open = true;

  #check(): void {
    if (!this.open) throw new Error("a write transaction was used after its write ended");
  }

  setConductorId(id: string): void {
    this.#check();
    this.conductorId = id;
  }

  insertJob(job: JobRecord, tasks: readonly TaskRow[]): void {
    this.#check();
    for (const t of tasks) {
      if (t.jobId !== job.id) {
        throw new TypeError(`task ${t.id} has job id ${t.jobId}, inserted with job ${job.id}`);
      }
    }
    this.jobs.push(job);
    for (const t of tasks) this.inserted.push(t);
  }

  saveTasks(tasks: readonly TaskRow[]): void {
    this.#check();
    for (const t of tasks) {
      this.saved.delete(t.id); // Re-added last: the order of the latest images.
      this.saved.set(t.id, t);
    }
  }

  addAttempts(attempts: readonly AttemptRow[]): void {
    this.#check();
    for (const a of attempts) this.attempts.push(a);
  }

  finishJobs(jobs: readonly { id: number; at: number }[]): void {
    this.#check();
    for (const j of jobs) if (!this.finished.has(j.id)) this.finished.set(j.id, j.at);
  }

  cancelJob(id: number, at: number): void {
    this.#check();
    if (!this.cancelled.has(id)) this.cancelled.set(id, at);
  }

  savePlayers(players: readonly PlayerRecord[]): void {
    this.#check();
    for (const p of players) this.players.set(p.name, p);
  }

  setDrained(name: string, at: number | null): void {
    this.#check();
    this.drained.set(name, at);
  }

  touchPlayers(players: readonly { name: string; at: number }[]): void {
    this.#check();
    for (const p of players) this.touched.set(p.name, p.at);
  }

  addAudit(records: readonly NewAuditRecord[]): void {
    this.#check();
    for (const r of records) this.audit.push(r);
  }

  addSchedule(schedule: ScheduleRecord): void {
    this.#check();
    this.schedules.push({ op: "add", schedule });
  }

  removeSchedule(name: string): void {
    this.#check();
    this.schedules.push({ op: "remove", name });
  }

  markScheduleDue(name: string, lastDue: number): void {
    this.#check();
    this.schedules.push({ op: "due", name, lastDue });
  }

  pruneFinished(req: PruneRequest, done: (count: PruneCount) => void): void {
    this.#check();
    if (!Number.isSafeInteger(req.maxRows) || req.maxRows < 1) {
      throw new RangeError(`a prune's maxRows must be a positive integer, not ${req.maxRows}`);
    }
    if (!Number.isFinite(req.before)) {
      throw new RangeError(`a prune's cutoff must be a time, not ${req.before}`);
    }
    if (req.auditBefore !== null && !Number.isFinite(req.auditBefore)) {
      throw new RangeError(`a prune's audit cutoff must be a time or null, not ${req.auditBefore}`);
    }
    this.prunes.push({ req: { ...req }, done });
  }
}
