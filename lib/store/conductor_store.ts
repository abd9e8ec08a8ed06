/**
 * The conductor's durable state: jobs, their tasks, every attempt, and the
 * players seen. Deterministic: times and ids come in as arguments. Writes
 * are plain statements; callers group them into transactions with
 * {@linkcode GroupCommit}.
 *
 * @module
 */

import type { StatementSync } from "node:sqlite";
import type {
  AttemptView,
  JobSummary,
  JobView,
  PlayerView,
  ResultBody,
  Scope,
  ScoreInfo,
  TaskState,
  TaskView,
  TriedPlayer,
} from "../protocol/mod.ts";
import { aggregateOf, aggregateOfCounts } from "../protocol/mod.ts";
import { type Database, openDatabase } from "./db.ts";
import { CONDUCTOR_MIGRATIONS } from "./conductor_schema.ts";

/** A job to store. */
export interface NewJob {
  score: string;
  scope: Scope;
  targets: string[];
  params: Record<string, string>;
  timeoutMs: number | null;
  deadline: number | null;
  retries: number;
  requestId: string | null;
  submittedAt: number;
  submittedBy: string;
}

/** A task that is not final, as the scheduler needs it. */
export interface OpenTask {
  id: number;
  jobId: number;
  /** Queue position; lower runs first. */
  seq: number;
  scope: Scope;
  score: string;
  params: Record<string, string>;
  /** The job's targets in the order given. */
  targets: string[];
  /** The player it is assigned to or running on; all-of: always its target. */
  host: string | null;
  state: "queued" | "assigned" | "running";
  /** The latest attempt (0 before the first). */
  attempt: number;
  /** One-of: players that refused it. */
  tried: TriedPlayer[];
  /** The job's timeout for each run (ms), or null for the score's default. */
  timeoutMs: number | null;
  /** Epoch ms by which it must start, or null. */
  deadline: number | null;
  /** Retries the job allows after a failed run. */
  retries: number;
  /** Not to be placed before then (retry backoff), or null. */
  notBefore: number | null;
  /** Runs that did not succeed so far. */
  failures: number;
  /** A cancel is pending: stop it where it runs, never place it again. */
  cancelRequested: boolean;
}

/** How a task goes back into the queue. */
export interface Requeue {
  seq: number;
  tried: TriedPlayer[];
  /** A one-of task loses its placement. */
  clearHost: boolean;
  /** Not to be placed before then (a retry's backoff); null for at once. */
  notBefore: number | null;
  failures: number;
}

/** A player as last seen. */
export interface PlayerRecord {
  name: string;
  version: string;
  slots: number;
  scores: ScoreInfo[];
  address: string | null;
  lastSeen: number;
}

type Row = Record<string, unknown>;

/** The conductor's database. */
export class ConductorStore {
  readonly db: Database;
  readonly #stmts = new Map<string, StatementSync>();

  constructor(db: Database) {
    this.db = db;
  }

  /**
   * Opens and migrates the database at `path`. It is created only with
   * `create` (a first start, `orch conductor --init`); otherwise a missing,
   * empty or foreign file is refused, so that a wrong path or a lost file
   * never silently becomes an empty queue.
   */
  static open(path: string, opts: { create: boolean }): ConductorStore {
    return new ConductorStore(
      openDatabase(path, {
        what: "conductor database",
        migrations: CONDUCTOR_MIGRATIONS,
        exclusive: true,
        create: opts.create,
        createWith: "run with --init",
        schemaTable: "jobs",
      }),
    );
  }

  #q(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  /** Closes the database. */
  close(): void {
    this.#stmts.clear();
    this.db.close();
  }

  /** This database's identity, made once with `makeId` when absent. Players use it to spot stale journals. */
  conductorId(makeId: () => string): string {
    const row = this.#q("SELECT value FROM meta WHERE key = 'conductor_id'").get() as
      | Row
      | undefined;
    if (row) return row.value as string;
    const id = makeId();
    this.#q("INSERT INTO meta (key, value) VALUES ('conductor_id', ?)").run(id);
    return id;
  }

  /** The lowest and highest queue positions in use (0, 0 when empty). */
  seqRange(): { low: number; high: number } {
    const row = this.#q("SELECT MIN(seq) AS low, MAX(seq) AS high FROM tasks").get() as Row;
    return { low: (row.low as number | null) ?? 0, high: (row.high as number | null) ?? 0 };
  }

  /** Stores a job and its tasks (one per target for all-of, one for one-of), queued at `seqs`. */
  insertJob(job: NewJob, firstSeq: number): { jobId: number; taskIds: number[] } {
    const info = this.#q(
      `INSERT INTO jobs (score, scope, targets, params, submitted_at, submitted_by, timeout_ms, deadline, retries,
         request_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      job.score,
      job.scope,
      JSON.stringify(job.targets),
      JSON.stringify(job.params),
      job.submittedAt,
      job.submittedBy,
      job.timeoutMs,
      job.deadline,
      job.retries,
      job.requestId,
    );
    const jobId = Number(info.lastInsertRowid);
    const hosts = job.scope === "all" ? job.targets : [null];
    const insert = this.#q(
      "INSERT INTO tasks (job_id, host, state, seq, updated_at) VALUES (?, ?, 'queued', ?, ?)",
    );
    const taskIds = hosts.map((host, i) =>
      Number(insert.run(jobId, host, firstSeq + i, job.submittedAt).lastInsertRowid)
    );
    return { jobId, taskIds };
  }

  /** The job a submit with `requestId` made, if one did. */
  jobByRequest(requestId: string): number | undefined {
    const row = this.#q("SELECT id FROM jobs WHERE request_id = ?").get(requestId) as
      | Row
      | undefined;
    return row ? (row.id as number) : undefined;
  }

  /** Records that `attempt` of a task went to `player`. */
  assign(taskId: number, attempt: number, player: string, now: number): void {
    this.#q(
      "UPDATE tasks SET state = 'assigned', host = ?, attempt = ?, updated_at = ? WHERE id = ?",
    )
      .run(player, attempt, now, taskId);
    this.#q(
      "INSERT INTO attempts (task_id, attempt, player, state, assigned_at) VALUES (?, ?, ?, 'assigned', ?)",
    ).run(taskId, attempt, player, now);
  }

  /** Records that the player started the attempt. */
  start(taskId: number, attempt: number, startedAt: number, now: number): void {
    this.#q("UPDATE tasks SET state = 'running', updated_at = ? WHERE id = ? AND attempt = ?")
      .run(now, taskId, attempt);
    this.#q(
      "UPDATE attempts SET state = 'running', started_at = ? WHERE task_id = ? AND attempt = ? AND state = 'assigned'",
    ).run(startedAt, taskId, attempt);
  }

  /** The state recorded for one attempt, or undefined when there is no such attempt. */
  attemptState(taskId: number, attempt: number): { state: string; player: string } | undefined {
    const row = this.#q("SELECT state, player FROM attempts WHERE task_id = ? AND attempt = ?")
      .get(taskId, attempt) as Row | undefined;
    return row ? { state: row.state as string, player: row.player as string } : undefined;
  }

  /** Ends an attempt without a result from the score (rejected, interrupted, cancelled …). */
  endAttempt(
    taskId: number,
    attempt: number,
    state: string,
    error: string | null,
    now: number,
  ): void {
    this.#q(
      "UPDATE attempts SET state = ?, error = ?, ended_at = ? WHERE task_id = ? AND attempt = ?",
    )
      .run(state, error, now, taskId, attempt);
  }

  /** Stores the result of an attempt. */
  recordResult(taskId: number, attempt: number, r: ResultBody): void {
    this.#q(
      `UPDATE attempts SET state = ?, started_at = COALESCE(started_at, ?), ended_at = ?, exit_code = ?,
         signal = ?, response = ?, stdout_tail = ?, stderr_tail = ?, error = ?
       WHERE task_id = ? AND attempt = ?`,
    ).run(
      r.outcome,
      r.started_at,
      r.ended_at,
      r.exit_code,
      r.signal,
      JSON.stringify(r.response),
      r.stdout_tail,
      r.stderr_tail,
      r.error,
      taskId,
      attempt,
    );
  }

  /** Puts a task back in the queue. */
  requeue(taskId: number, r: Requeue, now: number): void {
    this.#q(
      `UPDATE tasks SET state = 'queued', seq = ?, tried = ?, not_before = ?, failures = ?, updated_at = ?,
         host = CASE WHEN ? THEN NULL ELSE host END
       WHERE id = ?`,
    ).run(
      r.seq,
      JSON.stringify(r.tried),
      r.notBefore,
      r.failures,
      now,
      r.clearHost ? 1 : 0,
      taskId,
    );
  }

  /** Moves a task to a final state. */
  finish(
    taskId: number,
    state: TaskState,
    reason: string | null,
    tried: TriedPlayer[],
    failures: number,
    now: number,
  ): void {
    this.#q(
      "UPDATE tasks SET state = ?, reason = ?, tried = ?, failures = ?, updated_at = ? WHERE id = ?",
    )
      .run(state, reason, JSON.stringify(tried), failures, now, taskId);
  }

  /** Notes that a task is to be stopped where it runs. */
  requestCancel(taskId: number, now: number): void {
    this.#q("UPDATE tasks SET cancel_requested = 1, updated_at = ? WHERE id = ?").run(now, taskId);
  }

  /** Notes that a job was cancelled. */
  cancelJob(jobId: number, now: number): void {
    this.#q("UPDATE jobs SET cancelled_at = COALESCE(cancelled_at, ?) WHERE id = ?").run(
      now,
      jobId,
    );
  }

  /** Marks a job finished (all tasks final). */
  finishJob(jobId: number, now: number): void {
    this.#q("UPDATE jobs SET finished_at = ? WHERE id = ? AND finished_at IS NULL").run(now, jobId);
  }

  /** Every task that is not final, in queue order, with what the scheduler needs of its job. */
  openTasks(): OpenTask[] {
    const rows = this.#q(
      `SELECT t.id, t.job_id, t.seq, t.host, t.state, t.attempt, t.tried, t.not_before, t.failures,
              t.cancel_requested, j.scope, j.score, j.params, j.targets, j.timeout_ms, j.deadline, j.retries
       FROM tasks t JOIN jobs j ON j.id = t.job_id
       WHERE t.state IN ('queued', 'assigned', 'running')
       ORDER BY t.seq`,
    ).all() as Row[];
    return rows.map((r) => ({
      id: r.id as number,
      jobId: r.job_id as number,
      seq: r.seq as number,
      scope: r.scope as Scope,
      score: r.score as string,
      params: JSON.parse(r.params as string),
      targets: JSON.parse(r.targets as string),
      host: r.host as string | null,
      state: r.state as OpenTask["state"],
      attempt: r.attempt as number,
      tried: JSON.parse(r.tried as string),
      timeoutMs: r.timeout_ms as number | null,
      deadline: r.deadline as number | null,
      retries: r.retries as number,
      notBefore: r.not_before as number | null,
      failures: r.failures as number,
      cancelRequested: r.cancel_requested === 1,
    }));
  }

  /** Jobs that have every task final but are not marked finished (after a crash between the two). */
  unfinishedDoneJobs(): number[] {
    const rows = this.#q(
      `SELECT j.id FROM jobs j WHERE j.finished_at IS NULL AND NOT EXISTS
         (SELECT 1 FROM tasks t WHERE t.job_id = j.id AND t.state IN ('queued', 'assigned', 'running'))`,
    ).all() as Row[];
    return rows.map((r) => r.id as number);
  }

  /** One job with all its tasks, or undefined. */
  getJob(id: number): JobView | undefined {
    const j = this.#q("SELECT * FROM jobs WHERE id = ?").get(id) as Row | undefined;
    if (!j) return undefined;
    const rows = this.#q(
      `SELECT t.id, t.host, t.state, t.attempt, t.reason, t.tried, t.not_before, t.cancel_requested,
              a.started_at, a.ended_at, a.exit_code, a.signal, a.response, a.stdout_tail, a.stderr_tail, a.error
       FROM tasks t LEFT JOIN attempts a ON a.task_id = t.id AND a.attempt = t.attempt
       WHERE t.job_id = ? ORDER BY t.id`,
    ).all(id) as Row[];
    const attempts = new Map<number, AttemptView[]>();
    for (
      const a of this.#q(
        `SELECT a.task_id, a.attempt, a.player, a.state, a.started_at, a.ended_at, a.exit_code, a.signal, a.error
         FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = ? ORDER BY a.task_id, a.attempt`,
      ).all(id) as Row[]
    ) {
      const list = attempts.get(a.task_id as number) ?? [];
      list.push({
        attempt: a.attempt as number,
        player: a.player as string,
        state: a.state as string,
        started_at: a.started_at as number | null,
        ended_at: a.ended_at as number | null,
        exit_code: a.exit_code as number | null,
        signal: a.signal as string | null,
        error: a.error as string | null,
      });
      attempts.set(a.task_id as number, list);
    }
    const tasks: TaskView[] = rows.map((r) => ({
      id: r.id as number,
      host: r.host as string | null,
      state: r.state as TaskState,
      attempt: r.attempt as number,
      reason: (r.reason as string | null) ?? (r.error as string | null) ?? null,
      exit_code: (r.exit_code as number | null) ?? null,
      signal: (r.signal as string | null) ?? null,
      started_at: (r.started_at as number | null) ?? null,
      ended_at: (r.ended_at as number | null) ?? null,
      response: r.response ? JSON.parse(r.response as string) : null,
      stdout_tail: (r.stdout_tail as string | null) ?? "",
      stderr_tail: (r.stderr_tail as string | null) ?? "",
      tried: JSON.parse(r.tried as string),
      attempts: attempts.get(r.id as number) ?? [],
      not_before: (r.not_before as number | null) ?? null,
      cancel_requested: r.cancel_requested === 1,
    }));
    return {
      id: j.id as number,
      score: j.score as string,
      scope: j.scope as Scope,
      targets: JSON.parse(j.targets as string),
      params: JSON.parse(j.params as string),
      submitted_at: j.submitted_at as number,
      submitted_by: j.submitted_by as string,
      finished_at: (j.finished_at as number | null) ?? null,
      timeout_ms: (j.timeout_ms as number | null) ?? null,
      deadline: (j.deadline as number | null) ?? null,
      retries: j.retries as number,
      cancelled_at: (j.cancelled_at as number | null) ?? null,
      aggregate: aggregateOf(tasks.map((t) => t.state)),
      tasks,
    };
  }

  /** The newest jobs first, at most `limit`, with ids below `before` when given. */
  listJobs(limit: number, before?: number): JobSummary[] {
    const jobs = this.#q(
      `SELECT id, score, scope, targets, submitted_at, submitted_by, finished_at FROM jobs
       WHERE id < ? ORDER BY id DESC LIMIT ?`,
    ).all(before ?? Number.MAX_SAFE_INTEGER, limit) as Row[];
    if (jobs.length === 0) return [];
    const counts = this.#q(
      `SELECT job_id, state, COUNT(*) AS n FROM tasks WHERE job_id BETWEEN ? AND ?
       GROUP BY job_id, state`,
    ).all(jobs[jobs.length - 1].id as number, jobs[0].id as number) as Row[];
    const byJob = new Map<number, Partial<Record<TaskState, number>>>();
    for (const c of counts) {
      const m = byJob.get(c.job_id as number) ?? {};
      m[c.state as TaskState] = c.n as number;
      byJob.set(c.job_id as number, m);
    }
    return jobs.map((j) => {
      const c = byJob.get(j.id as number) ?? {};
      return {
        id: j.id as number,
        score: j.score as string,
        scope: j.scope as Scope,
        targets: (JSON.parse(j.targets as string) as string[]).length,
        submitted_at: j.submitted_at as number,
        submitted_by: j.submitted_by as string,
        finished_at: (j.finished_at as number | null) ?? null,
        aggregate: aggregateOfCounts(c),
        counts: c,
      };
    });
  }

  /** Records what a player announced when it connected. */
  savePlayer(p: PlayerRecord): void {
    this.#q(
      `INSERT INTO players (name, version, slots, scores, address, first_seen, last_seen)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET version = excluded.version, slots = excluded.slots,
         scores = excluded.scores, address = excluded.address, last_seen = excluded.last_seen`,
    ).run(p.name, p.version, p.slots, JSON.stringify(p.scores), p.address, p.lastSeen, p.lastSeen);
  }

  /** Notes when a player was last heard from. */
  touchPlayer(name: string, now: number): void {
    this.#q("UPDATE players SET last_seen = ? WHERE name = ?").run(now, name);
  }

  /** Every player ever seen. */
  players(): PlayerRecord[] {
    const rows = this.#q("SELECT * FROM players ORDER BY name").all() as Row[];
    return rows.map((r) => ({
      name: r.name as string,
      version: r.version as string,
      slots: r.slots as number,
      scores: JSON.parse(r.scores as string),
      address: r.address as string | null,
      lastSeen: r.last_seen as number,
    }));
  }
}

/** A player as the API shows it, from its record and live session facts. */
export function playerView(
  name: string,
  rec: PlayerRecord | undefined,
  live: { connected: boolean; address: string | null; slots: number; running: number },
  authorised: boolean,
): PlayerView {
  return {
    name,
    authorised,
    connected: live.connected,
    address: live.address ?? rec?.address ?? null,
    version: rec?.version ?? null,
    slots: live.connected ? live.slots : rec?.slots ?? 0,
    running: live.running,
    scores: (rec?.scores ?? []).map((s) => s.name),
    last_seen: rec?.lastSeen ?? null,
  };
}
