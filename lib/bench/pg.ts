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

import pg from "pg";
import { errorMessage, OrchError } from "../errors.ts";
import { parsePgUrl, PgStore, type PgTlsOptions, tlsConfig } from "../store/pg_store.ts";
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

/** A statement runs at most this long. */
const STATEMENT_MS = 300_000;

interface PgClient {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  connect(): Promise<void>;
  end(): Promise<void>;
  on(event: "error", fn: (err: Error) => void): void;
}

const PG = pg as unknown as { Client: new (config: Record<string, unknown>) => PgClient };

/** A connection to the bench database, ended after `fn`. */
async function withClient<T>(s: BenchPgStore, fn: (c: PgClient) => Promise<T>): Promise<T> {
  const t = parsePgUrl(s.url);
  const client = new PG.Client({
    host: t.host,
    port: t.port,
    database: t.database,
    user: t.user,
    password: s.password,
    ssl: tlsConfig(t, { tls: s.tls }),
    connectionTimeoutMillis: 10_000,
    statement_timeout: STATEMENT_MS,
    query_timeout: STATEMENT_MS + 5_000,
    application_name: "orch bench",
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
async function tablesOf(c: PgClient): Promise<string[]> {
  const r = await c.query(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
     ORDER BY c.relname COLLATE "C"`,
  );
  return r.rows.map((row) => String(row.name));
}

async function dropOrchTables(c: PgClient, present: string[]): Promise<void> {
  const drop = ORCH_PG_TABLES.filter((t) => present.includes(t));
  await c.query("BEGIN");
  try {
    // No CASCADE: an object of someone else's that depends on these makes the drop fail.
    if (drop.length > 0) await c.query(`DROP TABLE ${drop.join(", ")}`);
    for (const f of ORCH_PG_FUNCTIONS) await c.query(`DROP FUNCTION IF EXISTS ${f}`);
    await c.query("COMMIT");
  } catch (err) {
    await c.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

/**
 * Makes sure the bench may use the database: it holds no table, or (with
 * `reset`) only orch's, which are then dropped. Throws `OrchError("conflict")`
 * naming the database otherwise, having changed nothing.
 */
export async function prepareBenchDatabase(s: BenchPgStore, reset: boolean): Promise<void> {
  await withClient(s, async (c) => {
    const tables = await tablesOf(c);
    if (tables.length === 0) return;
    const foreign = tables.filter((t) => !(ORCH_PG_TABLES as readonly string[]).includes(t));
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
        const r = await c.query("SELECT COUNT(*)::text AS n FROM jobs");
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
    await dropOrchTables(c, tables);
  });
}

/** Drops what the bench made in its database (orch's tables), leaving it empty as it was found. */
export async function emptyBenchDatabase(s: BenchPgStore): Promise<void> {
  await withClient(s, async (c) => await dropOrchTables(c, await tablesOf(c)));
}

/** The store-alone figures of PostgreSQL, measured as `measureWriteBound` does for SQLite. */
export async function measurePgWriteBound(
  s: BenchPgStore,
  opts: { rows: number; tasks: number; rowsPerCommit?: number },
): Promise<{ rows_per_s: number; store_tasks_per_s: number }> {
  await emptyBenchDatabase(s);
  const rowsPerS = await withClient(
    s,
    (c) => rawBound(c, opts.rows, opts.rowsPerCommit ?? 2_000),
  );
  await emptyBenchDatabase(s);
  const store = await PgStore.open(s.url, { password: s.password, tls: s.tls, create: true });
  let tasksPerS: number;
  try {
    tasksPerS = await storeTaskLives(store, { tasks: opts.tasks });
  } finally {
    await store.close();
  }
  await emptyBenchDatabase(s);
  return { rows_per_s: rowsPerS, store_tasks_per_s: tasksPerS };
}

/** Rows per statement: under PostgreSQL's 65,535 parameters at 22 a row. */
const ROWS_PER_STATEMENT = 2_000;

/** Multi-row inserts of rows as wide as a task into a table with only its key, `perCommit` a commit. */
async function rawBound(c: PgClient, rows: number, perCommit: number): Promise<number> {
  await c.query(`CREATE TABLE ${RAW_TABLE} (
    id bigint PRIMARY KEY, job_id bigint NOT NULL, seq bigint NOT NULL, host text,
    state text NOT NULL, attempt integer NOT NULL, tried text NOT NULL, not_before bigint,
    failures integer NOT NULL, cancel_requested boolean NOT NULL, reason text,
    updated_at bigint NOT NULL, assigned_at bigint, started_at bigint, ended_at bigint,
    exit_code integer, signal text, response text, stdout_tail text, stderr_tail text,
    stdout_dropped bigint, stderr_dropped bigint
  )`);
  const width = 22;
  const statement = (n: number) =>
    `INSERT INTO ${RAW_TABLE} VALUES ` + Array.from(
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
