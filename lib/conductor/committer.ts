/**
 * Group commit, write-behind: the conductor changes its in-memory state at
 * once and records each change in the open batch; the batch is committed
 * in one store write once the I/O at hand is handled. A batch holds what
 * one turn changed; the work of a turn is bounded where it is made (the
 * scheduler places at most 1,000 tasks a turn). Whatever must wait for durability — answering a submit,
 * sending an assignment, acknowledging a result, publishing an event —
 * waits for the commit of the batch that holds its change.
 *
 * A task changed several times within one batch is written once, as it
 * stands at the end. Batches are committed one at a time, in order.
 *
 * A failed commit is fatal: the in-memory state is then ahead of the disk,
 * so nothing more is committed or acknowledged, and `onFatal` stops the
 * conductor.
 *
 * @module
 */

import { clearImmediate, setImmediate } from "node:timers";
import type {
  AttemptRow,
  ConductorStore,
  JobRecord,
  NewAuditRecord,
  PlayerRecord,
  PruneCount,
  PruneRequest,
  ScheduleRecord,
  TaskRow,
  WriteTx,
} from "../store/mod.ts";
import { OrchError } from "../errors.ts";
import type { ConductorEvent, EventBus } from "./events.ts";

class Batch {
  conductorId: string | null = null;
  readonly jobs: { job: JobRecord; taskIds: number[] }[] = [];
  readonly tasks = new Map<number, TaskRow>();
  readonly attempts: AttemptRow[] = [];
  readonly finished: { id: number; at: number }[] = [];
  readonly cancelled = new Map<number, number>();
  readonly players = new Map<string, PlayerRecord>();
  readonly touched = new Map<string, number>();
  readonly drained = new Map<string, number | null>();
  readonly audit: NewAuditRecord[] = [];
  /** Changes of schedules, in the order made. */
  readonly schedules: (
    | { op: "add"; schedule: ScheduleRecord }
    | { op: "remove"; name: string }
    | { op: "due"; name: string; lastDue: number }
  )[] = [];
  /** Prunes, run after every other change of the batch. */
  readonly prunes: { req: PruneRequest; done: (count: PruneCount) => void }[] = [];
  readonly events: ConductorEvent[] = [];
  readonly after: (() => void)[] = [];
  #durable: Promise<void> | null = null;
  #resolve: () => void = () => {};
  #reject: (err: unknown) => void = () => {};

  get durable(): Promise<void> {
    if (!this.#durable) {
      this.#durable = new Promise<void>((resolve, reject) => {
        this.#resolve = resolve;
        this.#reject = reject;
      });
      // A caller that does not wait must not see an unhandled rejection.
      this.#durable.catch(() => {});
    }
    return this.#durable;
  }

  committed(): void {
    this.#resolve();
  }

  failed(err: unknown): void {
    this.#reject(err);
  }

  /** Records it writes (tasks, jobs, attempts, players, audit and schedule records). */
  get records(): number {
    return this.jobs.length + this.tasks.size + this.attempts.length + this.finished.length +
      this.cancelled.size + this.players.size + this.touched.size + this.drained.size +
      this.audit.length + this.schedules.length + this.prunes.length;
  }

  apply(tx: WriteTx): void {
    if (this.conductorId !== null) tx.setConductorId(this.conductorId);
    if (this.players.size > 0) tx.savePlayers([...this.players.values()]);
    for (const { job, taskIds } of this.jobs) {
      const rows = taskIds.map((id) => {
        const row = this.tasks.get(id)!;
        this.tasks.delete(id);
        return row;
      });
      tx.insertJob(job, rows);
    }
    if (this.tasks.size > 0) tx.saveTasks([...this.tasks.values()]);
    if (this.attempts.length > 0) tx.addAttempts(this.attempts);
    for (const [id, at] of this.cancelled) tx.cancelJob(id, at);
    if (this.finished.length > 0) tx.finishJobs(this.finished);
    if (this.touched.size > 0) {
      tx.touchPlayers([...this.touched].map(([name, at]) => ({ name, at })));
    }
    for (const [name, at] of this.drained) tx.setDrained(name, at);
    if (this.audit.length > 0) tx.addAudit(this.audit);
    for (const c of this.schedules) {
      if (c.op === "add") tx.addSchedule(c.schedule);
      else if (c.op === "remove") tx.removeSchedule(c.name);
      else tx.markScheduleDue(c.name, c.lastDue);
    }
    for (const p of this.prunes) tx.pruneFinished(p.req, p.done);
  }
}

/** Batches the conductor's writes into shared commits. */
export class Committer {
  readonly #store: ConductorStore;
  readonly #bus: EventBus;
  readonly #onFatal: (err: unknown) => void;
  #open: Batch | null = null;
  #inFlight: Batch | null = null;
  #timer: ReturnType<typeof setImmediate> | undefined;
  #failed: unknown = null;
  #closed = false;
  /** Told of each commit: its time in seconds and the records it wrote (metrics). */
  onCommit: ((seconds: number, records: number) => void) | null = null;

  constructor(store: ConductorStore, bus: EventBus, onFatal: (err: unknown) => void) {
    this.#store = store;
    this.#bus = bus;
    this.#onFatal = onFatal;
  }

  /** The open batch, opened (and its commit scheduled) when there is none. */
  #batch(): Batch {
    if (this.#failed !== null) {
      throw new OrchError("unavailable", "the conductor's database failed; it is stopping");
    }
    if (this.#closed) throw new OrchError("unavailable", "the conductor is stopping");
    if (!this.#open) {
      this.#open = new Batch();
      // setImmediate runs after the I/O already at hand, so its changes join this batch.
      if (!this.#inFlight) this.#timer = setImmediate(() => this.#commit());
    }
    return this.#open;
  }

  /** Records this database's identity. */
  setConductorId(id: string): void {
    this.#batch().conductorId = id;
  }

  /** Records a new job; its tasks' rows are the ones saved with {@linkcode saveTask}. */
  insertJob(job: JobRecord, taskIds: number[]): void {
    this.#batch().jobs.push({ job, taskIds });
  }

  /** Records the whole state of a task (the last one of a batch wins). */
  saveTask(row: TaskRow): void {
    this.#batch().tasks.set(row.id, row);
  }

  /** Records an attempt that is over. */
  addAttempt(row: AttemptRow): void {
    this.#batch().attempts.push(row);
  }

  /** Records that a job finished. */
  finishJob(id: number, at: number): void {
    this.#batch().finished.push({ id, at });
  }

  /** Records that a job was cancelled. */
  cancelJob(id: number, at: number): void {
    const b = this.#batch();
    if (!b.cancelled.has(id)) b.cancelled.set(id, at);
  }

  /** Records what a player announced. */
  savePlayer(rec: PlayerRecord): void {
    this.#batch().players.set(rec.name, rec);
  }

  /** Records when a player was last heard from. */
  touchPlayer(name: string, at: number): void {
    this.#batch().touched.set(name, at);
  }

  /** Drains `name` from `at`, or undrains it when `at` is null. */
  setDrained(name: string, at: number | null): void {
    this.#batch().drained.set(name, at);
  }

  /** Appends a record to the audit trail. */
  audit(record: NewAuditRecord): void {
    this.#batch().audit.push(record);
  }

  /** Records a new schedule. */
  addSchedule(schedule: ScheduleRecord): void {
    this.#batch().schedules.push({ op: "add", schedule });
  }

  /** Records that a schedule was removed. */
  removeSchedule(name: string): void {
    this.#batch().schedules.push({ op: "remove", name });
  }

  /**
   * Records the last due time a schedule fired or skipped; in the same
   * batch as the job that due time submitted, when called in the same turn.
   */
  markScheduleDue(name: string, lastDue: number): void {
    this.#batch().schedules.push({ op: "due", name, lastDue });
  }

  /**
   * Prunes old finished jobs (and old audit records) in the open batch, at
   * most `req.maxRows` rows; resolves with what went once it is committed.
   */
  prune(req: PruneRequest): Promise<PruneCount> {
    const b = this.#batch();
    let count: PruneCount | null = null;
    b.prunes.push({ req, done: (c) => (count = c) });
    return b.durable.then(() => count ?? { jobs: 0, tasks: 0, audit: 0, more: false });
  }

  /** Publishes `e` once the batch holding the change it reports is committed. */
  publish(e: ConductorEvent): void {
    this.#batch().events.push(e);
  }

  /** A promise that resolves once everything recorded so far is committed. */
  durable(): Promise<void> {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    return (this.#open ?? this.#inFlight)?.durable ?? Promise.resolve();
  }

  /**
   * Runs `fn` once everything recorded so far is committed (at once when
   * nothing is pending); never when the commit fails.
   */
  afterCommit(fn: () => void): void {
    const b = this.#open ?? this.#inFlight;
    if (b) b.after.push(fn);
    else if (this.#failed === null) fn();
  }

  async #commit(): Promise<void> {
    this.#timer = undefined;
    const b = this.#open;
    if (!b || this.#inFlight || this.#failed !== null) return;
    this.#open = null;
    this.#inFlight = b;
    const records = this.onCommit ? b.records : 0;
    const started = performance.now();
    try {
      await this.#store.write((tx) => b.apply(tx));
    } catch (err) {
      this.#inFlight = null;
      if (this.#failed === null) this.#fail(err, b);
      return;
    }
    this.#inFlight = null;
    // Abandoned meanwhile: whatever this commit held is acted on no more.
    if (this.#failed !== null) return;
    this.onCommit?.((performance.now() - started) / 1000, records);
    b.committed();
    for (const e of b.events) this.#bus.publish(e);
    for (const fn of b.after) fn();
    if (this.#open && this.#timer === undefined) this.#timer = setImmediate(() => this.#commit());
  }

  #fail(err: unknown, b: Batch): void {
    this.#failed = err;
    b.failed(err);
    this.#open?.failed(err);
    this.#open = null;
    this.#onFatal(err);
  }

  /**
   * Stops at once: the open batch and the one being committed fail with
   * `err` (whatever waits on them is never answered, sent or published,
   * even when the commit in flight goes through), and every change after
   * this is refused. For a conductor that may write no more.
   */
  abandon(err: unknown): void {
    if (this.#failed !== null) return;
    this.#failed = err;
    if (this.#timer !== undefined) clearImmediate(this.#timer);
    this.#timer = undefined;
    this.#open?.failed(err);
    this.#open = null;
    this.#inFlight?.failed(err);
  }

  /** Commits what is pending and refuses further changes. */
  async close(): Promise<void> {
    while ((this.#open || this.#inFlight) && this.#failed === null) {
      if (this.#timer !== undefined) {
        clearImmediate(this.#timer);
        this.#timer = undefined;
      }
      if (this.#inFlight) await this.#inFlight.durable.catch(() => {});
      else await this.#commit();
    }
    this.#closed = true;
  }
}
