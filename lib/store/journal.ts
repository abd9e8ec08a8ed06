/**
 * The player's journal: every task it accepted and every result the
 * conductor has not yet acknowledged, on disk. A task is written here
 * before its score starts; its result is written here before it is sent,
 * and removed only after the conductor's `result_ack`. After a crash the
 * player knows exactly what it had started and what it still owes.
 *
 * @module
 */

import type { ResultBody } from "../protocol/mod.ts";
import { basename, dirname, join } from "node:path";
import { OrchError } from "../errors.ts";
import { type Database, DATABASE_MODE, openDatabase, transaction } from "./db.ts";

/** The file, beside the journal, that holds the process id of the player that has it open. */
export const PID_FILE = "player.pid";

/**
 * The process id in `pidFile` when that process still runs, else null (no
 * file, not a number, or a process long gone).
 */
function holderPid(pidFile: string): number | null {
  try {
    const pid = Number(Deno.readTextFileSync(pidFile).trim());
    if (!Number.isSafeInteger(pid) || pid <= 0) return null;
    Deno.statSync(`/proc/${pid}`);
    return pid;
  } catch {
    return null;
  }
}

/** The journal's schema steps, in order. */
export const JOURNAL_MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE tasks (
        task_id      INTEGER NOT NULL,
        attempt      INTEGER NOT NULL,
        conductor_id TEXT NOT NULL,
        job_id       INTEGER NOT NULL,
        score        TEXT NOT NULL,
        state        TEXT NOT NULL CHECK (state IN ('running', 'finished')),
        pid          INTEGER,              -- the score's process (and process group) id
        pid_start    TEXT,                 -- its start time, to tell it from a later process with that id
        accepted_at  INTEGER NOT NULL,
        result       TEXT,                 -- JSON ResultBody once finished
        PRIMARY KEY (task_id, attempt)
      ) STRICT;
    `,
  },
  {
    // Task ids are a conductor database's own: two databases may both have a task 1.
    version: 2,
    sql: `
      CREATE TABLE tasks_v2 (
        conductor_id TEXT NOT NULL,
        task_id      INTEGER NOT NULL,
        attempt      INTEGER NOT NULL,
        job_id       INTEGER NOT NULL,
        score        TEXT NOT NULL,
        state        TEXT NOT NULL CHECK (state IN ('running', 'finished')),
        pid          INTEGER,
        pid_start    TEXT,
        accepted_at  INTEGER NOT NULL,
        result       TEXT,
        PRIMARY KEY (conductor_id, task_id, attempt)
      ) STRICT;
      INSERT INTO tasks_v2 (conductor_id, task_id, attempt, job_id, score, state, pid, pid_start, accepted_at, result)
        SELECT conductor_id, task_id, attempt, job_id, score, state, pid, pid_start, accepted_at, result FROM tasks;
      DROP TABLE tasks;
      ALTER TABLE tasks_v2 RENAME TO tasks;
    `,
  },
];

/** Which task of which conductor database. */
export interface JournalKey {
  conductorId: string;
  taskId: number;
  attempt: number;
}

/** A task in the journal. */
export interface JournalTask extends JournalKey {
  jobId: number;
  score: string;
  state: "running" | "finished";
  pid: number | null;
  pidStart: string | null;
  acceptedAt: number;
  result: ResultBody | null;
}

type Row = Record<string, unknown>;

/** The player's journal. Every method commits before it returns. */
export class Journal {
  readonly #db: Database;
  readonly #pidFile: string | null;

  /** @param pidFile the holder's process id file, removed on close; null for none */
  constructor(db: Database, pidFile: string | null = null) {
    this.#db = db;
    this.#pidFile = pidFile;
  }

  /**
   * Opens the journal at `path`, creating it when absent: a player that lost
   * its journal is set right by the conductor when it reconnects. Only one
   * player may hold it: the holder writes its process id beside it
   * (`player.pid`), so that a second player started on the same state dir
   * is told which process has it.
   */
  static open(path: string): Journal {
    const pidFile = join(dirname(path), PID_FILE);
    const db = openDatabase(path, {
      what: "player journal",
      migrations: JOURNAL_MIGRATIONS,
      exclusive: true,
      create: true,
      inUse: () => {
        const pid = holderPid(pidFile);
        return new OrchError(
          "conflict",
          `another player${pid === null ? "" : ` (pid ${pid})`} is using the state dir ${
            dirname(path)
          }: its journal ${basename(path)} is locked`,
          {
            hint: "stop that player first, or give this one a state dir of its own " +
              "(--state-dir, the state_dir key)",
          },
        );
      },
    });
    try {
      // Only the journal's holder writes it: the lock is held for as long as the journal is open.
      // Private like everything in the state dir (a second player runs as the same user).
      Deno.writeTextFileSync(pidFile, `${Deno.pid}\n`, { mode: DATABASE_MODE });
      Deno.chmodSync(pidFile, DATABASE_MODE);
    } catch {
      // Only for the message a second player gets: the journal works without it.
    }
    return new Journal(db, pidFile);
  }

  /** Records an accepted task, before its score starts. */
  accept(
    t: {
      taskId: number;
      attempt: number;
      conductorId: string;
      jobId: number;
      score: string;
      acceptedAt: number;
    },
  ): void {
    this.#db.prepare(
      `INSERT OR REPLACE INTO tasks (task_id, attempt, conductor_id, job_id, score, state, accepted_at)
       VALUES (?, ?, ?, ?, ?, 'running', ?)`,
    ).run(t.taskId, t.attempt, t.conductorId, t.jobId, t.score, t.acceptedAt);
  }

  /** Records the process running a task. */
  setProcess(k: JournalKey, pid: number, pidStart: string | null): void {
    this.#db.prepare(
      "UPDATE tasks SET pid = ?, pid_start = ? WHERE conductor_id = ? AND task_id = ? AND attempt = ?",
    ).run(pid, pidStart, k.conductorId, k.taskId, k.attempt);
  }

  /** Records a task's result, before it is sent; false when the journal no longer holds the task. */
  finish(k: JournalKey, result: ResultBody): boolean {
    const info = this.#db.prepare(
      `UPDATE tasks SET state = 'finished', result = ?
       WHERE conductor_id = ? AND task_id = ? AND attempt = ?`,
    ).run(JSON.stringify(result), k.conductorId, k.taskId, k.attempt);
    return Number(info.changes) > 0;
  }

  /** Forgets a task (its result was acknowledged, or it never started). */
  remove(k: JournalKey): boolean {
    const info = this.#db.prepare(
      "DELETE FROM tasks WHERE conductor_id = ? AND task_id = ? AND attempt = ?",
    ).run(k.conductorId, k.taskId, k.attempt);
    return Number(info.changes) > 0;
  }

  /** Forgets every task assigned by a conductor other than `conductorId`; returns them. */
  dropForeign(conductorId: string): JournalTask[] {
    return transaction(this.#db, () => {
      const gone = this.#select("WHERE conductor_id <> ?", conductorId);
      this.#db.prepare("DELETE FROM tasks WHERE conductor_id <> ?").run(conductorId);
      return gone;
    });
  }

  /** One task, or undefined. */
  get(k: JournalKey): JournalTask | undefined {
    return this.#select(
      "WHERE conductor_id = ? AND task_id = ? AND attempt = ?",
      k.conductorId,
      k.taskId,
      k.attempt,
    )[0];
  }

  /** Every task in the journal, oldest first. */
  all(): JournalTask[] {
    return this.#select("");
  }

  #select(where: string, ...args: (string | number)[]): JournalTask[] {
    const rows = this.#db.prepare(`SELECT * FROM tasks ${where} ORDER BY accepted_at, task_id`).all(
      ...args,
    ) as Row[];
    return rows.map((r) => ({
      taskId: r.task_id as number,
      attempt: r.attempt as number,
      conductorId: r.conductor_id as string,
      jobId: r.job_id as number,
      score: r.score as string,
      state: r.state as JournalTask["state"],
      pid: (r.pid as number | null) ?? null,
      pidStart: (r.pid_start as string | null) ?? null,
      acceptedAt: r.accepted_at as number,
      result: r.result ? JSON.parse(r.result as string) : null,
    }));
  }

  /** Closes the journal. */
  close(): void {
    // Before the lock is let go: a file removed after could be the next holder's.
    if (this.#pidFile !== null) {
      try {
        Deno.removeSync(this.#pidFile);
      } catch {
        // already gone
      }
    }
    this.#db.close();
  }
}
