/**
 * The conductor's store in one SQLite file: {@linkcode ConductorStore} over
 * `node:sqlite`.
 *
 * A write collects what `fn` asks for, then applies it in one `BEGIN
 * IMMEDIATE … COMMIT` with multi-row statements (one per kind of change and
 * chunk of rows), prepared once per chunk size. Collecting first keeps the
 * write lock only for the statements, merges the changes of several jobs
 * into the same statements, and leaves nothing to undo when `fn` throws.
 * Everything runs synchronously on one connection, so a read never sees a
 * write in the middle.
 *
 * @module
 */

import type { SQLInputValue, StatementSync } from "node:sqlite";
import {
  type Aggregate,
  type AuditRecord,
  callerLabel,
  type JobQuery,
  type JobSummary,
  type JobView,
  MAX_VIEW_TARGETS,
  type TaskDetail,
  type TaskPage,
  type TaskQuery,
  type TaskState,
} from "../protocol/mod.ts";
import { OrchError } from "../errors.ts";
import { type Database, openDatabase } from "./db.ts";
import { type Args, MultiRow } from "./_multi_row.ts";
import {
  ATTEMPT_COLUMNS,
  AUDIT_COLUMNS,
  DONE_JOBS_SQL,
  JOB_COLUMNS,
  jobsPageSql,
  OPEN_TASKS_SQL,
  PLAYER_COLUMNS,
  TASK_COLUMNS,
  TASK_VIEW_COLUMNS,
} from "./_sqlite_sql.ts";
import { CONDUCTOR_MIGRATIONS, FINAL_AGGREGATE_SQL } from "./conductor_schema.ts";
import {
  checkAuditQuery,
  checkJobQuery,
  checkTaskQuery,
  countsByJob,
  countsOf,
  jobSummary,
  jobView,
  taskDetail,
  taskPage,
} from "./_views.ts";
import {
  attemptOf,
  attemptsByTask,
  auditOf,
  droppedOf,
  finishedHostsOf,
  finishedOf,
  jobAccessOf,
  jobOf,
  jsonList,
  playerOf,
  requestOf,
  scheduleOf,
  storedParams,
} from "./rows.ts";
import { Changes, type ScheduleOp } from "./_changes.ts";
import type {
  AttemptResult,
  AttemptRow,
  AuditQuery,
  ConductorStore,
  JobAccess,
  JobRecord,
  NewAuditRecord,
  PlayerRecord,
  PruneCount,
  PruneRequest,
  RequestRecord,
  ScheduleRecord,
  StoreSnapshot,
  TaskRow,
  WriteTx,
} from "./types.ts";

/** Options for {@linkcode SqliteStore.open}. */
export interface SqliteStoreOptions {
  /**
   * Whether a missing (or empty) database may be made; without it, one is
   * refused, naming the file (`orch conductor --init` sets it).
   */
  create?: boolean;
  /** Told when the file's mode let others read it (it is then made 0600). */
  warn?: (message: string, fields: Record<string, unknown>) => void;
}

type Row = Record<string, SQLInputValue>;
type Cells = SQLInputValue[];

/** A statement that returns rows as arrays. */
interface ArrayStatement {
  all(...args: SQLInputValue[]): Cells[];
  get(...args: SQLInputValue[]): Cells | undefined;
}

function bindTask(t: TaskRow, out: Args): void {
  out.push(
    t.id,
    t.jobId,
    t.seq,
    t.host,
    t.state,
    t.attempt,
    jsonList(t.tried),
    t.notBefore,
    t.failures,
    t.cancelRequested ? 1 : 0,
    t.reason,
    t.updatedAt,
    t.assignedAt,
    t.startedAt,
    t.endedAt,
  );
  bindResult(t.result, out);
  bindDropped(t.result, out);
}

function bindAttempt(a: AttemptRow, out: Args): void {
  out.push(a.taskId, a.attempt, a.player, a.state, a.assignedAt, a.startedAt, a.endedAt);
  bindResult(a.result, out);
  out.push(a.error);
  bindDropped(a.result, out);
}

/** The counts of output bytes dropped: stdout_dropped, stderr_dropped; null without a result. */
function bindDropped(r: AttemptResult | null, out: Args): void {
  out.push(r ? r.stdoutDropped ?? 0 : null, r ? r.stderrDropped ?? 0 : null);
}

/** The result columns shared by tasks and attempts: exit_code … stderr_tail. */
function bindResult(r: AttemptResult | null, out: Args): void {
  out.push(
    r ? r.exitCode : null,
    r ? r.signal : null,
    r?.response ? JSON.stringify(r.response) : null,
    r ? r.stdoutTail : null,
    r ? r.stderrTail : null,
  );
}

function bindJob(j: JobRecord, out: Args): void {
  const secretKeys = Object.keys(j.secrets);
  out.push(
    j.id,
    j.score,
    j.scope,
    JSON.stringify(j.targets),
    storedParams(j),
    j.submittedAt,
    callerLabel(j.caller),
    j.timeoutMs,
    j.deadline,
    j.retries,
    j.requestId,
    JSON.stringify(j.caller),
    j.targets.length,
    secretKeys.length === 0 ? null : JSON.stringify(j.secrets),
    j.rollout === null ? null : JSON.stringify(j.rollout),
    j.schedule ?? null,
    j.asked === undefined ? null : JSON.stringify(j.asked),
    j.requestDigest ?? null,
  );
}

function bindPlayer(p: PlayerRecord, out: Args): void {
  out.push(p.name, p.version, p.slots, JSON.stringify(p.scores), p.address, p.lastSeen, p.lastSeen);
}

function bindAudit(a: NewAuditRecord, out: Args): void {
  out.push(
    a.at,
    a.who,
    a.auth,
    a.transport,
    a.from,
    a.action,
    a.subject,
    a.job_id,
    a.outcome,
    a.reason,
  );
}

function bindPair(p: readonly [SQLInputValue, SQLInputValue], out: Args): void {
  out.push(p[0], p[1]);
}

/**
 * A task from a row of {@linkcode TASK_COLUMNS} as an array (start-up reads
 * 100,000s of them: arrays cost half what objects do). Without the tails
 * ({@linkcode TASK_VIEW_COLUMNS}), the result is what a view shows of it.
 */
function taskOf(r: Cells): TaskRow {
  const tried = r[6] as string;
  const exitCode = r[15] as number | null;
  const signal = r[16] as string | null;
  const response = r[17] as string | null;
  let result: AttemptResult | null = null;
  if (r.length > 18 ? r[18] !== null : exitCode !== null || signal !== null || response !== null) {
    result = {
      exitCode,
      signal,
      response: response === null ? null : JSON.parse(response),
      stdoutTail: (r[18] as string | null | undefined) ?? "",
      stderrTail: (r[19] as string | null | undefined) ?? "",
      ...droppedOf(r[20], r[21]),
    };
  }
  return {
    id: r[0] as number,
    jobId: r[1] as number,
    seq: r[2] as number,
    host: r[3] as string | null,
    state: r[4] as TaskState,
    attempt: r[5] as number,
    tried: tried === "[]" ? [] : JSON.parse(tried),
    notBefore: r[7] as number | null,
    failures: r[8] as number,
    cancelRequested: r[9] === 1,
    reason: r[10] as string | null,
    updatedAt: r[11] as number,
    assignedAt: r[12] as number | null,
    startedAt: r[13] as number | null,
    endedAt: r[14] as number | null,
    result,
  };
}

/**
 * Free pages given back to the file system after each prune, at most, when
 * the database was made with `auto_vacuum = INCREMENTAL` (1 MiB at the
 * default page size): moving pages costs I/O, so it is done a little at a
 * time, like the prune itself.
 */
export const VACUUM_PAGES_PER_PRUNE = 256;

/** The conductor's store in a SQLite file. */
export class SqliteStore implements ConductorStore {
  readonly #db: Database;
  readonly #path: string;
  readonly #stmts = new Map<string, StatementSync>();
  readonly #insertJobs: MultiRow<JobRecord>;
  readonly #insertTasks: MultiRow<TaskRow>;
  readonly #saveTasks: MultiRow<TaskRow>;
  readonly #saveTasksInPlace: MultiRow<TaskRow>;
  readonly #insertAttempts: MultiRow<AttemptRow>;
  readonly #finishJobs: MultiRow<readonly [number, number]>;
  readonly #cancelJobs: MultiRow<readonly [number, number]>;
  readonly #savePlayers: MultiRow<PlayerRecord>;
  readonly #touchPlayers: MultiRow<readonly [string, number]>;
  readonly #insertAudit: MultiRow<NewAuditRecord>;
  /**
   * Queue position and host of each open task as last committed, so that a
   * save that changes neither leaves them out: an UPDATE rewrites the index
   * entries of every column it sets, changed or not, and those two indexes
   * make up half the cost of a save.
   */
  readonly #placed = new Map<number, { seq: number; host: string | null }>();
  #writing = false;
  #closed = false;

  private constructor(db: Database, path: string) {
    this.#db = db;
    this.#path = path;
    const cols = (c: readonly string[]) => c.join(", ");
    this.#insertJobs = new MultiRow(db, {
      head: `INSERT INTO jobs (${cols(JOB_COLUMNS)})`,
      width: JOB_COLUMNS.length,
      bind: bindJob,
    });
    this.#insertTasks = new MultiRow(db, {
      head: `INSERT INTO tasks (${cols(TASK_COLUMNS)})`,
      width: TASK_COLUMNS.length,
      bind: bindTask,
    });
    // A task never changes job; leaving job_id out spares its index the update.
    const set = TASK_COLUMNS.filter((c) => c !== "id" && c !== "job_id")
      .map((c) => `${c} = excluded.${c}`).join(", ");
    this.#saveTasks = new MultiRow(db, {
      head: `INSERT INTO tasks (${cols(TASK_COLUMNS)})`,
      width: TASK_COLUMNS.length,
      tail: `ON CONFLICT (id) DO UPDATE SET ${set}`,
      bind: bindTask,
    });
    const inPlace = TASK_COLUMNS.filter((c) => !["id", "job_id", "seq", "host"].includes(c))
      .map((c) => `${c} = excluded.${c}`).join(", ");
    this.#saveTasksInPlace = new MultiRow(db, {
      head: `INSERT INTO tasks (${cols(TASK_COLUMNS)})`,
      width: TASK_COLUMNS.length,
      tail: `ON CONFLICT (id) DO UPDATE SET ${inPlace}`,
      bind: bindTask,
    });
    this.#insertAttempts = new MultiRow(db, {
      head: `INSERT INTO attempts (${cols(ATTEMPT_COLUMNS)})`,
      width: ATTEMPT_COLUMNS.length,
      bind: bindAttempt,
    });
    this.#finishJobs = new MultiRow(db, {
      head:
        `UPDATE jobs SET finished_at = v.column2, final_aggregate = ${FINAL_AGGREGATE_SQL} FROM (`,
      width: 2,
      tail: ") AS v WHERE jobs.id = v.column1 AND jobs.finished_at IS NULL",
      bind: bindPair,
    });
    this.#cancelJobs = new MultiRow(db, {
      head: "UPDATE jobs SET cancelled_at = v.column2 FROM (",
      width: 2,
      tail: ") AS v WHERE jobs.id = v.column1 AND jobs.cancelled_at IS NULL",
      bind: bindPair,
    });
    this.#savePlayers = new MultiRow(db, {
      head: `INSERT INTO players (${cols(PLAYER_COLUMNS)})`,
      width: PLAYER_COLUMNS.length,
      tail: `ON CONFLICT (name) DO UPDATE SET version = excluded.version, slots = excluded.slots,
        scores = excluded.scores, address = excluded.address, last_seen = excluded.last_seen`,
      bind: bindPlayer,
    });
    this.#touchPlayers = new MultiRow(db, {
      head: "UPDATE players SET last_seen = v.column2 FROM (",
      width: 2,
      tail: ") AS v WHERE players.name = v.column1",
      bind: bindPair,
    });
    this.#insertAudit = new MultiRow(db, {
      head: `INSERT INTO audit (${cols(AUDIT_COLUMNS)})`,
      width: AUDIT_COLUMNS.length,
      bind: bindAudit,
    });
  }

  /**
   * Opens the conductor database at `path` (WAL, every commit fsync'd, held
   * by this process alone), creating and migrating it as needed.
   */
  static open(path: string, opts: SqliteStoreOptions = {}): SqliteStore {
    const db = openDatabase(path, {
      what: "conductor database",
      migrations: CONDUCTOR_MIGRATIONS,
      exclusive: true,
      create: opts.create ?? false,
      createWith: "run with --init",
      schemaTable: "jobs",
      warn: opts.warn,
      incrementalVacuum: true,
    });
    return new SqliteStore(db, path);
  }

  #q(sql: string): StatementSync {
    if (this.#closed) throw new Error(`conductor database ${this.#path} is closed`);
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  /**
   * A cached statement whose rows come as arrays of the selected columns
   * (`setReturnArrays`, in Deno's `node:sqlite` but not yet in its types).
   */
  #qa(sql: string): ArrayStatement {
    if (this.#closed) throw new Error(`conductor database ${this.#path} is closed`);
    const key = `arrays:${sql}`;
    let s = this.#stmts.get(key);
    if (!s) {
      s = this.#db.prepare(sql);
      (s as unknown as { setReturnArrays(on: boolean): void }).setReturnArrays(true);
      this.#stmts.set(key, s);
    }
    return s as unknown as ArrayStatement;
  }

  // ------------------------------------------------------------------ write

  write(fn: (tx: WriteTx) => void): Promise<void> {
    try {
      this.#write(fn);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #write(fn: (tx: WriteTx) => void): void {
    if (this.#closed) throw new Error(`conductor database ${this.#path} is closed`);
    if (this.#writing) throw new Error("a write was started inside another write");
    const c = new Changes();
    this.#writing = true;
    try {
      const out: unknown = fn(c);
      if (out instanceof Promise) {
        out.catch(() => {}); // Its failure is reported here, not as an unhandled rejection.
        throw new TypeError("the function of a write must not be async: it would write too late");
      }
    } finally {
      c.open = false;
      this.#writing = false;
    }
    const db = this.#db;
    try {
      db.exec("BEGIN IMMEDIATE");
      if (c.conductorId !== null) {
        this.#q("INSERT INTO meta (key, value) VALUES ('conductor_id', ?)").run(c.conductorId);
      }
      this.#insertJobs.run(c.jobs);
      this.#insertTasks.run(c.inserted);
      const saved = [...c.saved.values()];
      const { moved, inPlace } = this.#sortSaves(saved);
      this.#saveTasks.run(moved);
      this.#saveTasksInPlace.run(inPlace);
      this.#insertAttempts.run(c.attempts);
      if (c.finished.size > 0) this.#finishJobs.run([...c.finished]);
      if (c.cancelled.size > 0) this.#cancelJobs.run([...c.cancelled]);
      this.#savePlayers.run([...c.players.values()]);
      if (c.touched.size > 0) this.#touchPlayers.run([...c.touched]);
      for (const [name, at] of c.drained) {
        if (at === null) this.#q("DELETE FROM drained_players WHERE name = ?").run(name);
        else {
          this.#q(
            "INSERT INTO drained_players (name, at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
          ).run(name, at);
        }
      }
      this.#insertAudit.run(c.audit);
      for (const op of c.schedules) this.#scheduleOp(op);
      const pruned = c.prunes.map((p) => this.#prune(p.req));
      // Freed pages go back to the file system a few at a time (nothing without auto_vacuum).
      if (pruned.some((n) => n.jobs + n.tasks + n.audit > 0)) {
        // Each page is one step of the statement: exec would step it once (one page).
        this.#q(`PRAGMA incremental_vacuum(${VACUUM_PAGES_PER_PRUNE})`).all();
      }
      db.exec("COMMIT");
      this.#place(c.inserted);
      this.#place(saved);
      c.prunes.forEach((p, i) => p.done(pruned[i]));
    } catch (err) {
      // A COMMIT that fails (a deferred constraint, an I/O error) leaves the transaction open.
      try {
        if (db.isTransaction) db.exec("ROLLBACK");
      } catch {
        // SQLite rolls back by itself when it cannot go on; the first error is the one to report.
      }
      throw new OrchError(
        "internal",
        `cannot write to conductor database ${this.#path}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  /**
   * Removes up to `req.maxRows` rows of finished jobs (oldest first; jobs
   * marked as being pruned before any other) and then of old audit records.
   */
  #prune(req: PruneRequest): PruneCount {
    const count: PruneCount = { jobs: 0, tasks: 0, audit: 0, more: false };
    let budget = req.maxRows;
    const marked = (this.#q(
      "SELECT id FROM jobs WHERE pruning IS NOT NULL ORDER BY id LIMIT ?",
    ).all(budget) as Row[]).map((r) => r.id as number);
    const old = (this.#q(
      `SELECT id FROM jobs WHERE finished_at < ? AND pruning IS NULL
       ORDER BY finished_at, id LIMIT ?`,
    ).all(req.before, budget) as Row[]).map((r) => r.id as number);
    if (marked.length > 0 || old.length > 0) {
      // Ids are never used twice: the highest ever used outlive the jobs and tasks that had them.
      this.#q(
        `INSERT INTO meta (key, value)
         VALUES ('max_job_id', CAST((SELECT COALESCE(MAX(id), 0) FROM jobs) AS TEXT)),
                ('max_task_id', CAST((SELECT COALESCE(MAX(id), 0) FROM tasks) AS TEXT))
         ON CONFLICT (key) DO UPDATE SET value = CAST(MAX(CAST(value AS INTEGER),
           CAST(excluded.value AS INTEGER)) AS TEXT)`,
      ).run();
    }
    for (const id of [...marked, ...old]) {
      if (budget <= 0) break;
      const n = this.#q(
        `SELECT (SELECT COUNT(*) FROM tasks WHERE job_id = ?1) AS tasks,
                (SELECT COUNT(*) FROM attempts
                 WHERE task_id IN (SELECT id FROM tasks WHERE job_id = ?1)) AS attempts`,
      ).get(id) as Row;
      const rows = 1 + (n.tasks as number) + (n.attempts as number);
      if (rows <= budget) {
        this.#q("DELETE FROM attempts WHERE task_id IN (SELECT id FROM tasks WHERE job_id = ?)")
          .run(id);
        this.#q("DELETE FROM tasks WHERE job_id = ?").run(id);
        this.#q("DELETE FROM jobs WHERE id = ?").run(id);
        budget -= rows;
        count.jobs++;
        count.tasks += n.tasks as number;
        continue;
      }
      // Too big for what is left: it disappears from views now and goes over several prunes.
      // Its request id goes too, so that a submit sent again cannot find a job being removed.
      this.#q("UPDATE jobs SET pruning = 1, request_id = NULL WHERE id = ? AND pruning IS NULL")
        .run(id);
      const ids: number[] = [];
      let used = 0;
      for (
        const r of this.#q(
          `SELECT id, (SELECT COUNT(*) FROM attempts WHERE task_id = tasks.id) AS n
           FROM tasks WHERE job_id = ? ORDER BY id LIMIT ?`,
        ).all(id, budget) as Row[]
      ) {
        const cost = 1 + (r.n as number);
        // One task at least, so that a prune always moves on.
        if (used + cost > budget && !(ids.length === 0 && budget === req.maxRows)) break;
        ids.push(r.id as number);
        used += cost;
      }
      const list = JSON.stringify(ids);
      this.#q("DELETE FROM attempts WHERE task_id IN (SELECT value FROM json_each(?))").run(list);
      this.#q("DELETE FROM tasks WHERE id IN (SELECT value FROM json_each(?))").run(list);
      count.tasks += ids.length;
      budget = 0;
    }
    if (budget > 0 && req.auditBefore !== null) {
      const r = this.#q(
        `DELETE FROM audit WHERE id IN (
           SELECT id FROM audit WHERE at < ? ORDER BY at, id LIMIT ?)`,
      ).run(req.auditBefore, budget);
      count.audit = Number(r.changes);
      budget -= count.audit;
    }
    count.more = budget <= 0;
    return count;
  }

  #scheduleOp(op: ScheduleOp): void {
    switch (op.op) {
      case "add": {
        const s = op.schedule;
        this.#q(
          `INSERT INTO schedules (name, spec, policy, job, owner, owner_groups, created_at,
             last_due, enabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          s.name,
          JSON.stringify(s.spec),
          s.policy,
          JSON.stringify(s.job),
          JSON.stringify(s.owner),
          JSON.stringify(s.ownerGroups),
          s.createdAt,
          s.lastDue,
          s.enabled ? 1 : 0,
        );
        return;
      }
      case "remove":
        this.#q("DELETE FROM schedules WHERE name = ?").run(op.name);
        return;
      case "due":
        this.#q("UPDATE schedules SET last_due = ? WHERE name = ?").run(op.lastDue, op.name);
        return;
    }
  }

  /**
   * Splits saves into those that move a task (a new queue position or
   * host, or one not known to be placed as it says) and those that do not.
   */
  #sortSaves(saved: readonly TaskRow[]): { moved: TaskRow[]; inPlace: TaskRow[] } {
    const moved: TaskRow[] = [];
    const inPlace: TaskRow[] = [];
    const seen = new Set<number>();
    for (const t of saved) {
      // A task saved twice in one write: the two statements could apply its images out of order.
      if (seen.has(t.id)) return { moved: [...saved], inPlace: [] };
      seen.add(t.id);
      const p = this.#placed.get(t.id);
      if (p !== undefined && p.seq === t.seq && p.host === t.host) inPlace.push(t);
      else moved.push(t);
    }
    return { moved, inPlace };
  }

  /** Notes where committed tasks are; final tasks are forgotten. */
  #place(tasks: readonly TaskRow[]): void {
    for (const t of tasks) {
      if (t.state === "queued" || t.state === "assigned" || t.state === "running") {
        this.#placed.set(t.id, { seq: t.seq, host: t.host });
      } else {
        this.#placed.delete(t.id);
      }
    }
  }

  // ------------------------------------------------------------------- load

  load(): Promise<StoreSnapshot> {
    try {
      return Promise.resolve(this.#load());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #load(): StoreSnapshot {
    const meta = this.#q("SELECT value FROM meta WHERE key = 'conductor_id'").get() as
      | Row
      | undefined;
    const ids = this.#q(
      `SELECT MAX((SELECT COALESCE(MAX(id), 0) FROM jobs),
                  (SELECT COALESCE(MAX(CAST(value AS INTEGER)), 0) FROM meta
                   WHERE key = 'max_job_id')) AS job,
              MAX((SELECT COALESCE(MAX(id), 0) FROM tasks),
                  (SELECT COALESCE(MAX(CAST(value AS INTEGER)), 0) FROM meta
                   WHERE key = 'max_task_id')) AS task,
              (SELECT MIN(seq) FROM tasks) AS low, (SELECT MAX(seq) FROM tasks) AS high`,
    ).get() as Row;
    const rows = this.#qa(OPEN_TASKS_SQL).all();
    // Queue order: seq (column 2), then id (column 0).
    rows.sort((a, b) => (a[2] as number) - (b[2] as number) || (a[0] as number) - (b[0] as number));
    const tasks = rows.map(taskOf);
    this.#placed.clear();
    this.#place(tasks);
    const jobIds = [...new Set(tasks.map((t) => t.jobId))].sort((a, b) => a - b);
    const jobs = (this.#q(
      `SELECT ${JOB_COLUMNS.join(", ")} FROM jobs
       WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`,
    ).all(JSON.stringify(jobIds)) as Row[]).map(jobOf);
    const finished = (this.#q(
      `SELECT job_id, SUM(state = 'succeeded') AS succeeded, COUNT(*) AS n FROM tasks
       WHERE job_id IN (SELECT value FROM json_each(?))
         AND state NOT IN ('queued', 'assigned', 'running')
       GROUP BY job_id ORDER BY job_id`,
    ).all(JSON.stringify(jobIds)) as Row[]).map(finishedOf);
    const nOf = jobs.filter((j) => j.rollout?.some != null).map((j) => j.id);
    const finishedHosts = nOf.length === 0 ? [] : finishedHostsOf(
      this.#q(
        `SELECT job_id, host FROM tasks
         WHERE job_id IN (SELECT value FROM json_each(?)) AND host IS NOT NULL
           AND state NOT IN ('queued', 'assigned', 'running')
         ORDER BY job_id, id`,
      ).all(JSON.stringify(nOf)) as Row[],
    );
    const done = this.#q(DONE_JOBS_SQL).all() as Row[];
    const players = (this.#q(
      `SELECT ${PLAYER_COLUMNS.join(", ")} FROM players ORDER BY name`,
    ).all() as Row[]).map(playerOf);
    return {
      conductorId: meta ? (meta.value as string) : null,
      maxJobId: (ids.job as number | null) ?? 0,
      maxTaskId: (ids.task as number | null) ?? 0,
      seqLow: (ids.low as number | null) ?? 0,
      seqHigh: (ids.high as number | null) ?? 0,
      jobs,
      tasks,
      finishedHosts,
      finished,
      unfinishedDoneJobs: done.map((r) => r.id as number),
      players,
      drained: (this.#q("SELECT name FROM drained_players ORDER BY name").all() as Row[]).map((r) =>
        r.name as string
      ),
    };
  }

  // ------------------------------------------------------------------ views

  jobIdByRequest(requestId: string): Promise<number | undefined> {
    return this.#read(() => {
      const r = this.#q("SELECT id FROM jobs WHERE request_id = ?").get(requestId) as
        | Row
        | undefined;
      return r ? (r.id as number) : undefined;
    });
  }

  jobByRequest(requestId: string): Promise<RequestRecord | undefined> {
    return this.#read(() => {
      const r = this.#q(
        "SELECT id, submitted_by, request_digest FROM jobs WHERE request_id = ?",
      ).get(requestId) as Row | undefined;
      return r ? requestOf(r) : undefined;
    });
  }

  job(id: number): Promise<JobView | undefined> {
    return this.#read(() => {
      const j = this.#q(
        `SELECT id, score, scope, target_count, params, secrets, submitted_at, submitted_by, caller,
                finished_at, timeout_ms, deadline, retries, cancelled_at, rollout, schedule,
                (SELECT json_group_array(value ORDER BY key) FROM json_each(jobs.targets)
                 WHERE key < ${MAX_VIEW_TARGETS}) AS targets_head,
                CASE WHEN jobs.asked IS NULL THEN NULL ELSE
                  (SELECT json_group_array(value ORDER BY key) FROM json_each(jobs.asked)
                   WHERE key < ${MAX_VIEW_TARGETS}) END AS asked_head
         FROM jobs WHERE id = ? AND pruning IS NULL`,
      ).get(id) as Row | undefined;
      if (!j) return undefined;
      const { counts, total } = countsOf(
        this.#q("SELECT state, COUNT(*) AS n FROM tasks WHERE job_id = ? GROUP BY state").all(
          id,
        ) as Row[],
      );
      return jobView(j, counts, total);
    });
  }

  tasks(jobId: number, query: TaskQuery): Promise<TaskPage | undefined> {
    return this.#read(() => {
      checkTaskQuery(query);
      if (!this.#q("SELECT 1 FROM jobs WHERE id = ? AND pruning IS NULL").get(jobId)) {
        return undefined;
      }
      let where = "job_id = ?";
      const args: Args = [jobId];
      if (query.state !== undefined) {
        where += " AND state = ?";
        args.push(query.state);
      }
      if (query.host !== undefined) {
        where += " AND host = ?";
        args.push(query.host);
      }
      const total = (this.#q(`SELECT COUNT(*) AS n FROM tasks WHERE ${where}`).get(...args) as Row)
        .n as number;
      const cols = query.output ? TASK_COLUMNS : TASK_VIEW_COLUMNS;
      const rows = (this.#qa(
        `SELECT ${cols.join(", ")} FROM tasks WHERE ${where} ORDER BY id LIMIT ? OFFSET ?`,
      ).all(...args, query.limit, (query.page - 1) * query.limit)).map(taskOf);
      let history: Map<number, AttemptRow[]> | null = null;
      if (query.output) {
        history = rows.length === 0 ? new Map<number, AttemptRow[]>() : attemptsByTask(
          this.#q(
            `SELECT ${ATTEMPT_COLUMNS.join(", ")} FROM attempts
             WHERE task_id IN (SELECT value FROM json_each(?)) ORDER BY task_id, attempt`,
          ).all(JSON.stringify(rows.map((t) => t.id))) as Row[],
        );
      }
      return taskPage(jobId, query, total, rows, history);
    });
  }

  task(jobId: number, taskId: number): Promise<TaskDetail | undefined> {
    return this.#read(() => {
      const r = this.#qa(
        `SELECT ${TASK_COLUMNS.join(", ")} FROM tasks
         WHERE id = ? AND job_id = (SELECT id FROM jobs WHERE id = ? AND pruning IS NULL)`,
      ).get(taskId, jobId);
      if (!r) return undefined;
      const history = (this.#q(
        `SELECT ${ATTEMPT_COLUMNS.join(", ")} FROM attempts WHERE task_id = ? ORDER BY attempt`,
      ).all(taskId) as Row[]).map(attemptOf);
      return taskDetail(taskOf(r), history);
    });
  }

  jobs(query: JobQuery): Promise<JobSummary[]> {
    return this.#read(() => {
      checkJobQuery(query);
      let where = "";
      const args: Args = [];
      if (query.score !== undefined) {
        where += " AND score = ?";
        args.push(query.score);
      }
      if (query.submittedBy !== undefined) {
        where += " AND submitted_by = ?";
        args.push(query.submittedBy);
      }
      if (query.since !== undefined) {
        where += " AND submitted_at >= ?";
        args.push(query.since);
      }
      if (query.until !== undefined) {
        where += " AND submitted_at < ?";
        args.push(query.until);
      }
      const { limit, before, state } = query;
      switch (state) {
        case undefined:
          return this.#jobPage(where, args, limit, before);
        case "open":
          return this.#jobPage(`${where} AND finished_at IS NULL`, args, limit, before);
        case "finished":
          return this.#jobPage(`${where} AND finished_at IS NOT NULL`, args, limit, before);
        case "pending":
        case "running":
          return this.#jobPage(`${where} AND finished_at IS NULL`, args, limit, before, state);
        case "partial":
          return this.#jobPage(`${where} AND final_aggregate = ?`, [...args, state], limit, before);
        case "success":
        case "failure": {
          // Finished jobs through their stored aggregate; an open job has one of these only
          // once its quorum is reached or out of reach, so only open jobs with a quorum are read.
          const done = this.#jobPage(
            `${where} AND final_aggregate = ?`,
            [...args, state],
            limit,
            before,
          );
          const open = this.#jobPage(
            `${where} AND finished_at IS NULL AND json_extract(rollout, '$.quorum') IS NOT NULL`,
            args,
            limit,
            before,
            state,
          );
          return [...done, ...open].sort((a, b) => b.id - a.id).slice(0, limit);
        }
      }
    });
  }

  /**
   * The newest jobs (below `before`) matching `where` (SQL terms, each
   * starting with AND), at most `limit`; with `aggregate`, only those whose
   * aggregate it is, read a page at a time until enough are found.
   */
  #jobPage(
    where: string,
    args: Args,
    limit: number,
    before: number | undefined,
    aggregate?: Aggregate,
  ): JobSummary[] {
    const found: JobSummary[] = [];
    let below = before ?? Number.MAX_SAFE_INTEGER;
    for (;;) {
      const jobs = this.#q(jobsPageSql(where)).all(below, ...args, limit) as Row[];
      for (const j of this.#summaries(jobs)) {
        if (aggregate === undefined || j.aggregate === aggregate) found.push(j);
      }
      if (aggregate === undefined || found.length >= limit || jobs.length < limit) {
        return found.slice(0, limit);
      }
      below = jobs[jobs.length - 1].id as number;
    }
  }

  /** Job rows as lines of the job list, with their counts per state. */
  #summaries(jobs: Row[]): JobSummary[] {
    if (jobs.length === 0) return [];
    // The jobs of one submitter may be far apart: counted job by job, not over an id range.
    const byJob = countsByJob(
      this.#q(
        `SELECT job_id, state, COUNT(*) AS n FROM tasks
         WHERE job_id IN (SELECT value FROM json_each(?)) GROUP BY job_id, state`,
      ).all(JSON.stringify(jobs.map((j) => j.id))) as Row[],
    );
    return jobs.map((j) => jobSummary(j, byJob.get(j.id as number) ?? {}));
  }

  jobAccess(id: number): Promise<JobAccess | undefined> {
    return this.#read(() => {
      const r = this.#q(
        "SELECT score, targets, submitted_by FROM jobs WHERE id = ? AND pruning IS NULL",
      ).get(id) as
        | Row
        | undefined;
      return r ? jobAccessOf(r) : undefined;
    });
  }

  audit(q: AuditQuery): Promise<AuditRecord[]> {
    return this.#read(() => {
      checkAuditQuery(q);
      const where = ["id < ?", "at >= ?"];
      const args: SQLInputValue[] = [q.before ?? Number.MAX_SAFE_INTEGER, q.since ?? 0];
      if (q.who !== undefined) {
        where.push("who = ?");
        args.push(q.who);
      }
      const rows = this.#q(
        `SELECT id, ${AUDIT_COLUMNS.join(", ")} FROM audit WHERE ${where.join(" AND ")}
         ORDER BY id DESC LIMIT ?`,
      ).all(...args, q.limit) as Row[];
      return rows.map(auditOf);
    });
  }

  schedules(): Promise<ScheduleRecord[]> {
    return this.#read(() =>
      (this.#q("SELECT * FROM schedules ORDER BY name").all() as Row[]).map((r) =>
        scheduleOf(r, r.enabled === 1)
      )
    );
  }

  prunable(before: number): Promise<{ jobs: number; tasks: number }> {
    return this.#read(() => {
      const r = this.#q(
        `SELECT COUNT(*) AS jobs, COALESCE(SUM(
                  (SELECT COUNT(*) FROM tasks WHERE tasks.job_id = jobs.id)), 0) AS tasks
         FROM jobs WHERE finished_at < ? OR pruning IS NOT NULL`,
      ).get(before) as Row;
      return { jobs: r.jobs as number, tasks: r.tasks as number };
    });
  }

  /** Runs a read now, as a settled promise. */
  #read<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#stmts.clear();
      this.#db.close();
    }
    return Promise.resolve();
  }
}
