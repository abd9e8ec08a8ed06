/**
 * Moving a SQLite conductor database into PostgreSQL: every row of every
 * table (jobs, tasks, attempt history, players, drained players, the audit
 * trail, schedules, the conductor id), copied table to table with ids,
 * queue positions, request ids and digests and sealed secrets as they are.
 *
 * The SQLite file is opened as a conductor opens it (held by this process
 * alone, its schema brought up to this orch's), so a running conductor makes
 * the move fail, and no conductor can start on it while it runs. The target
 * must hold no orch rows, and no conductor may lead on it: the copy holds
 * the leadership lock from start to end, and is refused when a conductor
 * holds it. Rows are read one at a time and go in batches bounded in rows
 * and in bytes (memory stays bounded whatever the size), all in one
 * PostgreSQL transaction: a failure leaves the target as empty as it was.
 * Counts are checked table by table before the commit.
 *
 * Text is read whole (node:sqlite would stop at a NUL); PostgreSQL's text
 * cannot hold NUL, so each becomes U+FFFD.
 *
 * @module
 */

import { errorMessage, OrchError } from "../errors.ts";
import { type Database, openDatabase } from "./db.ts";
import { CONDUCTOR_MIGRATIONS } from "./conductor_schema.ts";
import {
  LEADER_LOCK_KEY,
  newPgSession,
  parsePgUrl,
  pgJson,
  type PgSession,
  PgStore,
  type PgTlsOptions,
} from "./pg_store.ts";

/** The tables of the conductor's schema, parents first, each with the key it is read in order of. */
export const MIGRATED_TABLES: readonly { table: string; key: readonly string[] }[] = [
  { table: "meta", key: ["key"] },
  { table: "jobs", key: ["id"] },
  { table: "tasks", key: ["id"] },
  { table: "attempts", key: ["task_id", "attempt"] },
  { table: "players", key: ["name"] },
  { table: "drained_players", key: ["name"] },
  { table: "audit", key: ["id"] },
  { table: "schedules", key: ["name"] },
];

/** Rows read and written at once, unless told otherwise. */
export const DEFAULT_BATCH = 1000;
/** Most rows in one batch. */
export const MAX_BATCH = 100_000;
/** One INSERT carries at most about this many bytes of JSON, whatever the batch. */
export const MAX_STATEMENT_BYTES = 8 << 20;
/** A statement of the copy may run this long before the server cancels it. */
const STATEMENT_TIMEOUT_MS = 600_000;
/** How long the copy waits for a lock on a target table (another process using it). */
const LOCK_TIMEOUT_MS = 10_000;

/** Where the rows go. */
export interface MigrateTarget {
  /** A URL without password (as `PgStore.open` takes). */
  url: string;
  password?: string;
  tls?: PgTlsOptions;
}

/** Progress of the copy of one table. */
export interface MigrateProgress {
  table: string;
  copied: number;
  total: number;
}

/** Options for {@linkcode migrateSqliteToPg}. */
export interface MigrateOptions {
  /** The SQLite conductor database. */
  from: string;
  to: MigrateTarget;
  /** Rows per batch (1 to {@linkcode MAX_BATCH}; default {@linkcode DEFAULT_BATCH}). */
  batch?: number;
  /** Told after each `progressEvery` rows of a table, and at its end. */
  progress?: (p: MigrateProgress) => void;
  /** Rows between progress reports (default: ten batches). */
  progressEvery?: number;
  /** Told when the SQLite file's mode let others read it (it is then made 0600). */
  warn?: (message: string, fields: Record<string, unknown>) => void;
}

/** What was copied: rows of each table, as counted in both databases. */
export interface MigrateResult {
  tables: { table: string; rows: number }[];
  rows: number;
}

/**
 * Copies the SQLite conductor database `opts.from` into the PostgreSQL
 * database `opts.to` (given orch's schema when it has none). Throws
 * `OrchError`: `conflict` when a conductor holds the SQLite file or the
 * target already holds rows; `config` for a file or database that is not
 * orch's or of a newer orch; `unavailable` when PostgreSQL cannot be
 * reached. After any failure the target holds no orch rows.
 */
export async function migrateSqliteToPg(opts: MigrateOptions): Promise<MigrateResult> {
  const batch = opts.batch ?? DEFAULT_BATCH;
  if (!Number.isSafeInteger(batch) || batch < 1 || batch > MAX_BATCH) {
    throw new OrchError(
      "usage",
      `the batch must be an integer from 1 to ${MAX_BATCH}, not ${batch}`,
    );
  }
  const every = opts.progressEvery ?? batch * 10;
  const target = parsePgUrl(opts.to.url);
  const db = openSource(opts.from, opts.warn);
  try {
    const client = newPgSession(opts.to.url, { password: opts.to.password, tls: opts.to.tls }, {
      connectMs: 10_000,
      statementMs: STATEMENT_TIMEOUT_MS,
      name: "orch store migrate",
    });
    client.on("error", () => {
      // A broken connection fails the statement in flight, which says why.
    });
    try {
      await client.connect();
    } catch (err) {
      throw new OrchError(
        "unavailable",
        `cannot connect to ${target.shown}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    try {
      // Held by this session until it ends: no conductor leads on the target meanwhile.
      const locked = await client.query("SELECT pg_try_advisory_lock($1::bigint) AS ok", [
        LEADER_LOCK_KEY,
      ]).catch((err) => {
        throw new OrchError("unavailable", `cannot lock ${target.shown}: ${errorMessage(err)}`, {
          cause: err,
        });
      });
      if (locked.rows[0]?.ok !== true) {
        throw new OrchError(
          "conflict",
          `a conductor leads on ${target.shown} (it holds the leadership lock); orch store migrate copies into a database no conductor uses`,
          { hint: "stop every conductor that uses it, then migrate; nothing was copied" },
        );
      }
      // Gives the target orch's schema (or checks it has it), with the store's own messages.
      await (await PgStore.open(opts.to.url, {
        password: opts.to.password,
        tls: opts.to.tls,
        create: true,
      })).close();
      return await copyAll(db, client, target.shown, batch, every, opts.progress);
    } finally {
      await client.end().catch(() => {});
    }
  } finally {
    db.close();
  }
}

function openSource(path: string, warn: MigrateOptions["warn"]): Database {
  try {
    return openDatabase(path, {
      what: "conductor database",
      migrations: CONDUCTOR_MIGRATIONS,
      exclusive: true,
      create: false,
      schemaTable: "jobs",
      warn,
    });
  } catch (err) {
    if (err instanceof OrchError && err.code === "conflict") {
      throw new OrchError("conflict", err.message, {
        hint: "stop the conductor that uses it, then migrate; nothing was copied",
        cause: err,
      });
    }
    throw err;
  }
}

async function copyAll(
  db: Database,
  client: PgSession,
  shown: string,
  batch: number,
  every: number,
  progress: MigrateOptions["progress"],
): Promise<MigrateResult> {
  let done = false;
  try {
    await client.query("BEGIN");
    await client.query(`SET LOCAL lock_timeout = ${LOCK_TIMEOUT_MS}`);
    // No conductor may write to the target while it is filled.
    await client.query(
      `LOCK TABLE ${MIGRATED_TABLES.map((t) => t.table).join(", ")} IN EXCLUSIVE MODE`,
    );
    // A conductor that led on the target before holds an older epoch: its fence fails from now.
    await client.query("UPDATE orch_leader SET epoch = epoch + 1 WHERE id = 1");
    // Jobs first: a target holding jobs is named for them.
    const order = [...MIGRATED_TABLES].sort((a, b) =>
      Number(b.table === "jobs") - Number(a.table === "jobs")
    );
    for (const { table } of order) {
      const r = await client.query(`SELECT COUNT(*)::text AS n FROM ${table}`);
      const n = Number(r.rows[0].n);
      if (n > 0) {
        throw new OrchError(
          "conflict",
          `conductor database ${shown} already holds ${n} row${
            n === 1 ? "" : "s"
          } in ${table}; orch store migrate copies into an empty database only`,
          { hint: "give a new, empty database (or schema) as --to; nothing was copied" },
        );
      }
    }
    const tables: MigrateResult["tables"] = [];
    for (const t of MIGRATED_TABLES) {
      const cols = await columnsOf(db, client, t.table);
      const total = countOf(db, t.table);
      await copyTable(db, client, t, cols, total, batch, every, progress);
      const r = await client.query(`SELECT COUNT(*)::text AS n FROM ${t.table}`);
      const copied = Number(r.rows[0].n);
      if (copied !== total) {
        throw new OrchError(
          "internal",
          `${t.table}: ${total} rows in SQLite but ${copied} in PostgreSQL after the copy; nothing was kept`,
        );
      }
      tables.push({ table: t.table, rows: total });
    }
    await client.query("COMMIT");
    done = true;
    return { tables, rows: tables.reduce((s, t) => s + t.rows, 0) };
  } catch (err) {
    if (err instanceof OrchError) throw err;
    const code = String((err as { code?: unknown }).code ?? "");
    // Class 23: the target refused a row (a constraint of its own); 08/57P: the server went away.
    const kind = code.startsWith("23")
      ? "conflict"
      : /^(08|57P)|^E[A-Z]+$/.test(code)
      ? "unavailable"
      : "internal";
    throw new OrchError(
      kind,
      `copying into ${shown} failed: ${errorMessage(err)}; nothing was kept there`,
      { cause: err },
    );
  } finally {
    if (!done) await client.query("ROLLBACK").catch(() => {});
  }
}

/** A column of the target, with its PostgreSQL type. */
interface Column {
  name: string;
  type: "bigint" | "integer" | "text" | "boolean";
}

/** The columns of `table`, which both schemas must have alike. */
async function columnsOf(db: Database, client: PgSession, table: string): Promise<Column[]> {
  const r = await client.query(
    `SELECT column_name, data_type FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  const pgCols = r.rows.map((x) => ({
    name: x.column_name as string,
    type: x.data_type as Column["type"],
  }));
  const sqliteCols = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[])
    .map((x) => x.name);
  const pgNames = new Set(pgCols.map((c) => c.name));
  const onlySqlite = sqliteCols.filter((c) => !pgNames.has(c));
  const onlyPg = pgCols.filter((c) => !sqliteCols.includes(c.name)).map((c) => c.name);
  if (onlySqlite.length > 0 || onlyPg.length > 0) {
    throw new OrchError(
      "internal",
      `the table ${table} differs between the SQLite and PostgreSQL schemas (only in SQLite: ${
        onlySqlite.join(", ") || "none"
      }; only in PostgreSQL: ${onlyPg.join(", ") || "none"})`,
    );
  }
  for (const c of pgCols) {
    if (!["bigint", "integer", "text", "boolean"].includes(c.type)) {
      throw new OrchError("internal", `${table}.${c.name} has the type ${c.type}, not copied`);
    }
  }
  return pgCols;
}

function countOf(db: Database, table: string): number {
  return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
}

/**
 * Copies one table, its rows read one at a time in key order, in batches of
 * `batch` rows or {@linkcode MAX_STATEMENT_BYTES} of JSON, whichever comes first.
 */
async function copyTable(
  db: Database,
  client: PgSession,
  t: { table: string; key: readonly string[] },
  cols: Column[],
  total: number,
  batch: number,
  every: number,
  progress: MigrateOptions["progress"],
): Promise<void> {
  const list = cols.map((c) => c.name).join(", ");
  // Text as bytes: node:sqlite returns text only up to its first NUL.
  const selected = cols.map((c) =>
    c.type === "text" ? `CAST(${c.name} AS BLOB) AS ${c.name}` : c.name
  )
    .join(", ");
  const rows = db.prepare(`SELECT ${selected} FROM ${t.table} ORDER BY ${t.key.join(", ")}`);
  const insert = `INSERT INTO ${t.table} (${list})
    SELECT ${list} FROM jsonb_to_recordset($1::text::jsonb)
    AS x(${cols.map((c) => `${c.name} ${c.type}`).join(", ")})`;
  const booleans = cols.filter((c) => c.type === "boolean").map((c) => c.name);
  const texts = cols.filter((c) => c.type === "text").map((c) => c.name);
  const utf8 = new TextDecoder();
  let chunk: string[] = [];
  let bytes = 0;
  let copied = 0;
  let reported = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    await client.query(insert, [`[${chunk.join(",")}]`]);
    copied += chunk.length;
    chunk = [];
    bytes = 0;
    if (progress && copied - reported >= every) {
      reported = copied;
      progress({ table: t.table, copied, total });
    }
  };
  for (const r of rows.iterate()) {
    const row = r as Record<string, unknown>;
    for (const b of booleans) if (row[b] !== null) row[b] = row[b] !== 0;
    for (const c of texts) {
      const v = row[c];
      if (v instanceof Uint8Array) row[c] = utf8.decode(v);
    }
    const json = pgJson(row);
    if (chunk.length > 0 && bytes + json.length > MAX_STATEMENT_BYTES) await flush();
    chunk.push(json);
    bytes += json.length + 1;
    if (chunk.length >= batch) await flush();
  }
  await flush();
  if (progress && reported !== copied) progress({ table: t.table, copied, total });
  if (progress && copied === 0) progress({ table: t.table, copied: 0, total });
}
