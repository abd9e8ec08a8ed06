/**
 * The conductor's store in PostgreSQL: {@linkcode ConductorStore} over the
 * `pg` client (chosen by measurement: tests/bench/pg_clients.ts).
 *
 * A write collects what `fn` asks for (WriteTx methods are synchronous),
 * then applies it in one transaction on one connection: first the fence
 * statement when there is one (it must return a row, or the write fails and
 * writes nothing), then one statement per kind of change, each carrying all
 * its rows as one JSON parameter (`jsonb_to_recordset`), never one round trip
 * per row. The write resolves only once COMMIT returned; it rejects with
 * nothing written when any statement fails.
 *
 * Reads see committed state only; a view of several statements reads one
 * snapshot (REPEATABLE READ, READ ONLY). Writes have a connection of their
 * own (reopened once when it was lost before the write began), so reads
 * never keep a write waiting for a connection; reads run at most one fewer
 * at once than the read pool has connections, and wait for a turn here, not
 * in the pool. A write waits until the reads running when it starts have
 * taken their snapshot (their first statement), so they never see it; a
 * read whose snapshot was taken while a write was committing resolves only
 * after that write did. No read ever sees a write that has not resolved.
 *
 * @module
 */

import pg from "pg";
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
import { errorMessage, OrchError } from "../errors.ts";
import { PG_FINAL_AGGREGATE_SQL, PG_MIGRATIONS, type PgMigration } from "./pg_schema.ts";
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
  PruneCount,
  PruneRequest,
  RequestRecord,
  ScheduleRecord,
  StoreSnapshot,
  TaskRow,
  WriteTx,
} from "./types.ts";

// ------------------------------------------------------------ the client's shape

/** A row as the client returns it. */
type Row = Record<string, unknown>;

/** What this store uses of a `pg` connection. */
interface PgClient {
  query(text: string, values?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
  release(err?: Error | boolean): void;
  /** pg's connection; its socket is destroyed when a server stops answering. */
  connection?: { stream?: { destroy(): void } };
}

/** What this store uses of a `pg` pool. */
interface PgPool {
  connect(): Promise<PgClient>;
  query(text: string, values?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
  end(): Promise<void>;
  on(event: "error", fn: (err: Error) => void): void;
}

/**
 * What orch uses of a `pg` connection of its own, outside a pool (the
 * leadership session, `orch store migrate`, the bench's checks).
 */
export interface PgSession {
  connect(): Promise<void>;
  query(text: string, values?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
  end(): Promise<void>;
  on(event: "error" | "end", fn: (err?: Error) => void): void;
  /** pg's connection; its socket is destroyed when an orderly end does not come. */
  connection?: { stream?: { destroy(): void } };
}

interface PgModule {
  Client: new (config: Record<string, unknown>) => PgSession;
  Pool: new (config: Record<string, unknown>) => PgPool;
  types: { getTypeParser(oid: number, format?: string): (text: string) => unknown };
}

const PG = pg as unknown as PgModule;

/** PostgreSQL's type oid of bigint. */
const INT8_OID = 20;

/** A bigint as a JS number, refused when it is not a safe integer. */
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) {
    throw new OrchError("internal", `a bigint from the database is not a safe integer: ${text}`);
  }
  return n;
}

// ------------------------------------------------------------ options

/** TLS to the database. */
export interface PgTlsOptions {
  /**
   * `disable`: plain TCP; `require`: TLS without checking the server's
   * certificate; `verify-ca`: TLS, the certificate checked against `ca`
   * (else the system's roots) but not the host name; `verify-full`: both.
   */
  mode: "disable" | "require" | "verify-ca" | "verify-full";
  /** PEM of the CA certificates to trust. */
  ca?: string;
}

/** Options for {@linkcode PgStore.open}. */
export interface PgStoreOptions {
  /** The password, from a file or the environment; never in the URL. */
  password?: string;
  /** TLS; default: the URL's `sslmode`, else `disable`. */
  tls?: PgTlsOptions;
  /**
   * Connections for reads at most (1–100; default 4), of which reads use one
   * fewer at once (at least one); writes have one connection of their own.
   */
  poolSize?: number;
  /** The server cancels a statement that runs longer (ms; 100–3,600,000; default 30,000). */
  statementTimeoutMs?: number;
  /** How long a connection may take to open (ms; 100–600,000; default 10,000). */
  connectTimeoutMs?: number;
  /**
   * A statement run first in every write transaction; it must return a row,
   * else the write fails (`unavailable`) and writes nothing: this conductor
   * is no longer the one that may write.
   */
  fence?: string;
  /** Whether a database without orch's schema may be given it; without it, one is refused. */
  create?: boolean;
  /** Told of errors of idle connections (the server went away); the next use reconnects. */
  warn?: (message: string, fields: Record<string, unknown>) => void;
  /** Migrations to apply instead of the released ones (tests of older and newer schemas). */
  migrations?: readonly PgMigration[];
}

/** What a database URL gives. */
interface Target {
  host: string;
  port: number;
  database: string;
  user: string;
  sslmode: string | null;
  /** The URL as messages show it (no password can be in it). */
  shown: string;
}

/** Parses a `postgres://user@host:port/db?host=/socket/dir&sslmode=…` URL. */
export function parsePgUrl(url: string): Target {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OrchError("config", "the database URL is not a URL (postgres://USER@HOST:PORT/DB)");
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new OrchError(
      "config",
      `the database URL's scheme ${JSON.stringify(u.protocol)} is not postgres:`,
    );
  }
  if (u.password !== "") {
    throw new OrchError("config", "the database URL holds a password", {
      hint: "give the password from a file or the environment, never in the URL",
    });
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (database === "") throw new OrchError("config", "the database URL names no database");
  let host = decodeURIComponent(u.hostname.replace(/^\[|\]$/g, ""));
  let sslmode: string | null = null;
  for (const [k, v] of u.searchParams) {
    if (k === "host") host = v;
    else if (k === "sslmode") sslmode = v;
    else {
      throw new OrchError(
        "config",
        `the database URL has the parameter ${JSON.stringify(k)}; only host and sslmode are known`,
      );
    }
  }
  if (host === "") throw new OrchError("config", "the database URL names no host");
  const port = u.port === "" ? 5432 : Number(u.port);
  const user = decodeURIComponent(u.username);
  if (user === "") throw new OrchError("config", "the database URL names no user");
  return { host, port, database, user, sslmode, shown: u.toString() };
}

/** How long a connection may take to open and a statement to run, and the name it shows. */
export interface PgConnectionBounds {
  connectMs: number;
  /** Server side (`statement_timeout`). */
  statementMs: number;
  /** Client side (`query_timeout`); a little more than `statementMs` when left out. */
  queryMs?: number;
  /** `application_name`, as the server's activity view shows it. */
  name: string;
}

/**
 * A `pg` connection's settings for `t`: address, the password and TLS of
 * `auth`, bounds, TCP keepalives, and bigints read as safe JS numbers.
 */
function connectionConfig(
  t: Target,
  auth: PgStoreOptions,
  b: PgConnectionBounds,
): Record<string, unknown> {
  return {
    host: t.host,
    port: t.port,
    database: t.database,
    user: t.user,
    password: auth.password,
    ssl: tlsConfig(t, auth),
    connectionTimeoutMillis: b.connectMs,
    statement_timeout: b.statementMs,
    // Client side, a little longer: a connection whose server vanished never hangs a caller.
    query_timeout: b.queryMs ?? b.statementMs + 5_000,
    keepAlive: true,
    application_name: b.name,
    types: {
      getTypeParser: (oid: number, format?: string) =>
        oid === INT8_OID ? parseInt8 : PG.types.getTypeParser(oid, format),
    },
  };
}

/**
 * A connection of its own to the database at `url` (not connected yet),
 * set up as the store's are: for the leadership session, migrate and the
 * bench.
 */
export function newPgSession(url: string, auth: PgStoreOptions, b: PgConnectionBounds): PgSession {
  return new PG.Client(connectionConfig(parsePgUrl(url), auth, b));
}

function bounded(what: string, v: number | undefined, min: number, max: number, dflt: number) {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new OrchError("config", `${what} must be an integer from ${min} to ${max}, not ${v}`);
  }
  return v;
}

/** The `ssl` option of a `pg` connection for the TLS of `opts`, else the URL's `sslmode`. */
function tlsConfig(t: { sslmode: string | null }, opts: PgStoreOptions): unknown {
  const mode = opts.tls?.mode ?? t.sslmode ?? "disable";
  switch (mode) {
    case "disable":
      return false;
    case "require":
      return { rejectUnauthorized: false };
    case "verify-ca":
      // The chain is checked; the name in the certificate is not.
      return {
        rejectUnauthorized: true,
        checkServerIdentity: () => undefined,
        ...(opts.tls?.ca === undefined ? {} : { ca: opts.tls.ca }),
      };
    case "verify-full":
      return opts.tls?.ca === undefined ? { rejectUnauthorized: true } : {
        rejectUnauthorized: true,
        ca: opts.tls.ca,
      };
    default:
      throw new OrchError(
        "config",
        `the database URL's sslmode ${
          JSON.stringify(mode)
        } is not one of disable, require, verify-ca, verify-full`,
      );
  }
}

// ------------------------------------------------------------ text PostgreSQL can hold

/** What a NUL becomes in PostgreSQL, whose text cannot hold one: U+FFFD. */
const NUL_REPLACEMENT = "\uFFFD";

/** `s` with each NUL replaced by U+FFFD. */
function pgString(s: string): string {
  return s.includes("\0") ? s.replaceAll("\0", NUL_REPLACEMENT) : s;
}

/**
 * The JSON of `value` as PostgreSQL's jsonb takes it: a NUL in any string
 * (escaped `\u0000` in JSON, which jsonb refuses) becomes U+FFFD. Strings
 * holding JSON of their own are unaffected: in them a NUL is an escape, text
 * that PostgreSQL holds as it is.
 */
export function pgJson(value: unknown): string {
  const json = JSON.stringify(value);
  // JSON writes a NUL only as this escape; the check is cheap, the replacer only when needed.
  if (!json.includes("\\u0000")) return json;
  return JSON.stringify(value, (_k, v) => typeof v === "string" ? pgString(v) : v);
}

/** Parameters of a statement with each string's NUL replaced by U+FFFD. */
function pgParams(values: readonly unknown[] | undefined): unknown[] | undefined {
  return values?.map((v) => typeof v === "string" ? pgString(v) : v);
}

// ------------------------------------------------------------ rows

const JOB_COLS: [string, string][] = [
  ["id", "bigint"],
  ["score", "text"],
  ["scope", "text"],
  ["targets", "text"],
  ["params", "text"],
  ["submitted_at", "bigint"],
  ["submitted_by", "text"],
  ["timeout_ms", "bigint"],
  ["deadline", "bigint"],
  ["retries", "integer"],
  ["request_id", "text"],
  ["caller", "text"],
  ["target_count", "integer"],
  ["secrets", "text"],
  ["rollout", "text"],
  ["schedule", "text"],
  ["asked", "text"],
  ["request_digest", "text"],
];

function jobRow(j: JobRecord): Row {
  const secretKeys = Object.keys(j.secrets);
  return {
    id: j.id,
    score: j.score,
    scope: j.scope,
    targets: JSON.stringify(j.targets),
    params: storedParams(j),
    submitted_at: j.submittedAt,
    submitted_by: callerLabel(j.caller),
    timeout_ms: j.timeoutMs,
    deadline: j.deadline,
    retries: j.retries,
    request_id: j.requestId,
    caller: JSON.stringify(j.caller),
    target_count: j.targets.length,
    secrets: secretKeys.length === 0 ? null : JSON.stringify(j.secrets),
    rollout: j.rollout === null ? null : JSON.stringify(j.rollout),
    schedule: j.schedule ?? null,
    asked: j.asked === undefined ? null : JSON.stringify(j.asked),
    request_digest: j.requestDigest ?? null,
  };
}

const RESULT_COLS: [string, string][] = [
  ["exit_code", "integer"],
  ["signal", "text"],
  ["response", "text"],
  ["stdout_tail", "text"],
  ["stderr_tail", "text"],
  ["stdout_dropped", "bigint"],
  ["stderr_dropped", "bigint"],
];

function resultRow(r: AttemptResult | null): Row {
  return {
    exit_code: r ? r.exitCode : null,
    signal: r ? r.signal : null,
    response: r?.response ? JSON.stringify(r.response) : null,
    stdout_tail: r ? r.stdoutTail : null,
    stderr_tail: r ? r.stderrTail : null,
    stdout_dropped: r ? r.stdoutDropped ?? 0 : null,
    stderr_dropped: r ? r.stderrDropped ?? 0 : null,
  };
}

const TASK_COLS: [string, string][] = [
  ["id", "bigint"],
  ["job_id", "bigint"],
  ["seq", "bigint"],
  ["host", "text"],
  ["state", "text"],
  ["attempt", "integer"],
  ["tried", "text"],
  ["not_before", "bigint"],
  ["failures", "integer"],
  ["cancel_requested", "boolean"],
  ["reason", "text"],
  ["updated_at", "bigint"],
  ["assigned_at", "bigint"],
  ["started_at", "bigint"],
  ["ended_at", "bigint"],
  ...RESULT_COLS,
];

const TASK_VIEW_COLS = TASK_COLS.map((c) => c[0]).filter((c) =>
  c !== "stdout_tail" && c !== "stderr_tail" && c !== "stdout_dropped" && c !== "stderr_dropped"
);

function taskRow(t: TaskRow): Row {
  return {
    id: t.id,
    job_id: t.jobId,
    seq: t.seq,
    host: t.host,
    state: t.state,
    attempt: t.attempt,
    tried: jsonList(t.tried),
    not_before: t.notBefore,
    failures: t.failures,
    cancel_requested: t.cancelRequested,
    reason: t.reason,
    updated_at: t.updatedAt,
    assigned_at: t.assignedAt,
    started_at: t.startedAt,
    ended_at: t.endedAt,
    ...resultRow(t.result),
  };
}

const ATTEMPT_COLS: [string, string][] = [
  ["task_id", "bigint"],
  ["attempt", "integer"],
  ["player", "text"],
  ["state", "text"],
  ["assigned_at", "bigint"],
  ["started_at", "bigint"],
  ["ended_at", "bigint"],
  ["error", "text"],
  ...RESULT_COLS,
];

function attemptRow(a: AttemptRow): Row {
  return {
    task_id: a.taskId,
    attempt: a.attempt,
    player: a.player,
    state: a.state,
    assigned_at: a.assignedAt,
    started_at: a.startedAt,
    ended_at: a.endedAt,
    error: a.error,
    ...resultRow(a.result),
  };
}

const PLAYER_COLS: [string, string][] = [
  ["name", "text"],
  ["version", "text"],
  ["slots", "integer"],
  ["scores", "text"],
  ["address", "text"],
  ["first_seen", "bigint"],
  ["last_seen", "bigint"],
];

const AUDIT_COLS: [string, string][] = [
  ["ord", "bigint"],
  ["at", "bigint"],
  ["who", "text"],
  ["auth", "text"],
  ["transport", "text"],
  ["from_addr", "text"],
  ["action", "text"],
  ["subject", "text"],
  ["job_id", "bigint"],
  ["outcome", "text"],
  ["reason", "text"],
];

/** `SELECT cols FROM jsonb_to_recordset($n::text::jsonb) AS x(col type, …)`. */
function fromRows(cols: readonly [string, string][], param: number): string {
  return `SELECT ${cols.map((c) => c[0]).join(", ")} FROM jsonb_to_recordset($${param}::text::jsonb)
    AS x(${cols.map(([n, t]) => `${n} ${t}`).join(", ")})`;
}

/** `INSERT INTO table (cols) SELECT … FROM $1 rows`, with an optional tail. */
function insertRows(table: string, cols: readonly [string, string][], tail = ""): string {
  return `INSERT INTO ${table} (${cols.map((c) => c[0]).join(", ")}) ${fromRows(cols, 1)} ${tail}`;
}

/** A task from a row; without its tails (a view's columns), the result is what a view shows. */
function taskOf(r: Row): TaskRow {
  const tried = r.tried as string;
  const exitCode = r.exit_code as number | null;
  const signal = r.signal as string | null;
  const response = r.response as string | null;
  const withTails = "stdout_tail" in r;
  let result: AttemptResult | null = null;
  if (
    withTails ? r.stdout_tail !== null : exitCode !== null || signal !== null || response !== null
  ) {
    result = {
      exitCode,
      signal,
      response: response === null ? null : JSON.parse(response),
      stdoutTail: (r.stdout_tail as string | null | undefined) ?? "",
      stderrTail: (r.stderr_tail as string | null | undefined) ?? "",
      ...droppedOf(r.stdout_dropped, r.stderr_dropped),
    };
  }
  return {
    id: r.id as number,
    jobId: r.job_id as number,
    seq: r.seq as number,
    host: r.host as string | null,
    state: r.state as TaskState,
    attempt: r.attempt as number,
    tried: tried === "[]" ? [] : JSON.parse(tried),
    notBefore: r.not_before as number | null,
    failures: r.failures as number,
    cancelRequested: r.cancel_requested === true,
    reason: r.reason as string | null,
    updatedAt: r.updated_at as number,
    assignedAt: r.assigned_at as number | null,
    startedAt: r.started_at as number | null,
    endedAt: r.ended_at as number | null,
    result,
  };
}

/** A statement of a write. */
interface Stmt {
  sql: string;
  params: unknown[];
}

/**
 * The advisory lock of leadership ("orchlead"; advisory locks are per
 * database): held by the leading conductor, and by `orch store migrate`
 * while it fills a database.
 */
export const LEADER_LOCK_KEY = "8030882408563172708";

/** A stable key for the advisory lock that serializes migrations of one database. */
const MIGRATION_LOCK = 0x6f726368; // "orch"

/** The table of applied schema steps. */
const MIGRATIONS_TABLE = "orch_schema_migrations";

/** SQLSTATE classes of a lost or refused connection. */
function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    if (/^(08|57P)/.test(code)) return true;
    if (/^E(CONNREFUSED|CONNRESET|PIPE|NOENT|TIMEDOUT|HOSTUNREACH|NETUNREACH)$/.test(code)) {
      return true;
    }
  }
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect/i.test(
    errorMessage(err),
  );
}

/**
 * A statement that got no answer within the client's own timeout: pg leaves
 * it running on the connection, so every later statement there would queue
 * behind it. Such a connection is broken: destroyed, never rolled back.
 */
function isClientTimeout(err: unknown): boolean {
  return /Query read timeout|query timeout/i.test(errorMessage(err));
}

/** A connection that must be destroyed rather than given back to its pool. */
function isBroken(err: unknown): boolean {
  return isConnectionError(err) || isClientTimeout(err);
}

/**
 * How long closing the store waits for reads and the write in progress
 * (and then for connections to end in order) before it destroys their
 * connections: a server that stopped answering never holds up a close.
 */
const CLOSE_WAIT_MS = 1_000;

/** Whether `p` settled within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p.then(() => true, () => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Attempts at a working connection for a write (a lost one is reopened once). */
const WRITE_CONNECT_ATTEMPTS = 2;

/** The conductor's store in a PostgreSQL database. */
export class PgStore implements ConductorStore {
  readonly #pool: PgPool;
  readonly #writePool: PgPool;
  readonly #shown: string;
  readonly #fence: string | undefined;
  readonly #reads = new Set<Promise<unknown>>();
  /** Reads that hold a turn and have not taken their snapshot yet. */
  readonly #snapshots = new Set<Promise<void>>();
  /** Reads at once at most. */
  readonly #readLimit: number;
  #readsRunning = 0;
  /** Reads waiting for a turn, first come first served. */
  readonly #readQueue: (() => void)[] = [];
  /** The commit in progress, if any. */
  #committing: Promise<unknown> | null = null;
  #writing = false;
  #closed = false;
  /** Every connection of both pools that has not ended yet. */
  readonly #clients = new Set<PgClient>();
  /** Called when the last connection ended. */
  #allEnded: (() => void) | null = null;

  private constructor(
    pool: PgPool,
    writePool: PgPool,
    readLimit: number,
    shown: string,
    fence: string | undefined,
  ) {
    this.#pool = pool;
    this.#writePool = writePool;
    this.#readLimit = readLimit;
    this.#shown = shown;
    this.#fence = fence;
  }

  /**
   * Connects to the database at `url` and brings its schema up to date in
   * one transaction. Throws `OrchError`: `config` for a bad URL or option, a
   * database that is not orch's, or one of a newer orch; `unavailable` when
   * the server cannot be reached or refuses the login.
   */
  static async open(url: string, opts: PgStoreOptions = {}): Promise<PgStore> {
    const t = parsePgUrl(url);
    const poolSize = bounded("the database pool size", opts.poolSize, 1, 100, 4);
    const statementMs = bounded(
      "the database statement timeout (ms)",
      opts.statementTimeoutMs,
      100,
      3_600_000,
      30_000,
    );
    const connectMs = bounded(
      "the database connect timeout (ms)",
      opts.connectTimeoutMs,
      100,
      600_000,
      10_000,
    );
    const config = connectionConfig(t, opts, {
      connectMs,
      statementMs,
      name: "orch conductor",
    });
    const pool = new PG.Pool({ ...config, max: poolSize });
    // The write connection stays open while idle: a write does not wait for a new one.
    const writePool = new PG.Pool({ ...config, max: 1, idleTimeoutMillis: 0 });
    for (const p of [pool, writePool]) {
      p.on("error", (err) => {
        opts.warn?.("a database connection failed while idle; the next use reconnects", {
          database: t.shown,
          error: errorMessage(err),
        });
      });
      // A connection in use that the server ends between two statements (an idle-in-transaction
      // timeout, a restart) reports it as an event: without a listener that would end the
      // process; the next statement on it fails instead, and that failure is the caller's.
      (p as unknown as {
        on(event: "connect", fn: (c: { on(e: "error", f: () => void): void }) => void): void;
      }).on("connect", (client) => client.on("error", () => {}));
    }
    const store = new PgStore(pool, writePool, Math.max(1, poolSize - 1), t.shown, opts.fence);
    for (const p of [pool, writePool]) {
      const events = p as unknown as { on(event: string, fn: (c: PgClient) => void): void };
      events.on("connect", (client) => store.#clients.add(client));
      events.on("remove", (client) => {
        store.#clients.delete(client);
        if (store.#clients.size === 0) store.#allEnded?.();
      });
    }
    try {
      await store.#migrate(opts.migrations ?? PG_MIGRATIONS, opts.create ?? false);
    } catch (err) {
      await pool.end().catch(() => {});
      await writePool.end().catch(() => {});
      throw err;
    }
    return store;
  }

  /** An OrchError for a failure of the database, naming it (never a password: none is in the URL). */
  #failure(what: string, err: unknown): OrchError {
    if (err instanceof OrchError) return err;
    const tls = tlsHint(err);
    if (tls !== null) {
      return new OrchError("unavailable", `${what} ${this.#shown}: ${errorMessage(err)}`, {
        hint: tls,
        cause: err,
      });
    }
    const code = (err as { code?: unknown }).code;
    if (code === "28P01" || code === "28000") {
      return new OrchError(
        "unavailable",
        `${what} ${this.#shown}: the server refused the login (${errorMessage(err)})`,
        { hint: "check the user and the password given to orch", cause: err },
      );
    }
    if (isBroken(err)) {
      return new OrchError(
        "unavailable",
        `${what} ${this.#shown}: the database cannot be reached (${errorMessage(err)})`,
        { cause: err },
      );
    }
    return new OrchError("internal", `${what} ${this.#shown}: ${errorMessage(err)}`, {
      cause: err,
    });
  }

  async #migrate(migrations: readonly PgMigration[], create: boolean): Promise<void> {
    let c: PgClient;
    try {
      c = await this.#pool.connect();
    } catch (err) {
      throw this.#failure("cannot connect to conductor database", err);
    }
    let broken = false;
    try {
      await c.query("BEGIN");
      // Two conductors opening one database at once migrate it one after the other.
      await c.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      const tables = (await c.query(
        `SELECT table_name FROM information_schema.tables
         WHERE table_schema = current_schema() ORDER BY table_name COLLATE "C"`,
      )).rows.map((r) => r.table_name as string);
      let current = 0;
      if (tables.includes(MIGRATIONS_TABLE)) {
        current = (await c.query(
          `SELECT COALESCE(MAX(version), 0)::bigint AS v FROM ${MIGRATIONS_TABLE}`,
        )).rows[0].v as number;
      } else if (tables.length > 0) {
        const shown = tables.slice(0, 5).join(", ") + (tables.length > 5 ? ", …" : "");
        throw new OrchError(
          "config",
          `conductor database ${this.#shown} holds tables (${shown}) but not orch's schema`,
          { hint: "check the URL: orch does not change a database it did not make" },
        );
      } else if (!create) {
        throw new OrchError(
          "config",
          `conductor database ${this.#shown} holds no orch schema; on a first start, run with --init`,
        );
      }
      const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
      if (current > latest) {
        throw new OrchError(
          "config",
          `conductor database ${this.#shown} has schema version ${current}, newer than this orch knows (${latest})`,
          { hint: "run a newer orch, or restore a backup made by this version" },
        );
      }
      if (current === 0) {
        await c.query(
          `CREATE TABLE ${MIGRATIONS_TABLE} (version integer PRIMARY KEY, applied_at bigint NOT NULL)`,
        );
      }
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (m.version <= current) continue;
        await c.query(m.sql);
        await c.query(`INSERT INTO ${MIGRATIONS_TABLE} (version, applied_at) VALUES ($1, $2)`, [
          m.version,
          Date.now(),
        ]);
      }
      await c.query("COMMIT");
    } catch (err) {
      broken = isBroken(err);
      if (!broken) await c.query("ROLLBACK").catch(() => {});
      throw this.#failure("cannot open conductor database", err);
    } finally {
      c.release(broken);
    }
  }

  // ------------------------------------------------------------------ write

  async write(fn: (tx: WriteTx) => void): Promise<void> {
    if (this.#closed) throw new Error(`conductor database ${this.#shown} is closed`);
    if (this.#writing) throw new Error("a write was started inside another write");
    const c = new Changes();
    this.#writing = true;
    try {
      const out: unknown = fn(c);
      if (out instanceof Promise) {
        out.catch(() => {});
        throw new TypeError("the function of a write must not be async: it would write too late");
      }
    } catch (err) {
      c.open = false;
      this.#writing = false;
      throw err;
    }
    c.open = false;
    try {
      // The reads running now take their snapshot before the commit: they never see it.
      if (this.#snapshots.size > 0) await Promise.all([...this.#snapshots]);
      const commit = this.#commit(c);
      this.#committing = commit;
      const pruned = await commit;
      c.prunes.forEach((p, i) => p.done(pruned[i]));
    } finally {
      this.#committing = null;
      this.#writing = false;
    }
  }

  /** The statements of a write, apart from prunes and schedules, in order. */
  #statements(c: Changes): Stmt[] {
    const out: Stmt[] = [];
    const rows = (list: Row[]) => [pgJson(list)];
    if (c.conductorId !== null) {
      out.push({
        sql: "INSERT INTO meta (key, value) VALUES ('conductor_id', $1)",
        params: [c.conductorId],
      });
    }
    if (c.jobs.length > 0) {
      out.push({ sql: insertRows("jobs", JOB_COLS), params: rows(c.jobs.map(jobRow)) });
    }
    if (c.inserted.length > 0) {
      out.push({ sql: insertRows("tasks", TASK_COLS), params: rows(c.inserted.map(taskRow)) });
    }
    if (c.saved.size > 0) {
      // A task never changes job: job_id is left out of the update.
      const set = TASK_COLS.map((x) => x[0]).filter((x) => x !== "id" && x !== "job_id")
        .map((x) => `${x} = excluded.${x}`).join(", ");
      out.push({
        sql: insertRows("tasks", TASK_COLS, `ON CONFLICT (id) DO UPDATE SET ${set}`),
        params: rows([...c.saved.values()].map(taskRow)),
      });
    }
    if (c.attempts.length > 0) {
      out.push({
        sql: insertRows("attempts", ATTEMPT_COLS),
        params: rows(c.attempts.map(attemptRow)),
      });
    }
    const pairs: [string, string][] = [["id", "bigint"], ["at", "bigint"]];
    if (c.finished.size > 0) {
      out.push({
        sql: `UPDATE jobs SET finished_at = v.at, final_aggregate = ${PG_FINAL_AGGREGATE_SQL}
              FROM (${fromRows(pairs, 1)}) AS v WHERE jobs.id = v.id AND jobs.finished_at IS NULL`,
        params: rows([...c.finished].map(([id, at]) => ({ id, at }))),
      });
    }
    if (c.cancelled.size > 0) {
      out.push({
        sql: `UPDATE jobs SET cancelled_at = v.at FROM (${fromRows(pairs, 1)}) AS v
              WHERE jobs.id = v.id AND jobs.cancelled_at IS NULL`,
        params: rows([...c.cancelled].map(([id, at]) => ({ id, at }))),
      });
    }
    if (c.players.size > 0) {
      out.push({
        sql: insertRows(
          "players",
          PLAYER_COLS,
          `ON CONFLICT (name) DO UPDATE SET version = excluded.version, slots = excluded.slots,
           scores = excluded.scores, address = excluded.address, last_seen = excluded.last_seen`,
        ),
        params: rows([...c.players.values()].map((p) => ({
          name: p.name,
          version: p.version,
          slots: p.slots,
          scores: JSON.stringify(p.scores),
          address: p.address,
          first_seen: p.lastSeen,
          last_seen: p.lastSeen,
        }))),
      });
    }
    if (c.touched.size > 0) {
      out.push({
        sql: `UPDATE players SET last_seen = v.at
              FROM (${fromRows([["name", "text"], ["at", "bigint"]], 1)}) AS v
              WHERE players.name = v.name`,
        params: rows([...c.touched].map(([name, at]) => ({ name, at }))),
      });
    }
    for (const [name, at] of c.drained) {
      out.push(
        at === null ? { sql: "DELETE FROM drained_players WHERE name = $1", params: [name] } : {
          sql:
            "INSERT INTO drained_players (name, at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
          params: [name, at],
        },
      );
    }
    if (c.audit.length > 0) {
      out.push({
        sql: `INSERT INTO audit (id, at, who, auth, transport, from_addr, action, subject, job_id,
                outcome, reason)
              SELECT (SELECT COALESCE(MAX(id), 0) FROM audit) + ord, at, who, auth, transport,
                from_addr, action, subject, job_id, outcome, reason
              FROM (${fromRows(AUDIT_COLS, 1)}) AS v ORDER BY ord`,
        params: rows(c.audit.map((a, i) => ({
          ord: i + 1,
          at: a.at,
          who: a.who,
          auth: a.auth,
          transport: a.transport,
          from_addr: a.from,
          action: a.action,
          subject: a.subject,
          job_id: a.job_id,
          outcome: a.outcome,
          reason: a.reason,
        }))),
      });
    }
    for (const op of c.schedules) out.push(scheduleStmt(op));
    return out;
  }

  /**
   * The write connection in a transaction just begun. A connection lost
   * before then (the server restarted, an idle connection ended) is
   * reopened, {@linkcode WRITE_CONNECT_ATTEMPTS} times at most: nothing of
   * the write was sent yet.
   */
  async #beginWrite(): Promise<PgClient> {
    for (let attempt = 1;; attempt++) {
      let client: PgClient;
      try {
        client = await this.#writePool.connect();
      } catch (err) {
        if (attempt < WRITE_CONNECT_ATTEMPTS && isConnectionError(err)) continue;
        throw this.#failure("cannot write to conductor database", err);
      }
      try {
        await client.query("BEGIN");
        return client;
      } catch (err) {
        const broken = isConnectionError(err);
        client.release(true);
        if (attempt < WRITE_CONNECT_ATTEMPTS && broken) continue;
        throw this.#failure("cannot write to conductor database", err);
      }
    }
  }

  async #commit(c: Changes): Promise<PruneCount[]> {
    const stmts = this.#statements(c);
    const client = await this.#beginWrite();
    let broken = false;
    try {
      if (this.#fence !== undefined) {
        const r = await client.query(this.#fence);
        if (r.rows.length === 0) {
          throw new OrchError(
            "unavailable",
            `this conductor is no longer the leader: its fence on conductor database ${this.#shown} returned no row; nothing was written`,
          );
        }
      }
      for (const s of stmts) await client.query(s.sql, pgParams(s.params));
      const pruned: PruneCount[] = [];
      for (const p of c.prunes) pruned.push(await prune(client, p.req));
      await client.query("COMMIT");
      return pruned;
    } catch (err) {
      broken = isBroken(err);
      if (!broken) await client.query("ROLLBACK").catch(() => {});
      throw this.#failure("cannot write to conductor database", err);
    } finally {
      client.release(broken);
    }
  }

  // ------------------------------------------------------------------ reads

  /** Gives a read's turn to the next waiting read, or frees it. */
  #endTurn(): void {
    const next = this.#readQueue.shift();
    if (next) next();
    else this.#readsRunning--;
  }

  /** Runs `fn` on one snapshot of committed state. */
  #read<T>(fn: (q: PgClient["query"]) => Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new Error(`conductor database ${this.#shown} is closed`));
    }
    let snapped!: () => void;
    const snapshot = new Promise<void>((r) => snapped = r);
    const taken = () => {
      snapped();
      this.#snapshots.delete(snapshot);
    };
    // A turn now, when one is free: a write started after this call waits for its snapshot.
    const hasTurn = this.#readsRunning < this.#readLimit;
    if (hasTurn) {
      this.#readsRunning++;
      this.#snapshots.add(snapshot);
    }
    const run = async () => {
      if (!hasTurn) {
        // The turn is handed over by #endTurn: the count of running reads stays.
        await new Promise<void>((r) => this.#readQueue.push(r));
        this.#snapshots.add(snapshot);
      }
      /** The commit in progress when this read took its snapshot. */
      let during: Promise<unknown> | null = null;
      let out: T;
      try {
        let c: PgClient;
        try {
          c = await this.#pool.connect();
        } catch (err) {
          throw this.#failure("cannot read conductor database", err);
        }
        let broken = false;
        try {
          await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
          // REPEATABLE READ takes the snapshot at the first statement: a trivial one, so a
          // write waits for the snapshot only, never for a heavy first query.
          await c.query("SELECT 1");
          during = this.#committing;
          taken();
          out = await fn((text, values) => c.query(text, pgParams(values)));
          await c.query("COMMIT");
        } catch (err) {
          broken = isBroken(err);
          if (!broken) await c.query("ROLLBACK").catch(() => {});
          if (err instanceof RangeError) throw err;
          throw this.#failure("cannot read conductor database", err);
        } finally {
          c.release(broken);
        }
      } finally {
        taken();
        this.#endTurn();
      }
      // It may show that commit: it resolves only once the write did.
      if (during !== null) await Promise.allSettled([during]);
      return out;
    };
    const p = run();
    this.#reads.add(p);
    const forget = () => this.#reads.delete(p);
    p.then(forget, forget);
    return p;
  }

  load(): Promise<StoreSnapshot> {
    return this.#read(async (q) => {
      const meta = (await q("SELECT value FROM meta WHERE key = 'conductor_id'")).rows[0];
      const ids = (await q(
        `SELECT GREATEST((SELECT COALESCE(MAX(id), 0) FROM jobs),
                  (SELECT COALESCE(MAX(value::bigint), 0) FROM meta WHERE key = 'max_job_id'))
                  AS job,
                GREATEST((SELECT COALESCE(MAX(id), 0) FROM tasks),
                  (SELECT COALESCE(MAX(value::bigint), 0) FROM meta WHERE key = 'max_task_id'))
                  AS task,
                (SELECT MIN(seq) FROM tasks) AS low, (SELECT MAX(seq) FROM tasks) AS high`,
      )).rows[0];
      const tasks = (await q(
        `SELECT ${TASK_COLS.map((x) => `t.${x[0]}`).join(", ")}
         FROM jobs j JOIN tasks t ON t.job_id = j.id
         WHERE j.finished_at IS NULL AND t.state IN ('queued', 'assigned', 'running')
         ORDER BY t.seq, t.id`,
      )).rows.map(taskOf);
      const jobIds = [...new Set(tasks.map((t) => t.jobId))].sort((a, b) => a - b);
      const jobs = (await q(
        `SELECT ${JOB_COLS.map((x) => x[0]).join(", ")} FROM jobs
         WHERE id = ANY($1::bigint[]) ORDER BY id`,
        [jobIds],
      )).rows.map(jobOf);
      const finished = (await q(
        `SELECT job_id, COUNT(*) FILTER (WHERE state = 'succeeded') AS succeeded, COUNT(*) AS n
         FROM tasks WHERE job_id = ANY($1::bigint[])
           AND state NOT IN ('queued', 'assigned', 'running')
         GROUP BY job_id ORDER BY job_id`,
        [jobIds],
      )).rows.map(finishedOf);
      const nOf = jobs.filter((j) => j.rollout?.some != null).map((j) => j.id);
      const finishedHosts = nOf.length === 0 ? [] : finishedHostsOf(
        (await q(
          `SELECT job_id, host FROM tasks
           WHERE job_id = ANY($1::bigint[]) AND host IS NOT NULL
             AND state NOT IN ('queued', 'assigned', 'running')
           ORDER BY job_id, id`,
          [nOf],
        )).rows,
      );
      const done = (await q(
        `SELECT id FROM jobs j WHERE finished_at IS NULL AND NOT EXISTS
           (SELECT 1 FROM tasks t WHERE t.job_id = j.id
              AND t.state IN ('queued', 'assigned', 'running'))
         ORDER BY id`,
      )).rows;
      const players = (await q(
        `SELECT ${PLAYER_COLS.map((x) => x[0]).join(", ")} FROM players ORDER BY name COLLATE "C"`,
      )).rows.map(playerOf);
      const drained = (await q('SELECT name FROM drained_players ORDER BY name COLLATE "C"'))
        .rows.map((r) => r.name as string);
      return {
        conductorId: meta ? (meta.value as string) : null,
        maxJobId: ids.job as number,
        maxTaskId: ids.task as number,
        seqLow: (ids.low as number | null) ?? 0,
        seqHigh: (ids.high as number | null) ?? 0,
        jobs,
        tasks,
        finishedHosts,
        finished,
        unfinishedDoneJobs: done.map((r) => r.id as number),
        players,
        drained,
      };
    });
  }

  jobIdByRequest(requestId: string): Promise<number | undefined> {
    return this.#read(async (q) => {
      const r = (await q("SELECT id FROM jobs WHERE request_id = $1", [requestId])).rows[0];
      return r ? (r.id as number) : undefined;
    });
  }

  jobByRequest(requestId: string): Promise<RequestRecord | undefined> {
    return this.#read(async (q) => {
      const r = (await q(
        "SELECT id, submitted_by, request_digest FROM jobs WHERE request_id = $1",
        [requestId],
      )).rows[0];
      return r ? requestOf(r) : undefined;
    });
  }

  job(id: number): Promise<JobView | undefined> {
    return this.#read(async (q) => {
      const head = (col: string) =>
        `(SELECT COALESCE(jsonb_agg(e.value ORDER BY e.ord), '[]'::jsonb)::text
          FROM jsonb_array_elements(${col}::jsonb) WITH ORDINALITY AS e(value, ord)
          WHERE e.ord <= ${MAX_VIEW_TARGETS})`;
      const j = (await q(
        `SELECT id, score, scope, target_count, params, secrets, submitted_at, submitted_by, caller,
                finished_at, timeout_ms, deadline, retries, cancelled_at, rollout, schedule,
                ${head("jobs.targets")} AS targets_head,
                CASE WHEN jobs.asked IS NULL THEN NULL ELSE ${head("jobs.asked")} END AS asked_head
         FROM jobs WHERE id = $1 AND pruning IS NULL`,
        [id],
      )).rows[0];
      if (!j) return undefined;
      const { counts, total } = countsOf(
        (await q("SELECT state, COUNT(*) AS n FROM tasks WHERE job_id = $1 GROUP BY state", [id]))
          .rows,
      );
      return jobView(j, counts, total);
    });
  }

  tasks(jobId: number, query: TaskQuery): Promise<TaskPage | undefined> {
    try {
      checkTaskQuery(query);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#read(async (q) => {
      if (
        (await q("SELECT 1 FROM jobs WHERE id = $1 AND pruning IS NULL", [jobId])).rows.length === 0
      ) {
        return undefined;
      }
      let where = "job_id = $1";
      const args: unknown[] = [jobId];
      if (query.state !== undefined) {
        args.push(query.state);
        where += ` AND state = $${args.length}`;
      }
      if (query.host !== undefined) {
        args.push(query.host);
        where += ` AND host = $${args.length}`;
      }
      const total = (await q(`SELECT COUNT(*) AS n FROM tasks WHERE ${where}`, args)).rows[0]
        .n as number;
      const cols = query.output ? TASK_COLS.map((x) => x[0]) : TASK_VIEW_COLS;
      const rows = (await q(
        `SELECT ${cols.join(", ")} FROM tasks WHERE ${where} ORDER BY id
         LIMIT $${args.length + 1} OFFSET $${args.length + 2}`,
        [...args, query.limit, (query.page - 1) * query.limit],
      )).rows.map(taskOf);
      let history: Map<number, AttemptRow[]> | null = null;
      if (query.output) {
        history = rows.length === 0 ? new Map<number, AttemptRow[]>() : attemptsByTask(
          (await q(
            `SELECT ${ATTEMPT_COLS.map((x) => x[0]).join(", ")} FROM attempts
             WHERE task_id = ANY($1::bigint[]) ORDER BY task_id, attempt`,
            [rows.map((t) => t.id)],
          )).rows,
        );
      }
      return taskPage(jobId, query, total, rows, history);
    });
  }

  task(jobId: number, taskId: number): Promise<TaskDetail | undefined> {
    return this.#read(async (q) => {
      const r = (await q(
        `SELECT ${TASK_COLS.map((x) => x[0]).join(", ")} FROM tasks
         WHERE id = $1 AND job_id = (SELECT id FROM jobs WHERE id = $2 AND pruning IS NULL)`,
        [taskId, jobId],
      )).rows[0];
      if (!r) return undefined;
      const history = (await q(
        `SELECT ${ATTEMPT_COLS.map((x) => x[0]).join(", ")} FROM attempts WHERE task_id = $1
         ORDER BY attempt`,
        [taskId],
      )).rows.map(attemptOf);
      return taskDetail(taskOf(r), history);
    });
  }

  jobs(query: JobQuery): Promise<JobSummary[]> {
    try {
      checkJobQuery(query);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#read((q) => {
      // Arguments: $1 the id bound, then the filters, then the limit.
      let where = "";
      const args: unknown[] = [];
      const arg = (v: unknown) => {
        args.push(v);
        return `$${args.length + 1}`;
      };
      if (query.score !== undefined) where += ` AND score = ${arg(query.score)}`;
      if (query.submittedBy !== undefined) where += ` AND submitted_by = ${arg(query.submittedBy)}`;
      if (query.since !== undefined) where += ` AND submitted_at >= ${arg(query.since)}`;
      if (query.until !== undefined) where += ` AND submitted_at < ${arg(query.until)}`;
      const { limit, before, state } = query;
      const page = (w: string, a: unknown[], agg?: Aggregate) =>
        this.#jobPage(q, w, a, limit, before, agg);
      switch (state) {
        case undefined:
          return page(where, args);
        case "open":
          return page(`${where} AND finished_at IS NULL`, args);
        case "finished":
          return page(`${where} AND finished_at IS NOT NULL`, args);
        case "pending":
        case "running":
          return page(`${where} AND finished_at IS NULL`, args, state);
        case "partial": {
          const w = `${where} AND final_aggregate = ${arg(state)}`;
          return page(w, args);
        }
        case "success":
        case "failure": {
          const open = `${where} AND finished_at IS NULL
            AND (rollout::jsonb ->> 'quorum') IS NOT NULL`;
          const openArgs = [...args];
          const doneWhere = `${where} AND final_aggregate = ${arg(state)}`;
          return (async () => {
            const done = await page(doneWhere, args);
            const opened = await page(open, openArgs, state);
            return [...done, ...opened].sort((a, b) => b.id - a.id).slice(0, limit);
          })();
        }
      }
    });
  }

  async #jobPage(
    q: PgClient["query"],
    where: string,
    args: unknown[],
    limit: number,
    before: number | undefined,
    aggregate?: Aggregate,
  ): Promise<JobSummary[]> {
    const found: JobSummary[] = [];
    let below = before ?? Number.MAX_SAFE_INTEGER;
    for (;;) {
      const jobs = (await q(
        `SELECT id, score, scope, target_count, submitted_at, submitted_by, finished_at, rollout
         FROM jobs WHERE id < $1 AND pruning IS NULL${where}
         ORDER BY id DESC LIMIT $${args.length + 2}`,
        [below, ...args, limit],
      )).rows;
      for (const j of await this.#summaries(q, jobs)) {
        if (aggregate === undefined || j.aggregate === aggregate) found.push(j);
      }
      if (aggregate === undefined || found.length >= limit || jobs.length < limit) {
        return found.slice(0, limit);
      }
      below = jobs[jobs.length - 1].id as number;
    }
  }

  async #summaries(q: PgClient["query"], jobs: Row[]): Promise<JobSummary[]> {
    if (jobs.length === 0) return [];
    const byJob = countsByJob(
      (await q(
        `SELECT job_id, state, COUNT(*) AS n FROM tasks
         WHERE job_id = ANY($1::bigint[]) GROUP BY job_id, state`,
        [jobs.map((j) => j.id)],
      )).rows,
    );
    return jobs.map((j) => jobSummary(j, byJob.get(j.id as number) ?? {}));
  }

  jobAccess(id: number): Promise<JobAccess | undefined> {
    return this.#read(async (q) => {
      const r = (await q(
        "SELECT score, targets, submitted_by FROM jobs WHERE id = $1 AND pruning IS NULL",
        [id],
      )).rows[0];
      return r ? jobAccessOf(r) : undefined;
    });
  }

  audit(query: AuditQuery): Promise<AuditRecord[]> {
    try {
      checkAuditQuery(query);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#read(async (q) => {
      const args: unknown[] = [query.before ?? Number.MAX_SAFE_INTEGER, query.since ?? 0];
      let where = "id < $1 AND at >= $2";
      if (query.who !== undefined) {
        args.push(query.who);
        where += ` AND who = $${args.length}`;
      }
      args.push(query.limit);
      const rows = (await q(
        `SELECT id, at, who, auth, transport, from_addr, action, subject, job_id, outcome, reason
         FROM audit WHERE ${where} ORDER BY id DESC LIMIT $${args.length}`,
        args,
      )).rows;
      return rows.map(auditOf);
    });
  }

  schedules(): Promise<ScheduleRecord[]> {
    return this.#read(async (q) =>
      (await q('SELECT * FROM schedules ORDER BY name COLLATE "C"')).rows.map((r) =>
        scheduleOf(r, r.enabled === true)
      )
    );
  }

  prunable(before: number): Promise<{ jobs: number; tasks: number }> {
    return this.#read(async (q) => {
      const r = (await q(
        `SELECT COUNT(*) AS jobs, COALESCE(SUM(
                  (SELECT COUNT(*) FROM tasks WHERE tasks.job_id = jobs.id)), 0)::bigint AS tasks
         FROM jobs WHERE finished_at < $1 OR pruning IS NOT NULL`,
        [before],
      )).rows[0];
      return { jobs: r.jobs as number, tasks: r.tasks as number };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const destroyAll = () => {
      for (const c of this.#clients) c.connection?.stream?.destroy();
    };
    // A read or write on a server that stopped answering fails at once when its socket goes.
    const busy = Promise.allSettled([...this.#reads, this.#committing]);
    if (!await settlesWithin(busy, CLOSE_WAIT_MS)) destroyAll();
    await this.#pool.end();
    await this.#writePool.end();
    // The pools end their idle connections without waiting for the server's goodbye.
    const ended = new Promise<void>((r) => (this.#allEnded = r));
    if (this.#clients.size > 0 && !await settlesWithin(ended, CLOSE_WAIT_MS)) destroyAll();
    this.#allEnded = null;
  }
}

function scheduleStmt(op: ScheduleOp): Stmt {
  switch (op.op) {
    case "add": {
      const s = op.schedule;
      return {
        sql: `INSERT INTO schedules (name, spec, policy, job, owner, owner_groups, created_at,
                last_due, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        params: [
          s.name,
          JSON.stringify(s.spec),
          s.policy,
          JSON.stringify(s.job),
          JSON.stringify(s.owner),
          JSON.stringify(s.ownerGroups),
          s.createdAt,
          s.lastDue,
          s.enabled,
        ],
      };
    }
    case "remove":
      return { sql: "DELETE FROM schedules WHERE name = $1", params: [op.name] };
    case "due":
      return {
        sql: "UPDATE schedules SET last_due = $1 WHERE name = $2",
        params: [op.lastDue, op.name],
      };
  }
}

/**
 * Removes up to `req.maxRows` rows of finished jobs (oldest first; jobs
 * marked as being pruned before any other) and then of old audit records,
 * as the SQLite store does.
 */
async function prune(c: PgClient, req: PruneRequest): Promise<PruneCount> {
  const count: PruneCount = { jobs: 0, tasks: 0, audit: 0, more: false };
  let budget = req.maxRows;
  const marked = (await c.query(
    "SELECT id FROM jobs WHERE pruning IS NOT NULL ORDER BY id LIMIT $1",
    [budget],
  )).rows.map((r) => r.id as number);
  const old = (await c.query(
    `SELECT id FROM jobs WHERE finished_at < $1 AND pruning IS NULL
     ORDER BY finished_at, id LIMIT $2`,
    [req.before, budget],
  )).rows.map((r) => r.id as number);
  if (marked.length > 0 || old.length > 0) {
    // Ids are never used twice: the highest ever used outlive the jobs and tasks that had them.
    await c.query(
      `INSERT INTO meta (key, value)
       VALUES ('max_job_id', (SELECT COALESCE(MAX(id), 0) FROM jobs)::text),
              ('max_task_id', (SELECT COALESCE(MAX(id), 0) FROM tasks)::text)
       ON CONFLICT (key) DO UPDATE
         SET value = GREATEST(meta.value::bigint, excluded.value::bigint)::text`,
    );
  }
  for (const id of [...marked, ...old]) {
    if (budget <= 0) break;
    const n = (await c.query(
      `SELECT (SELECT COUNT(*) FROM tasks WHERE job_id = $1) AS tasks,
              (SELECT COUNT(*) FROM attempts
               WHERE task_id IN (SELECT id FROM tasks WHERE job_id = $1)) AS attempts`,
      [id],
    )).rows[0];
    const rows = 1 + (n.tasks as number) + (n.attempts as number);
    if (rows <= budget) {
      await c.query(
        "DELETE FROM attempts WHERE task_id IN (SELECT id FROM tasks WHERE job_id = $1)",
        [id],
      );
      await c.query("DELETE FROM tasks WHERE job_id = $1", [id]);
      await c.query("DELETE FROM jobs WHERE id = $1", [id]);
      budget -= rows;
      count.jobs++;
      count.tasks += n.tasks as number;
      continue;
    }
    // Too big for what is left: it disappears from views now and goes over several prunes.
    await c.query(
      "UPDATE jobs SET pruning = true, request_id = NULL WHERE id = $1 AND pruning IS NULL",
      [id],
    );
    const ids: number[] = [];
    let used = 0;
    for (
      const r of (await c.query(
        `SELECT id, (SELECT COUNT(*) FROM attempts WHERE task_id = tasks.id) AS n
         FROM tasks WHERE job_id = $1 ORDER BY id LIMIT $2`,
        [id, budget],
      )).rows
    ) {
      const cost = 1 + (r.n as number);
      if (used + cost > budget && !(ids.length === 0 && budget === req.maxRows)) break;
      ids.push(r.id as number);
      used += cost;
    }
    await c.query("DELETE FROM attempts WHERE task_id = ANY($1::bigint[])", [ids]);
    await c.query("DELETE FROM tasks WHERE id = ANY($1::bigint[])", [ids]);
    count.tasks += ids.length;
    budget = 0;
  }
  if (budget > 0 && req.auditBefore !== null) {
    const r = await c.query(
      `DELETE FROM audit WHERE id IN (
         SELECT id FROM audit WHERE at < $1 ORDER BY at, id LIMIT $2)`,
      [req.auditBefore, budget],
    );
    count.audit = r.rowCount ?? 0;
    budget -= count.audit;
  }
  count.more = budget <= 0;
  return count;
}

/** Certificate checks of the server that fail (Node's codes). */
const CERT_CODES: ReadonlySet<string> = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * How to fix a failed TLS connection to the database, or null when `err`
 * is not one: the server's certificate was not trusted, or the server
 * takes no TLS.
 */
export function tlsHint(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && CERT_CODES.has(code)) {
    return code === "ERR_TLS_CERT_ALTNAME_INVALID"
      ? "the database server's certificate does not name the host in the store URL: use the name it holds, or sslmode=verify-ca"
      : "the database server's certificate is not signed by a CA orch trusts: give its CA with sslrootcert= in the store URL (or store_tls_ca)";
  }
  if (/does not support SSL/i.test(errorMessage(err))) {
    return "the database server takes no TLS: enable ssl on it, or use sslmode=disable over a Unix socket or a trusted network";
  }
  return null;
}
