/**
 * Opening a SQLite database the way orch needs it: WAL, fsync on every
 * commit, foreign keys on, one writer process at a time, and numbered
 * migrations applied in order. The only owner of `node:sqlite`.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { dirname } from "node:path";
import { OrchError } from "../errors.ts";

/** One schema step. Steps are never edited once released; new ones are appended. */
export interface Migration {
  version: number;
  sql: string;
}

/** The database handle type the stores work with. */
export type Database = DatabaseSync;

/** Options for {@linkcode openDatabase}. */
export interface OpenOptions {
  /** What the database is, for messages: "conductor database". */
  what: string;
  migrations: readonly Migration[];
  /** Hold the write lock for the life of the connection, so a second process cannot write. */
  exclusive: boolean;
}

/** Opens (creating when absent) and migrates the database at `path`. */
export function openDatabase(path: string, opts: OpenOptions): Database {
  if (path !== ":memory:") {
    try {
      Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
    } catch (err) {
      throw new OrchError(
        "config",
        `cannot create the folder of ${opts.what} ${path}: ${(err as Error).message}`,
      );
    }
  }
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (err) {
    throw new OrchError("config", `cannot open ${opts.what} ${path}: ${(err as Error).message}`);
  }
  try {
    db.exec("PRAGMA busy_timeout = 2000");
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = FULL");
    db.exec("PRAGMA foreign_keys = ON");
    if (opts.exclusive) db.exec("PRAGMA locking_mode = EXCLUSIVE");
    migrate(db, path, opts);
  } catch (err) {
    db.close();
    if (err instanceof OrchError) throw err;
    const msg = (err as Error).message;
    if (/locked|busy/i.test(msg)) {
      throw new OrchError("conflict", `${opts.what} ${path} is in use by another process`, {
        hint: "only one conductor may use a database; is another one running?",
      });
    }
    throw new OrchError("config", `cannot use ${opts.what} ${path}: ${msg}`, { cause: err });
  }
  return db;
}

function migrate(db: DatabaseSync, path: string, opts: OpenOptions): void {
  const row = db.prepare("PRAGMA user_version").get() as { user_version: number };
  const current = row.user_version;
  const latest = opts.migrations.reduce((m, x) => Math.max(m, x.version), 0);
  if (current > latest) {
    throw new OrchError(
      "config",
      `${opts.what} ${path} has schema version ${current}, newer than this orch knows (${latest})`,
      { hint: "run a newer orch, or restore a backup made by this version" },
    );
  }
  // Taking the write lock at once also tells a second process early that it cannot have it.
  db.exec("BEGIN IMMEDIATE");
  try {
    for (const m of [...opts.migrations].sort((a, b) => a.version - b.version)) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      db.exec(`PRAGMA user_version = ${m.version}`);
    }
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}

/** Runs `fn` in one write transaction, committed when it returns, rolled back when it throws. */
export function transaction<T>(db: Database, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const out = fn();
    db.exec("COMMIT");
    return out;
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
}
