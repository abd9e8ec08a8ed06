/**
 * How fast the conductor's database can take writes on this machine: the
 * raw bound of SQLite with the conductor's settings, and what
 * {@linkcode SqliteStore} achieves for whole task lives in batches shaped
 * like the conductor's.
 *
 * @module
 */

import { join } from "node:path";
import { LOCAL_CALLER } from "../protocol/mod.ts";
import { openDatabase } from "./db.ts";
import { type Args, MultiRow } from "./_multi_row.ts";
import { SqliteStore } from "./sqlite_store.ts";
import { queuedTaskRow } from "./rows.ts";
import type { AttemptResult, ConductorStore, JobRecord, TaskRow } from "./types.ts";

/** What to measure; every field has a default. */
export interface WriteBoundOptions {
  /** Rows written for the raw bound (200,000). */
  rows?: number;
  /** Rows per fsync'd commit for the raw bound (2,000). */
  rowsPerCommit?: number;
  /** Task lives written through the store (100,000). */
  tasks?: number;
  /** Tasks per job (1,000). */
  jobSize?: number;
  /** Task changes per write, as one turn of the conductor's event loop (2,000). */
  batch?: number;
}

/** The figures, per second of wall time spent writing. */
export interface WriteBound {
  /** Task-like rows inserted per second with multi-row statements, `rowsPerCommit` per commit. */
  rows_per_s: number;
  /** Whole task lives (inserted, assigned, finished with a result) per second through the store. */
  store_tasks_per_s: number;
}

/** The bounds on the options, so that a measurement cannot run away. */
const MAX_ROWS = 10_000_000;

function count(name: string, value: number | undefined, fallback: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1 || v > max) {
    throw new RangeError(`${name} ${v} is not an integer from 1 to ${max}`);
  }
  return v;
}

/**
 * Measures both bounds with scratch databases in `dir` (removed afterwards).
 *
 * @example
 * ```ts
 * const { rows_per_s, store_tasks_per_s } = await measureWriteBound(await Deno.makeTempDir());
 * ```
 */
export async function measureWriteBound(
  dir: string,
  opts: WriteBoundOptions = {},
): Promise<WriteBound> {
  const rows = count("rows", opts.rows, 200_000, MAX_ROWS);
  const perCommit = count("rowsPerCommit", opts.rowsPerCommit, 2_000, MAX_ROWS);
  const tasks = count("tasks", opts.tasks, 100_000, MAX_ROWS);
  const jobSize = count("jobSize", opts.jobSize, 1_000, 10_000);
  const batch = count("batch", opts.batch, 2_000, 1_000_000);
  return {
    rows_per_s: await rawBound(join(dir, "write-bound-raw.db"), rows, perCommit),
    store_tasks_per_s: await storeBound(join(dir, "write-bound-store.db"), tasks, jobSize, batch),
  };
}

async function removeDatabase(path: string): Promise<void> {
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    await Deno.remove(p).catch(() => {});
  }
}

/** Multi-row inserts of rows as wide as a task into a table with only its key. */
async function rawBound(path: string, rows: number, perCommit: number): Promise<number> {
  await removeDatabase(path);
  const db = openDatabase(path, {
    what: "scratch database",
    create: true,
    migrations: [{
      version: 1,
      sql: `CREATE TABLE t (
        id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL, seq INTEGER NOT NULL, host TEXT,
        state TEXT NOT NULL, attempt INTEGER NOT NULL, tried TEXT NOT NULL, not_before INTEGER,
        failures INTEGER NOT NULL, cancel_requested INTEGER NOT NULL, reason TEXT,
        updated_at INTEGER NOT NULL, assigned_at INTEGER, started_at INTEGER, ended_at INTEGER,
        exit_code INTEGER, signal TEXT, response TEXT, stdout_tail TEXT, stderr_tail TEXT,
        stdout_dropped INTEGER, stderr_dropped INTEGER
      ) STRICT`,
    }],
    exclusive: true,
  });
  try {
    const insert = new MultiRow<number>(db, {
      head: "INSERT INTO t",
      width: 22,
      bind: (id: number, out: Args) => {
        out.push(id, 1 + Math.floor(id / 1000), id, `host-${id % 1000}`, "queued", 0, "[]", null);
        out.push(0, 0, null, id, null, null, null, null, null, null, null, null, null, null);
      },
    });
    const ids = new Array<number>(Math.min(perCommit, rows));
    const start = performance.now();
    for (let done = 0; done < rows;) {
      const n = Math.min(perCommit, rows - done);
      ids.length = n;
      for (let i = 0; i < n; i++) ids[i] = done + i + 1;
      db.exec("BEGIN IMMEDIATE");
      insert.run(ids);
      db.exec("COMMIT");
      done += n;
    }
    return rows / ((performance.now() - start) / 1000);
  } finally {
    db.close();
    await removeDatabase(path);
  }
}

const RESULT: AttemptResult = {
  exitCode: 0,
  signal: null,
  response: { ok: "1" },
  stdoutTail: "done\n",
  stderrTail: "",
};

/**
 * Whole task lives through {@linkcode SqliteStore.write}: each write is one
 * turn that finishes the tasks the previous turn assigned (with a small
 * result), assigns as many queued ones, and inserts a job when fewer than
 * half a batch are queued; a job is marked finished in the turn its last
 * task is.
 */
async function storeBound(
  path: string,
  total: number,
  jobSize: number,
  batch: number,
): Promise<number> {
  await removeDatabase(path);
  const store = SqliteStore.open(path, { create: true });
  try {
    return await storeTaskLives(store, { tasks: total, jobSize, batch });
  } finally {
    await store.close();
    await removeDatabase(path);
  }
}

/**
 * Whole task lives per second through `store` (a new, empty one of either
 * kind), written as {@linkcode measureWriteBound} does; the store is left
 * open, holding what was written.
 */
export async function storeTaskLives(
  store: ConductorStore,
  opts: Pick<WriteBoundOptions, "tasks" | "jobSize" | "batch"> = {},
): Promise<number> {
  const total = count("tasks", opts.tasks, 100_000, MAX_ROWS);
  const jobSize = count("jobSize", opts.jobSize, 1_000, 10_000);
  const batch = count("batch", opts.batch, 2_000, 1_000_000);
  const half = Math.max(1, Math.floor(batch / 2));
  const hosts = Array.from({ length: jobSize }, (_, i) => `host-${i}`);
  let queued: TaskRow[] = [];
  let running: TaskRow[] = [];
  let nextTask = 1;
  let nextJob = 1;
  let finished = 0;
  const left = new Map<number, number>();
  let spent = 0;
  let now = 1_700_000_000_000;
  while (finished < total) {
    now += 1;
    const newJobs: [JobRecord, TaskRow[]][] = [];
    if (queued.length < half && nextTask <= total) {
      const n = Math.min(jobSize, total - nextTask + 1);
      const job: JobRecord = {
        id: nextJob++,
        score: "bench",
        scope: "all",
        targets: hosts.slice(0, n),
        secrets: {},
        params: { A: "1" },
        rollout: null,
        timeoutMs: null,
        deadline: null,
        retries: 0,
        requestId: null,
        submittedAt: now,
        caller: LOCAL_CALLER,
      };
      const rows = job.targets.map((host, i) =>
        queuedTaskRow({ id: nextTask + i, jobId: job.id, seq: nextTask + i, host, at: now })
      );
      nextTask += n;
      left.set(job.id, n);
      newJobs.push([job, rows]);
      queued = queued.concat(rows);
    }
    const done = running.map((t): TaskRow => ({
      ...t,
      state: "succeeded",
      startedAt: t.assignedAt,
      endedAt: now,
      updatedAt: now,
      result: RESULT,
    }));
    const assigned = queued.slice(0, half).map((t): TaskRow => ({
      ...t,
      state: "assigned",
      attempt: 1,
      assignedAt: now,
      updatedAt: now,
    }));
    queued = queued.slice(assigned.length);
    running = assigned;
    const jobsDone: { id: number; at: number }[] = [];
    for (const t of done) {
      const n = left.get(t.jobId)! - 1;
      left.set(t.jobId, n);
      if (n === 0) jobsDone.push({ id: t.jobId, at: now });
    }
    const start = performance.now();
    await store.write((tx) => {
      for (const [job, rows] of newJobs) tx.insertJob(job, rows);
      tx.saveTasks(done.concat(assigned));
      if (jobsDone.length > 0) tx.finishJobs(jobsDone);
    });
    spent += performance.now() - start;
    finished += done.length;
  }
  return total / (spent / 1000);
}
