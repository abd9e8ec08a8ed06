/**
 * The bench's PostgreSQL database: checked before a run (empty, or orch's
 * tables dropped when the user asked for it), emptied again after one, and
 * its store-alone bound measured there.
 *
 * The bench only ever drops orch's own tables, in the database the user
 * named for it: one holding any other table is refused, `--store-reset` or
 * not, and one holding orch's tables is refused without `--store-reset`,
 * naming the database and how many jobs it holds.
 *
 * @module
 */

import { errorMessage, OrchError } from "../errors.ts";
import {
  LEADER_LOCK_KEY,
  newPgSession,
  type PgSession,
  PgStore,
  type PgTlsOptions,
} from "../store/pg_store.ts";
import { PG_MIGRATIONS } from "../store/pg_schema.ts";
import { storeTaskLives } from "../store/mod.ts";

/** Where the PostgreSQL run goes, and how to get in. */
export interface BenchPgStore {
  /** The store as the user gave it (no password can be in it), passed on to the conductor. */
  spec: string;
  /** As messages show it. */
  shown: string;
  /** The URL the store opens (see `storeConnection`). */
  url: string;
  password?: string;
  tls: PgTlsOptions;
  /** Passed on to the conductor as `--store-password-file`; else it reads the environment. */
  passwordFile?: string;
  /** Passed on to the conductor as `--store-tls-ca`. */
  tlsCa?: string;
}

/** The table of the raw bound, made and dropped by the bench. */
const RAW_TABLE = "orch_bench_raw";

/**
 * Every table orch's PostgreSQL schema makes (lib/store/pg_schema.ts, and
 * the migrations table), and the bench's own: the only ones the bench drops.
 */
export const ORCH_PG_TABLES = [
  "attempts",
  "tasks",
  "jobs",
  "audit",
  "drained_players",
  "players",
  "schedules",
  "meta",
  "orch_leader",
  "orch_schema_migrations",
  RAW_TABLE,
] as const;

/** The functions of orch's schema, dropped with its tables. */
const ORCH_PG_FUNCTIONS = ["orch_audit_never_edited()"];

/** The table of orch's applied schema steps, which tells orch's tables from others named alike. */
const MIGRATIONS_TABLE = "orch_schema_migrations";

/** The schema steps orch knows, as the migrations table shows them. */
const KNOWN_VERSIONS: ReadonlySet<string> = new Set(PG_MIGRATIONS.map((m) => String(m.version)));

/** How long the bench waits for the leadership lock its own conductor, just stopped, held. */
const LOCK_WAIT_MS = 10_000;

/** How often it tries the lock meanwhile. */
const LOCK_POLL_MS = 100;

/** A statement runs at most this long. */
const STATEMENT_MS = 300_000;

/** A connection to the bench database, ended after `fn`. */
async function withClient<T>(s: BenchPgStore, fn: (c: PgSession) => Promise<T>): Promise<T> {
  const client = newPgSession(s.url, { password: s.password, tls: s.tls }, {
    connectMs: 10_000,
    statementMs: STATEMENT_MS,
    name: "orch bench",
  });
  client.on("error", () => {
    // A broken connection fails the statement in flight, which says why.
  });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw new OrchError(
      "unavailable",
      `cannot connect to the bench database ${s.shown}: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  try {
    return await fn(client);
  } catch (err) {
    if (err instanceof OrchError) throw err;
    throw new OrchError("unavailable", `the bench database ${s.shown}: ${errorMessage(err)}`, {
      cause: err,
    });
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The tables (and views, sequences of their own, …) in the current schema,
 * from the catalog: information_schema would hide those this role may not
 * read, which are there all the same.
 */
async function tablesOf(c: PgSession): Promise<string[]> {
  const r = await c.query(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
     ORDER BY c.relname COLLATE "C"`,
  );
  return r.rows.map((row) => String(row.name));
}

/**
 * The current schema, quoted as an identifier: every name the bench drops,
 * reads or makes is qualified with it, so none resolves through the
 * search_path to another schema (a conductor's own in `public`, say).
 */
async function schemaOf(c: PgSession, shown: string): Promise<string> {
  const r = await c.query("SELECT quote_ident(current_schema()) AS s");
  const schema = r.rows[0]?.s;
  if (typeof schema !== "string") {
    throw new OrchError(
      "invalid",
      `the bench database ${shown} has no current schema (no schema of its search_path exists)`,
      {
        hint:
          "create the schema, or give a database whose search_path names one; nothing was changed",
      },
    );
  }
  return schema;
}

/**
 * Whether the tables of the current schema are orch's: only when its
 * `orch_schema_migrations` exists there and holds steps orch knows, all of
 * them. A table merely named as one of orch's (`jobs`, `players`, …) in a
 * schema without that proves nothing: it is another application's.
 */
async function holdsOrchSchema(c: PgSession, schema: string, tables: string[]): Promise<boolean> {
  if (!tables.includes(MIGRATIONS_TABLE)) return false;
  let rows: Record<string, unknown>[];
  try {
    rows = (await c.query(
      `SELECT version::text AS v FROM ${schema}.${MIGRATIONS_TABLE} ORDER BY version LIMIT ${
        KNOWN_VERSIONS.size + 1
      }`,
    )).rows;
  } catch {
    // No such column, or not a table this role may read: not orch's.
    return false;
  }
  return rows.length > 0 && rows.length <= KNOWN_VERSIONS.size &&
    rows.every((row) => KNOWN_VERSIONS.has(String(row.v)));
}

async function dropOrchTables(c: PgSession, schema: string, present: string[]): Promise<void> {
  const drop = ORCH_PG_TABLES.filter((t) => present.includes(t));
  await c.query("BEGIN");
  try {
    // No CASCADE: an object of someone else's that depends on these makes the drop fail.
    if (drop.length > 0) {
      await c.query(`DROP TABLE ${drop.map((t) => `${schema}.${t}`).join(", ")}`);
    }
    for (const f of ORCH_PG_FUNCTIONS) await c.query(`DROP FUNCTION IF EXISTS ${schema}.${f}`);
    await c.query("COMMIT");
  } catch (err) {
    await c.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

/**
 * Runs `fn` on a session holding the leadership lock of the database, as
 * `orch store migrate` does: no conductor leads there meanwhile, and one
 * that leads there already makes this throw `OrchError("conflict")` naming
 * the database, before anything is read or changed. `waitMs` bounds a wait
 * for a lock being let go (the bench's own conductor, just stopped, whose
 * session the server may not have ended yet); 0 refuses at once. The lock
 * is released at the end (and with the session, whatever happens).
 */
async function withLock<T>(
  s: BenchPgStore,
  waitMs: number,
  fn: (c: PgSession, schema: string) => Promise<T>,
): Promise<T> {
  return await withClient(s, async (c) => {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const r = await c.query("SELECT pg_try_advisory_lock($1::bigint) AS ok", [LEADER_LOCK_KEY]);
      if (r.rows[0]?.ok === true) break;
      if (Date.now() >= deadline) {
        throw new OrchError(
          "conflict",
          `a conductor leads on the bench database ${s.shown} (it holds the leadership lock); the bench runs only in a database no conductor uses`,
          { hint: "create a new, empty database for the bench; nothing was changed" },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    }
    try {
      return await fn(c, await schemaOf(c, s.shown));
    } finally {
      await c.query("SELECT pg_advisory_unlock($1::bigint)", [LEADER_LOCK_KEY]).catch(() => {});
    }
  });
}

/**
 * Makes sure the bench may use the database: no conductor leads there, and
 * it holds no table, or (with `reset`) only orch's, which are then dropped.
 * Throws `OrchError("conflict")` naming the database otherwise, having
 * changed nothing.
 */
export async function prepareBenchDatabase(s: BenchPgStore, reset: boolean): Promise<void> {
  await withLock(s, 0, async (c, schema) => {
    const tables = await tablesOf(c);
    if (tables.length === 0) return;
    const orchs = await holdsOrchSchema(c, schema, tables);
    const foreign = orchs
      ? tables.filter((t) => !(ORCH_PG_TABLES as readonly string[]).includes(t))
      : tables;
    if (foreign.length > 0) {
      const shown = foreign.slice(0, 5).join(", ") + (foreign.length > 5 ? ", …" : "");
      throw new OrchError(
        "conflict",
        `the bench database ${s.shown} holds tables that are not orch's (${shown}); the bench runs only in an empty database`,
        { hint: "create a new, empty database for the bench; nothing was changed" },
      );
    }
    if (!reset) {
      let jobs = "no";
      if (tables.includes("jobs")) {
        const r = await c.query(`SELECT COUNT(*)::text AS n FROM ${schema}.jobs`);
        jobs = String(r.rows[0].n);
      }
      throw new OrchError(
        "conflict",
        `the bench database ${s.shown} holds orch's tables and ${jobs} job${
          jobs === "1" ? "" : "s"
        }; the bench runs only in an empty database`,
        {
          hint:
            "give an empty database; or, if it is a database for the bench only, --store-reset drops orch's tables in it first. Nothing was changed",
        },
      );
    }
    await dropOrchTables(c, schema, tables);
  });
}

/**
 * Drops what the bench made in its database (orch's tables, once its
 * migrations table says they are orch's; the raw bound's table), leaving it
 * empty as it was found. Refuses while a conductor leads there.
 */
async function emptyLocked(c: PgSession, schema: string): Promise<void> {
  const tables = await tablesOf(c);
  if (await holdsOrchSchema(c, schema, tables)) {
    await dropOrchTables(c, schema, tables);
  } else if (tables.includes(RAW_TABLE)) {
    await c.query(`DROP TABLE ${schema}.${RAW_TABLE}`);
  }
}

/** Drops what the bench made in its database, leaving it empty as it was found (see `emptyLocked`). */
export async function emptyBenchDatabase(s: BenchPgStore): Promise<void> {
  await withLock(s, LOCK_WAIT_MS, emptyLocked);
}

/** The store-alone figures of PostgreSQL, measured as `measureWriteBound` does for SQLite. */
export async function measurePgWriteBound(
  s: BenchPgStore,
  opts: { rows: number; tasks: number; rowsPerCommit?: number },
): Promise<{ rows_per_s: number; store_tasks_per_s: number }> {
  // One session holds the leadership lock throughout: no conductor leads there meanwhile.
  return await withLock(s, LOCK_WAIT_MS, async (c, schema) => {
    await emptyLocked(c, schema);
    const rowsPerS = await rawBound(c, schema, opts.rows, opts.rowsPerCommit ?? 2_000);
    await emptyLocked(c, schema);
    const store = await PgStore.open(s.url, { password: s.password, tls: s.tls, create: true });
    let tasksPerS: number;
    try {
      tasksPerS = await storeTaskLives(store, { tasks: opts.tasks });
    } finally {
      await store.close();
    }
    await emptyLocked(c, schema);
    return { rows_per_s: rowsPerS, store_tasks_per_s: tasksPerS };
  });
}

/** Rows per statement: under PostgreSQL's 65,535 parameters at 22 a row. */
const ROWS_PER_STATEMENT = 2_000;

/** Multi-row inserts of rows as wide as a task into a table with only its key, `perCommit` a commit. */
async function rawBound(
  c: PgSession,
  schema: string,
  rows: number,
  perCommit: number,
): Promise<number> {
  await c.query(`CREATE TABLE ${schema}.${RAW_TABLE} (
    id bigint PRIMARY KEY, job_id bigint NOT NULL, seq bigint NOT NULL, host text,
    state text NOT NULL, attempt integer NOT NULL, tried text NOT NULL, not_before bigint,
    failures integer NOT NULL, cancel_requested boolean NOT NULL, reason text,
    updated_at bigint NOT NULL, assigned_at bigint, started_at bigint, ended_at bigint,
    exit_code integer, signal text, response text, stdout_tail text, stderr_tail text,
    stdout_dropped bigint, stderr_dropped bigint
  )`);
  const width = 22;
  const statement = (n: number) =>
    `INSERT INTO ${schema}.${RAW_TABLE} VALUES ` + Array.from(
      { length: n },
      (_, r) => `(${Array.from({ length: width }, (_, k) => `$${r * width + k + 1}`).join(",")})`,
    ).join(",");
  const prepared = new Map<number, string>();
  const start = performance.now();
  for (let done = 0; done < rows;) {
    const n = Math.min(perCommit, rows - done);
    await c.query("BEGIN");
    for (let off = 0; off < n; off += ROWS_PER_STATEMENT) {
      const m = Math.min(ROWS_PER_STATEMENT, n - off);
      let sql = prepared.get(m);
      if (sql === undefined) prepared.set(m, sql = statement(m));
      const args: unknown[] = [];
      for (let i = 0; i < m; i++) {
        const id = done + off + i + 1;
        args.push(id, 1 + Math.floor(id / 1000), id, `host-${id % 1000}`, "queued", 0, "[]", null);
        args.push(0, false, null, id, null, null, null, null, null, null, null, null, null, null);
      }
      await c.query(sql, args);
    }
    await c.query("COMMIT");
    done += n;
  }
  return rows / ((performance.now() - start) / 1000);
}
