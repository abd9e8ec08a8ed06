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
  /**
   * Create the database (and its folder) when the file is absent or holds
   * nothing yet. Without it, an absent, empty or foreign file is refused and
   * nothing is created or changed.
   */
  create: boolean;
  /** How a user asks for creation, for messages: "run with --init". */
  createWith?: string;
  /** A table every version of the schema has: a database with a schema version but without it is not ours. */
  schemaTable?: string;
  /** Told when an existing file's mode let others read it (it is then made 0600). */
  warn?: (message: string, fields: Record<string, unknown>) => void;
  /**
   * Make a new database with `auto_vacuum = INCREMENTAL`, so that pages freed
   * by deletes can be given back to the file system in small steps
   * (`PRAGMA incremental_vacuum(N)`). SQLite takes the setting only before
   * the first table is made (or with a VACUUM, which rewrites the whole
   * file): an existing database keeps the mode it was made with.
   */
  incrementalVacuum?: boolean;
  /**
   * The error when another process holds the database (its lock), saying
   * who that is likely to be and what to do; absent: a generic one.
   */
  inUse?: () => OrchError;
}

/** The mode of every database file (and its -wal, -shm), whatever the umask. */
export const DATABASE_MODE = 0o600;

/**
 * Opens and migrates the database at `path`, creating it only when
 * `opts.create` says so. Throws `OrchError` (`config`, or `conflict` when
 * another process holds it) naming the file and what is wrong with it.
 */
export function openDatabase(path: string, opts: OpenOptions): Database {
  if (path !== ":memory:") {
    if (!opts.create) checkPresent(path, opts);
    else {
      try {
        Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
      } catch (err) {
        throw new OrchError(
          "config",
          `cannot create the folder of ${opts.what} ${path}: ${(err as Error).message}`,
        );
      }
    }
  }
  if (path !== ":memory:" && opts.create) createPrivate(path, opts);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (err) {
    throw new OrchError("config", `cannot open ${opts.what} ${path}: ${(err as Error).message}`);
  }
  try {
    db.exec("PRAGMA busy_timeout = 2000");
    // Only reads until the file is known to be ours: a foreign file is left as it was.
    checkSchema(db, path, opts);
    // Ours: made private before anything is written to it.
    if (path !== ":memory:") guardMode(path, opts);
    // Before anything is written (WAL mode writes the header): a new, empty database only.
    if (opts.incrementalVacuum && opts.create && userVersion(db) === 0) {
      db.exec("PRAGMA auto_vacuum = INCREMENTAL");
    }
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
      throw opts.inUse?.() ??
        new OrchError("conflict", `${opts.what} ${path} is in use by another process`, {
          hint: "only one conductor may use a database; is another one running?",
        });
    }
    if (/not a database|malformed|corrupt/i.test(msg)) {
      throw new OrchError(
        "config",
        `${opts.what} ${path} is not a SQLite database, or it is damaged (${msg})`,
        { hint: "check the path; restore the file from a backup", cause: err },
      );
    }
    throw new OrchError("config", `cannot use ${opts.what} ${path}: ${msg}`, { cause: err });
  }
  return db;
}

/**
 * Creates an absent database file empty with mode 0600, before SQLite would
 * create it with the umask's: SQLite then makes -wal and -shm with the main
 * file's mode.
 */
function createPrivate(path: string, opts: OpenOptions): void {
  try {
    Deno.statSync(path);
    return;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new OrchError("config", `cannot read ${opts.what} ${path}: ${(err as Error).message}`);
    }
  }
  try {
    // create (not createNew): another opener may win the race; its file is checked once open.
    Deno.openSync(path, { write: true, create: true, mode: DATABASE_MODE }).close();
  } catch (err) {
    throw new OrchError("config", `cannot create ${opts.what} ${path}: ${(err as Error).message}`);
  }
}

/**
 * Makes the database file and its -wal and -shm files mode 0600 once the
 * file is known to be ours, before anything is written: the umask must not
 * decide who may read the queue. A file that others could read is made
 * 0600, with a warning.
 */
function guardMode(path: string, opts: OpenOptions): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    let mode: number;
    try {
      mode = Deno.statSync(file).mode ?? DATABASE_MODE;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw new OrchError("config", `cannot read ${opts.what} ${file}: ${(err as Error).message}`);
    }
    if ((mode & 0o777) === DATABASE_MODE) continue;
    try {
      Deno.chmodSync(file, DATABASE_MODE);
    } catch (err) {
      throw new OrchError(
        "config",
        `${opts.what} ${file} has mode ${
          (mode & 0o777).toString(8).padStart(4, "0")
        } and cannot be made 0600: ${(err as Error).message}`,
      );
    }
    if ((mode & 0o077) !== 0) {
      opts.warn?.(`${opts.what} was readable by others; its mode is now 0600`, {
        file,
        was: (mode & 0o777).toString(8).padStart(4, "0"),
      });
    }
  }
}

/** Refuses an absent, empty or non-file `path`, before SQLite would create one. */
function checkPresent(path: string, opts: OpenOptions): void {
  const create = opts.createWith ? `${opts.createWith} to create it` : "create it";
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new OrchError(
        "config",
        `${opts.what} ${path} does not exist; on a first start, ${create}`,
        { hint: "if it existed before, check the path and restore the file from a backup" },
      );
    }
    throw new OrchError("config", `cannot read ${opts.what} ${path}: ${(err as Error).message}`);
  }
  if (!info.isFile) throw new OrchError("config", `${opts.what} ${path} is not a regular file`);
  if (info.size === 0) {
    throw new OrchError(
      "config",
      `${opts.what} ${path} is empty (0 bytes): it holds none of the data it should`,
      { hint: `restore it from a backup; to start afresh, remove it and ${create}` },
    );
  }
}

/** Refuses a database that is not one of ours; one that holds nothing yet only when not creating. */
function checkSchema(db: DatabaseSync, path: string, opts: OpenOptions): void {
  const version = (db.prepare("PRAGMA user_version").get() as { user_version: number })
    .user_version;
  const tables = (db.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
  ).all() as { name: string }[]).map((r) => r.name);
  const ours = version > 0 && (opts.schemaTable === undefined || tables.includes(opts.schemaTable));
  if (ours) return;
  if (tables.length > 0 || version > 0) {
    const shown = tables.slice(0, 5).join(", ") + (tables.length > 5 ? ", …" : "");
    throw new OrchError(
      "config",
      `${path} is a SQLite database but not an orch ${opts.what} (it holds ${
        tables.length ? `tables ${shown}` : "no tables"
      }, schema version ${version})`,
      { hint: "check the path: orch does not change a database it did not make" },
    );
  }
  if (!opts.create) {
    const create = opts.createWith ? `${opts.createWith} to create it` : "create it";
    throw new OrchError(
      "config",
      `${opts.what} ${path} is a SQLite database without orch's schema; on a first start, ${create}`,
    );
  }
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

function userVersion(db: DatabaseSync): number {
  return (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
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
