/**
 * The task state machine: every open task and job in memory, and every
 * change of their state.
 *
 * Each change goes through {@linkcode TaskMachine.#move}, which keeps the
 * indexes in step (the scheduler's queue, what each player holds, the
 * timers), records the task's new durable image in the open batch, and
 * emits one event, published once that batch is committed. A task that
 * becomes final leaves memory; a job whose last task does is finished.
 *
 * @module
 */

import type { Logger } from "../log.ts";
import type {
  Aggregate,
  JobRollout,
  JournalEntry,
  Outcome,
  ResultBody,
  Scope,
  TaskState,
  TriedPlayer,
} from "../protocol/mod.ts";
import { isError, isFinal } from "../protocol/mod.ts";
import type { AttemptResult, JobRecord, StoreSnapshot, TaskRow } from "../store/mod.ts";
import type { Clock } from "./clock.ts";
import type { Committer } from "./committer.ts";
import type { ConductorEvent } from "./events.ts";
import type { HeldTask } from "./handshake.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Timers } from "./timers.ts";

/** A job with open tasks, as the conductor holds it. Shared by its tasks. */
export interface JobRec {
  readonly id: number;
  readonly score: string;
  readonly scope: Scope;
  /** Every target, in the order given. */
  readonly targets: readonly string[];
  /** Every value, secret ones included (they live here, in memory, until the job is final). */
  readonly params: Record<string, string>;
  /**
   * Some secret value is missing: it was held in memory only and the
   * conductor restarted. Its tasks cannot be sent (again); they end expired.
   */
  readonly secretsLost: boolean;
  /** Keys of `params` whose values are secret. */
  readonly secret: readonly string[];
  readonly timeoutMs: number | null;
  readonly deadline: number | null;
  readonly retries: number;
  /** Its open tasks. */
  readonly open: Set<TaskRec>;
  /** Tasks in all, and how many ended succeeded. */
  readonly total: number;
  succeeded: number;
  /** Ended in another final state. */
  unsucceeded: number;
  cancelled: boolean;
  /** Its quorum, batch and error budget, or null. */
  readonly rollout: JobRollout | null;
  /** Tasks that ended as errors ({@linkcode isError}). */
  errors: number;
  /**
   * With a batch: queued tasks waiting for a later batch (not in the
   * scheduler's indexes), in queue order, and where the next one is.
   */
  readonly held: TaskRec[];
  heldAt: number;
  /** With a batch: tasks of the current batch not final yet; the batch started last. */
  inBatch: number;
  batchNo: number;
  /** A batch wait is under way. */
  waiting: boolean;
  /** Its quorum was decided or its error budget spent: nothing more starts. */
  stopped: boolean;
  /** N-of: its tasks are slots, each placed on a distinct target of the list. */
  readonly slots: boolean;
  /**
   * N-of: targets a slot holds or held (or that refused one): no other slot
   * of the job is placed there. Empty for other jobs.
   */
  readonly used: Set<string>;
}

/** A task that is not final. */
export interface TaskRec {
  readonly id: number;
  readonly job: JobRec;
  /** Queue position; lower goes first. */
  seq: number;
  /** All-of: its target. One-of: where it is placed, else null. */
  host: string | null;
  state: "queued" | "assigned" | "running";
  attempt: number;
  /** One-of: players that refused it, and the same as a set. */
  tried: TriedPlayer[];
  triedBy: Set<string> | null;
  /** A retry waits until then; null when it may be placed. */
  notBefore: number | null;
  failures: number;
  cancelRequested: boolean;
  reason: string | null;
  assignedAt: number | null;
  startedAt: number | null;
  /** Moves on each time the task enters the queue; index entries of older ones are stale. */
  gen: number;
  /** The player whose holdings count it (assigned or running there), else null. */
  heldBy: string | null;
  /** A task of a job with a batch: part of the current batch (it may be placed). */
  released: boolean;
  /** N-of: since when it has waited in the queue for a target (its offline wait counts from then). */
  waitingSince: number;
}

/** What the machine needs around it. */
export interface MachineDeps {
  clock: Clock;
  committer: Committer;
  scheduler: Scheduler;
  timers: Timers;
  log: Logger;
  /** First wait before a retry; doubles with each failure (up to 64×). */
  retryBackoffMs: number;
  /** Whether `player` is in the players file now. */
  authorised(player: string): boolean;
  /** Since when `player` has been disconnected (0: not seen since the start), or null when connected. */
  offlineSince(player: string): number | null;
}

/** True when each of the job's tasks has its target from the start (all-of, not N-of). */
export function fixedHost(job: JobRec): boolean {
  return job.scope === "all" && !job.slots;
}

/** Why a task whose secret values were lost ends. */
export const SECRETS_LOST_REASON =
  "its secret parameters were held in memory only and the conductor restarted; submit it again";

/** How a one-of task's refusal is described. */
export type Refusal = TriedPlayer;

/** The aggregate of a finished job from its counts. */
function aggregateOfDone(j: JobRec): Aggregate {
  const quorum = j.rollout?.quorum ?? null;
  if (quorum !== null) return j.succeeded >= quorum ? "success" : "failure";
  if (j.succeeded === j.total) return "success";
  return j.succeeded === 0 ? "failure" : "partial";
}

/** A task just submitted: queued at `seq`, never tried. */
export function newTask(job: JobRec, id: number, seq: number, host: string | null): TaskRec {
  return {
    id,
    job,
    seq,
    host,
    state: "queued",
    attempt: 0,
    tried: [],
    triedBy: null,
    notBefore: null,
    failures: 0,
    cancelRequested: false,
    reason: null,
    assignedAt: null,
    startedAt: null,
    gen: 0,
    heldBy: null,
    released: false,
    waitingSince: 0,
  };
}

/** Every open task and job, and every change of their state. */
export class TaskMachine {
  readonly #d: MachineDeps;
  readonly #tasks = new Map<number, TaskRec>();
  readonly #jobs = new Map<number, JobRec>();
  /** Jobs finished in a batch not yet committed: waiting for them still waits. */
  readonly #finishing = new Set<number>();
  readonly #held = new Map<string, Set<TaskRec>>();
  #seqLow = 0;
  #seqHigh = 0;
  #nextJob = 1;
  #nextTask = 1;

  constructor(deps: MachineDeps) {
    this.#d = deps;
  }

  /** Rebuilds the open work from the store's snapshot. */
  load(snap: StoreSnapshot): void {
    this.#seqLow = snap.seqLow;
    this.#seqHigh = snap.seqHigh;
    this.#nextJob = snap.maxJobId + 1;
    this.#nextTask = snap.maxTaskId + 1;
    const open = new Map<number, number>();
    for (const t of snap.tasks) open.set(t.jobId, (open.get(t.jobId) ?? 0) + 1);
    const finished = new Map(snap.finished.map((f) => [f.jobId, f]));
    for (const j of snap.jobs) {
      const done = finished.get(j.id);
      const rec = this.#addJob(
        j,
        (open.get(j.id) ?? 0) + (done ? done.succeeded + done.other : 0),
        true,
      );
      rec.succeeded = done?.succeeded ?? 0;
      rec.unsucceeded = done?.other ?? 0;
      // Which of the others were errors is not loaded: all of them count against the budget.
      rec.errors = rec.unsucceeded;
    }
    // N-of: a target a finished slot ran on stays taken, across a restart too.
    for (const f of snap.finishedHosts) {
      const job = this.#jobs.get(f.jobId);
      if (job?.slots) { for (const h of f.hosts) job.used.add(h); }
    }
    for (const r of snap.tasks) {
      const job = this.#jobs.get(r.jobId);
      if (!job) continue;
      const t: TaskRec = {
        id: r.id,
        job,
        seq: r.seq,
        host: r.host,
        state: r.state as TaskRec["state"],
        attempt: r.attempt,
        tried: r.tried,
        triedBy: r.tried.length > 0 ? new Set(r.tried.map((x) => x.player)) : null,
        notBefore: r.notBefore,
        failures: r.failures,
        cancelRequested: r.cancelRequested,
        reason: r.reason,
        assignedAt: r.assignedAt,
        startedAt: r.startedAt,
        gen: 0,
        heldBy: null,
        // A task sent or running is part of the batch under way; queued ones wait for one.
        released: r.state !== "queued",
        waitingSince: this.#d.clock.now(),
      };
      if (job.slots) {
        // Targets held now and those that refused; finished slots' targets come below.
        if (r.state !== "queued" && r.host !== null) job.used.add(r.host);
        for (const x of r.tried) if (x.code !== "offline") job.used.add(x.player);
      }
      this.#tasks.set(t.id, t);
      job.open.add(t);
      if (t.released && job.rollout?.batch != null) job.inBatch++;
      this.#index(t);
    }
    for (const job of this.#jobs.values()) {
      if (job.rollout?.batch != null && job.inBatch === 0) this.#startBatch(job);
    }
    for (const t of [...this.#tasks.values()]) {
      if (t.job.secretsLost && t.state === "queued") {
        this.#finish(t, "expired", SECRETS_LOST_REASON);
      }
    }
    const now = this.#d.clock.now();
    for (const id of snap.unfinishedDoneJobs) this.#d.committer.finishJob(id, now);
  }

  // ------------------------------------------------------------ reading

  /** An open task. */
  task(id: number): TaskRec | undefined {
    return this.#tasks.get(id);
  }

  /** An open job. */
  job(id: number): JobRec | undefined {
    return this.#jobs.get(id);
  }

  /** True while job `id` has open tasks, or its end is not yet committed. */
  isOpen(id: number): boolean {
    return this.#jobs.has(id) || this.#finishing.has(id);
  }

  /** Tasks sent to or running on `player`. */
  heldBy(player: string): TaskRec[] {
    return [...(this.#held.get(player) ?? [])];
  }

  /** The tasks held by `player`, as the handshake reconciles them. */
  heldForReconcile(player: string): HeldTask[] {
    return this.heldBy(player).map((t) => ({
      id: t.id,
      attempt: t.attempt,
      state: t.state as HeldTask["state"],
      cancelRequested: t.cancelRequested,
    }));
  }

  /** How many tasks `player` holds. */
  heldCount(player: string): number {
    return this.#held.get(player)?.size ?? 0;
  }

  /** Open tasks in all. */
  get size(): number {
    return this.#tasks.size;
  }

  /** Every open task (for a players-file reload). */
  all(): IterableIterator<TaskRec> {
    return this.#tasks.values();
  }

  /** Open jobs in all. */
  get jobCount(): number {
    return this.#jobs.size;
  }

  /** Every open job (for the metrics' look over the open work). */
  jobs(): IterableIterator<JobRec> {
    return this.#jobs.values();
  }

  /**
   * For a queued task waiting for a host that is not connected: since when
   * that host is offline (epoch ms; 0 when it was never seen). Null for any
   * other task (placed, running, final, or a one-of task not yet placed).
   */
  offlineSince(taskId: number): number | null {
    const t = this.#tasks.get(taskId);
    if (!t || t.state !== "queued" || t.host === null) return null;
    return this.#d.offlineSince(t.host);
  }

  /**
   * How many queued tasks of open job `id` wait for a host that is not
   * connected: one look-up per open task of the job, nothing stored.
   */
  offlineCount(id: number): number {
    const job = this.#jobs.get(id);
    if (!job) return 0;
    let n = 0;
    for (const t of job.open) {
      if (t.state === "queued" && t.host !== null && this.#d.offlineSince(t.host) !== null) n++;
    }
    return n;
  }

  // ------------------------------------------------------------ changes

  /**
   * Stores a new job: one task per target (all-of) or one task (one-of),
   * queued at the tail. Returns its id; its commit is {@linkcode Committer.durable}.
   * The values of the `secret` keys of its params are stored sealed by
   * `seal`, or not at all (held here only) without it. A one-of job's task
   * starts with `skipped`: the targets admission found could not take it.
   */
  submit(
    job: Omit<JobRecord, "id" | "secrets">,
    secret: readonly string[] = [],
    seal: ((jobId: number, key: string, value: string) => string) | null = null,
    skipped: readonly TriedPlayer[] = [],
  ): number {
    const id = this.#nextJob++;
    const secrets: Record<string, string | null> = {};
    for (const k of secret) secrets[k] = seal ? seal(id, k, job.params[k]) : null;
    const record: JobRecord = { ...job, id, secrets };
    const slots = job.scope === "all" ? job.rollout?.some ?? null : 1;
    const hosts = slots === null ? job.targets : new Array<null>(slots).fill(null);
    const rec = this.#addJob(record, hosts.length, false);
    const now = this.#d.clock.now();
    const taskIds: number[] = [];
    for (const host of hosts) {
      const t = newTask(rec, this.#nextTask++, ++this.#seqHigh, host);
      t.waitingSince = now;
      if (host === null && skipped.length > 0) {
        t.tried = [...skipped];
        t.triedBy = new Set(skipped.map((x) => x.player));
      }
      taskIds.push(t.id);
      this.#tasks.set(t.id, t);
      rec.open.add(t);
      this.#move(t, "queued", now, {
        event: { type: "task.queued", at: now, job: id, task: t.id },
      });
    }
    this.#d.committer.insertJob(record, taskIds);
    if (rec.rollout?.batch != null) this.#startBatch(rec);
    if (rec.deadline !== null) this.#d.timers.at(rec.deadline + 1, () => this.#expireJob(rec));
    return id;
  }

  /** Sends a queued task's next attempt to `player`. */
  assign(t: TaskRec, player: string): void {
    const now = this.#d.clock.now();
    t.attempt++;
    t.host = player;
    if (t.job.slots) t.job.used.add(player);
    t.assignedAt = now;
    t.startedAt = null;
    t.reason = null;
    this.#move(t, "assigned", now, {
      event: {
        type: "task.assigned",
        at: now,
        job: t.job.id,
        task: t.id,
        attempt: t.attempt,
        player,
      },
    });
  }

  /** The player started the attempt it holds. */
  start(t: TaskRec, startedAt: number): void {
    const now = this.#d.clock.now();
    t.startedAt = startedAt;
    this.#move(t, "running", now, {
      event: {
        type: "task.started",
        at: now,
        job: t.job.id,
        task: t.id,
        attempt: t.attempt,
        player: t.host!,
      },
    });
  }

  /** The player reported how the attempt ended. */
  result(t: TaskRec, r: ResultBody): void {
    const res: AttemptResult = {
      exitCode: r.exit_code,
      signal: r.signal,
      response: r.response,
      stdoutTail: r.stdout_tail,
      stderrTail: r.stderr_tail,
      ...(r.stdout_dropped ? { stdoutDropped: r.stdout_dropped } : {}),
      ...(r.stderr_dropped ? { stderrDropped: r.stderr_dropped } : {}),
    };
    t.startedAt ??= r.started_at;
    if (r.outcome === "failed" || r.outcome === "timed_out" || r.outcome === "interrupted") {
      this.#ranAndFailed(t, r.outcome, r.error, res, r.ended_at);
    } else {
      this.#finish(t, r.outcome, r.error, { result: res, endedAt: r.ended_at });
    }
  }

  /**
   * The player refused the attempt (nothing ran). Busy or draining: back
   * to the queue as it was. Otherwise an all-of task ends `rejected`, and a
   * one-of task goes back to the head without that player, or ends
   * `rejected` when no target is left.
   */
  refused(t: TaskRec, why: Refusal): void {
    const now = this.#d.clock.now();
    this.#endAttempt(t, "rejected", `${why.code}: ${why.message}`, null, now);
    if (t.cancelRequested) {
      this.#finish(t, "cancelled", "cancelled before it started");
    } else if (why.code === "busy" || why.code === "draining") {
      this.#release(t);
      this.#requeue(t, fixedHost(t.job) ? t.seq : --this.#seqLow, null, "busy");
    } else {
      this.softFailure(t, why);
    }
  }

  /**
   * A player cannot run a queued or refused task (nothing ran there): see
   * {@linkcode refused}.
   */
  softFailure(t: TaskRec, why: Refusal): void {
    if (fixedHost(t.job)) {
      this.#finish(t, "rejected", `${why.player} refused it: ${why.code}: ${why.message}`);
      return;
    }
    if (t.job.slots) t.job.used.add(why.player);
    this.#moveOn(t, [why], --this.#seqLow, "refused");
  }

  /**
   * A one-of or N-of task leaves targets behind (`why` says why each):
   * back to the queue at `seq` for the targets left, or `rejected` naming
   * every target tried when none is.
   */
  #moveOn(t: TaskRec, why: readonly Refusal[], seq: number, as: "refused" | "offline"): void {
    t.tried = [...t.tried, ...why];
    const tried = t.triedBy ??= new Set();
    for (const w of why) tried.add(w.player);
    const used = t.job.used;
    const left = t.job.targets.some((c) => !tried.has(c) && !used.has(c) && this.#d.authorised(c));
    if (!left) {
      const list = t.tried.map((x) => `${x.player} (${x.code}: ${x.message})`).join("; ");
      this.#finish(
        t,
        "rejected",
        t.job.slots
          ? `no target is left for it (the others are another task's of the job): tried ${list}`
          : `every target refused it: ${list}`,
      );
    } else {
      this.#requeue(t, seq, null, as);
    }
  }

  /**
   * N-of: the slot left its target without running there (busy, draining,
   * never accepted): the target is free for the job's slots again.
   */
  #release(t: TaskRec): void {
    if (!t.job.slots || t.host === null || t.triedBy?.has(t.host)) return;
    const player = t.host;
    t.job.used.delete(player);
    // The job's other queued slots may have passed it over while it was taken.
    const batched = t.job.rollout?.batch != null;
    for (const o of t.job.open) {
      if (o === t || o.state !== "queued" || (batched && !o.released)) continue;
      if (o.notBefore === null && !o.triedBy?.has(player)) this.#d.scheduler.offer(o, player);
    }
  }

  /**
   * N-of: a slot has waited its offline wait: targets offline for longer
   * than that are left behind, and the check comes again while it waits.
   */
  #offlineDue(t: TaskRec, gen: number): void {
    if (this.#tasks.get(t.id) !== t || t.state !== "queued" || t.gen !== gen) return;
    const wait = t.job.rollout?.offline_wait_ms ?? 0;
    const now = this.#d.clock.now();
    const gone: Refusal[] = [];
    let next = now + wait;
    for (const c of t.job.targets) {
      if (t.triedBy?.has(c) || t.job.used.has(c) || !this.#d.authorised(c)) continue;
      const since = this.#d.offlineSince(c);
      if (since === null) continue;
      const from = Math.max(since, t.waitingSince);
      if (now - from >= wait) {
        gone.push({
          player: c,
          code: "offline",
          message: `offline for longer than the job's offline wait of ${wait} ms`,
        });
      } else {
        next = Math.min(next, from + wait);
      }
    }
    if (gone.length === 0) {
      // Never at `now` again: the check would run in the same turn for ever.
      this.#armOffline(t, Math.max(next, now + 1));
      return;
    }
    this.#d.log.info("a task moves on from offline targets", {
      task: t.id,
      job: t.job.id,
      targets: gone.length,
    });
    this.#moveOn(t, gone, t.seq, "offline");
  }

  #armOffline(t: TaskRec, at: number): void {
    const gen = t.gen;
    this.#d.timers.at(at, () => this.#offlineDue(t, gen));
  }

  /** Sent but never accepted (the player's journal does not have it): it did not run. */
  unstarted(t: TaskRec): void {
    const now = this.#d.clock.now();
    this.#endAttempt(t, "unstarted", "the player never accepted it", null, now);
    if (t.cancelRequested) this.#finish(t, "cancelled", "cancelled before it started");
    else {
      this.#release(t);
      this.#requeue(t, fixedHost(t.job) ? t.seq : --this.#seqLow, null, "unstarted");
    }
  }

  /** A run was cut short without a result (lost journal, lost player): retried or interrupted. */
  interrupted(t: TaskRec, why: string): void {
    this.#ranAndFailed(t, "interrupted", why, null, this.#d.clock.now());
  }

  /** A queued task's deadline passed before it could start. */
  expire(t: TaskRec): void {
    this.#finish(
      t,
      "expired",
      `not started by its deadline ${new Date(t.job.deadline!).toISOString()}`,
    );
  }

  /** The task's player was removed from the players file (or none of its targets is left). */
  removed(t: TaskRec, why: string): void {
    this.#finish(t, "player_removed", why);
  }

  /**
   * Cancels a job's open tasks: queued ones end `cancelled` now; ones on a
   * player are marked, and returned to be stopped there.
   */
  cancel(job: JobRec, by: string): { cancelled: number; stopping: TaskRec[] } {
    const now = this.#d.clock.now();
    job.cancelled = true;
    this.#d.committer.cancelJob(job.id, now);
    let cancelled = 0;
    const stopping: TaskRec[] = [];
    for (const t of [...job.open]) {
      if (t.state === "queued") {
        this.#finish(t, "cancelled", `cancelled by ${by}`);
        cancelled++;
      } else if (!t.cancelRequested) {
        t.cancelRequested = true;
        this.#d.committer.saveTask(this.#row(t, now));
        stopping.push(t);
      }
    }
    return { cancelled, stopping };
  }

  /** Records that a finished job was cancelled (there is nothing left to stop). */
  cancelFinished(jobId: number): void {
    this.#d.committer.cancelJob(jobId, this.#d.clock.now());
  }

  /** A retry's wait is over: the task may be placed. */
  #retryDue(t: TaskRec, gen: number): void {
    if (this.#tasks.get(t.id) !== t || t.state !== "queued" || t.gen !== gen) return;
    t.notBefore = null;
    this.#d.scheduler.enqueue(t);
  }

  #expireJob(job: JobRec): void {
    if (this.#jobs.get(job.id) !== job) return;
    for (const t of [...job.open]) if (t.state === "queued") this.expire(t);
  }

  // ------------------------------------------------------------ inside

  #addJob(j: JobRecord, total: number, loaded: boolean): JobRec {
    const rec: JobRec = {
      id: j.id,
      score: j.score,
      scope: j.scope,
      targets: j.targets,
      params: j.params,
      secretsLost: Object.keys(j.secrets).some((k) => !Object.hasOwn(j.params, k)),
      secret: Object.keys(j.secrets),
      timeoutMs: j.timeoutMs,
      deadline: j.deadline,
      retries: j.retries,
      open: new Set(),
      total,
      succeeded: 0,
      unsucceeded: 0,
      cancelled: false,
      rollout: j.rollout,
      errors: 0,
      held: [],
      heldAt: 0,
      inBatch: 0,
      batchNo: 0,
      waiting: false,
      stopped: false,
      slots: j.scope === "all" && j.rollout?.some !== undefined,
      used: new Set(),
    };
    this.#jobs.set(rec.id, rec);
    if (loaded && rec.deadline !== null) {
      this.#d.timers.at(rec.deadline + 1, () => this.#expireJob(rec));
    }
    return rec;
  }

  /** A run ended without success: retried after a backoff when allowed, else final. */
  #ranAndFailed(
    t: TaskRec,
    outcome: Outcome,
    why: string | null,
    result: AttemptResult | null,
    endedAt: number,
  ): void {
    t.failures++;
    if (!t.cancelRequested && t.failures <= t.job.retries) {
      const now = this.#d.clock.now();
      const wait = this.#d.retryBackoffMs * 2 ** Math.min(t.failures - 1, 6);
      this.#d.log.info("retrying a task", {
        task: t.id,
        job: t.job.id,
        after: outcome,
        retry: `${t.failures}/${t.job.retries}`,
        in_ms: wait,
      });
      this.#endAttempt(t, outcome, why, result, endedAt);
      // N-of: a slot that runs again may run again where it ran (or anywhere still unused).
      this.#release(t);
      this.#requeue(t, t.seq, now + wait, "retry");
      return;
    }
    this.#finish(t, outcome, why, { result, endedAt });
  }

  /** Moves the current attempt to history; the task row then holds no attempt details. */
  #endAttempt(
    t: TaskRec,
    state: string,
    error: string | null,
    result: AttemptResult | null,
    endedAt: number,
  ): void {
    this.#d.committer.addAttempt({
      taskId: t.id,
      attempt: t.attempt,
      player: t.host!,
      state,
      assignedAt: t.assignedAt ?? endedAt,
      startedAt: t.startedAt,
      endedAt,
      error,
      result,
    });
    t.assignedAt = null;
    t.startedAt = null;
  }

  #requeue(
    t: TaskRec,
    seq: number,
    notBefore: number | null,
    why: "retry" | "refused" | "unstarted" | "busy" | "offline",
  ): void {
    const now = this.#d.clock.now();
    if (t.job.deadline !== null && now > t.job.deadline) {
      this.expire(t);
      return;
    }
    if (t.job.secretsLost) {
      this.#finish(t, "expired", SECRETS_LOST_REASON);
      return;
    }
    t.seq = seq;
    t.notBefore = notBefore;
    if (t.state !== "queued") t.waitingSince = now;
    if (!fixedHost(t.job)) t.host = null;
    const event: ConductorEvent = { type: "task.queued", at: now, job: t.job.id, task: t.id, why };
    if (notBefore !== null) event.not_before = notBefore;
    this.#move(t, "queued", now, { event });
  }

  /** Ends a task in final state `state`. */
  #finish(
    t: TaskRec,
    state: TaskState,
    reason: string | null,
    attempt: { result: AttemptResult | null; endedAt: number } | null = null,
  ): void {
    // Ended already within the same change (a quorum decided while a cancel, an expiry or a
    // restart walks the job's tasks): a task ends once.
    if (!t.job.open.has(t)) return;
    const now = this.#d.clock.now();
    t.reason = reason;
    this.#move(t, state, now, {
      result: attempt?.result ?? null,
      endedAt: attempt?.endedAt ?? (t.assignedAt !== null ? now : null),
      event: {
        type: "task.finished",
        at: now,
        job: t.job.id,
        task: t.id,
        attempt: t.attempt,
        player: t.host,
        state,
      },
    });
  }

  /**
   * The one place a task changes state: indexes, the durable image, the
   * event, and the job's end when it was its last open task.
   */
  #move(
    t: TaskRec,
    to: TaskState,
    now: number,
    change: { event: ConductorEvent; result?: AttemptResult | null; endedAt?: number | null },
  ): void {
    this.#unindex(t);
    const c = this.#d.committer;
    if (isFinal(to)) {
      c.saveTask(this.#row(t, now, to, change.result ?? null, change.endedAt ?? null));
      c.publish(change.event);
      // Its queue entries go stale.
      t.gen++;
      this.#tasks.delete(t.id);
      const job = t.job;
      job.open.delete(t);
      if (to === "succeeded") job.succeeded++;
      else job.unsucceeded++;
      if (isError(to)) job.errors++;
      if (t.released) {
        t.released = false;
        job.inBatch--;
      }
      if (job.rollout !== null && this.#jobs.get(job.id) === job) this.#rollout(job, now);
      // The rules above may have ended the job's last tasks, and the job with them.
      if (
        this.#jobs.get(job.id) === job && job.open.size === 0 &&
        job.succeeded + job.unsucceeded >= job.total
      ) {
        this.#jobs.delete(job.id);
        this.#finishing.add(job.id);
        c.finishJob(job.id, now);
        c.publish({ type: "job.finished", at: now, job: job.id, aggregate: aggregateOfDone(job) });
        c.afterCommit(() => this.#finishing.delete(job.id));
      }
      return;
    }
    t.state = to as TaskRec["state"];
    if (to === "queued") t.gen++;
    c.saveTask(this.#row(t, now));
    c.publish(change.event);
    this.#index(t);
  }

  #index(t: TaskRec): void {
    if (t.state === "queued") {
      if (t.job.rollout?.batch != null && !t.released) {
        t.job.held.push(t);
        return;
      }
      if (t.notBefore !== null && t.notBefore > this.#d.clock.now()) {
        const gen = t.gen;
        this.#d.timers.at(t.notBefore, () => this.#retryDue(t, gen));
      } else {
        this.#d.scheduler.enqueue(t);
      }
      const wait = t.job.rollout?.offline_wait_ms ?? 0;
      if (t.job.slots && wait > 0) {
        this.#armOffline(t, Math.max(t.waitingSince, t.notBefore ?? 0) + wait);
      }
      return;
    }
    const player = t.host!;
    let held = this.#held.get(player);
    if (!held) this.#held.set(player, held = new Set());
    held.add(t);
    t.heldBy = player;
  }

  /**
   * A job's rollout rules after one of its tasks ended: the quorum decided
   * or the error budget spent stop it (its queued tasks end `skipped`);
   * else a batch that is over starts the next, after the batch wait.
   */
  #rollout(job: JobRec, now: number): void {
    const r = job.rollout!;
    if (job.stopped) return;
    let why: string | null = null;
    if (r.quorum !== null && job.succeeded >= r.quorum) {
      why = `its quorum was reached: ${job.succeeded} of ${r.quorum} needed succeeded`;
    } else if (r.quorum !== null && job.succeeded + job.open.size < r.quorum) {
      why = `its quorum of ${r.quorum} can no longer be reached: ${job.succeeded} succeeded, ` +
        `${job.open.size} left`;
    } else if (r.max_errors !== null && job.errors >= r.max_errors) {
      why = `its error budget is spent: ${job.errors} failed, ${r.max_errors} stop it`;
    }
    if (why !== null) {
      job.stopped = true;
      this.#d.log.info("rollout stopped", { job: job.id, why });
      for (const t of [...job.open]) if (t.state === "queued") this.#finish(t, "skipped", why);
      return;
    }
    if (r.batch === null || job.inBatch > 0 || job.waiting || job.heldAt >= job.held.length) return;
    if (r.batch_wait_ms <= 0) {
      this.#startBatch(job);
      return;
    }
    job.waiting = true;
    this.#d.timers.at(now + r.batch_wait_ms, () => {
      job.waiting = false;
      if (this.#jobs.get(job.id) === job && !job.stopped && job.inBatch === 0) {
        this.#startBatch(job);
      }
    });
  }

  /** Releases the next batch of a job's held tasks to the scheduler. */
  #startBatch(job: JobRec): void {
    const size = job.rollout!.batch!;
    let started = 0;
    while (started < size && job.heldAt < job.held.length) {
      const t = job.held[job.heldAt++];
      if (this.#tasks.get(t.id) !== t || t.state !== "queued" || t.released) continue;
      t.released = true;
      job.inBatch++;
      started++;
      this.#index(t);
    }
    if (job.heldAt > 1024 && job.heldAt * 2 > job.held.length) {
      job.held.splice(0, job.heldAt);
      job.heldAt = 0;
    }
    if (started > 0) {
      job.batchNo++;
      this.#d.log.info("batch started", { job: job.id, batch: job.batchNo, tasks: started });
    }
  }

  #unindex(t: TaskRec): void {
    // Queue entries go stale by themselves (state and gen); only holdings are kept exactly, by
    // the player they were counted under (a one-of task put back has lost its host already).
    const player = t.heldBy;
    if (player === null) return;
    const held = this.#held.get(player);
    held?.delete(t);
    if (held?.size === 0) this.#held.delete(player);
    t.heldBy = null;
  }

  #row(
    t: TaskRec,
    now: number,
    state: TaskState = t.state,
    result: AttemptResult | null = null,
    endedAt: number | null = null,
  ): TaskRow {
    return {
      id: t.id,
      jobId: t.job.id,
      seq: t.seq,
      host: t.host,
      state,
      attempt: t.attempt,
      tried: t.tried,
      notBefore: t.notBefore,
      failures: t.failures,
      cancelRequested: t.cancelRequested,
      reason: t.reason,
      updatedAt: now,
      assignedAt: t.assignedAt,
      startedAt: t.startedAt,
      endedAt,
      result,
    };
  }
}

/** Journal entries a hello carries, for the reconciliation. */
export type { JournalEntry };
