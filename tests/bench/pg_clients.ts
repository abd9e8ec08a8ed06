/**
 * The two PostgreSQL clients on npm, `postgres` (porsager) and `pg`
 * (node-postgres), side by side under this Deno, on a private server: the
 * figures and checks the PostgreSQL store's choice of client rests on.
 *
 * Figures, over the Unix socket: (a) one-row insert + commit round trips per
 * second, (b) 500-row transactions (one multi-row insert, as a group commit
 * of a burst writes), (c) 1,000-row selects mapped to objects, (d) connect
 * time; (e) a transaction of six statements over TCP with TLS (a write's
 * shape). Checks: Unix socket, TLS to a server whose certificate a CA file
 * vouches for, a statement timeout, a clean error when the server restarts
 * under an open connection (and the next query works), pipelining.
 *
 * Run: `deno run -A tests/bench/pg_clients.ts`. Prints figures; never fails
 * on timing.
 *
 * @module
 */

import postgres from "postgres";
import pg from "pg";
import { PgCluster } from "../_helpers/postgres.ts";

const ONE_ROW = 2_000;
const BURSTS = 40;
const BURST_ROWS = 500;
const SELECTS = 100;
const CONNECTS = 20;
const SIX_TX = 500;

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** What each client is driven through. */
interface Driver {
  name: string;
  /** Runs `stmts` in one transaction, in order. */
  tx(stmts: { sql: string; params: unknown[] }[]): Promise<void>;
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  end(): Promise<void>;
}

function porsager(opts: Record<string, unknown>): Driver {
  // deno-lint-ignore no-explicit-any -- the options object differs per check
  const sql = postgres({ max: 4, fetch_types: false, onnotice: () => {}, ...opts } as any);
  return {
    name: "postgres",
    async tx(stmts) {
      await sql.begin((tx) => stmts.map((s) => tx.unsafe(s.sql, s.params as never[])));
    },
    async query(text, params = []) {
      return [...await sql.unsafe(text, params as never[])];
    },
    end: () => sql.end({ timeout: 5 }),
  };
}

function nodePg(opts: Record<string, unknown>): Driver {
  const pool = new pg.Pool({ max: 4, ...opts });
  pool.on("error", () => {}); // An idle client that lost its server; the next query reconnects.
  return {
    name: "pg",
    async tx(stmts) {
      const c = await pool.connect();
      try {
        await c.query("BEGIN");
        for (const s of stmts) await c.query(s.sql, s.params);
        await c.query("COMMIT");
      } catch (err) {
        await c.query("ROLLBACK").catch(() => {});
        throw err;
      } finally {
        c.release();
      }
    },
    async query(text, params = []) {
      return (await pool.query(text, params)).rows;
    },
    end: () => pool.end(),
  };
}

await using server = await PgCluster.start();
const ca = await server.enableTls();

/** Connection options of each client: socket as superuser, or TCP with TLS and a password. */
function socketOpts(kind: "postgres" | "pg", db: string): Record<string, unknown> {
  return kind === "postgres"
    ? { path: `${server.socketDir}/.s.PGSQL.${server.port}`, database: db, user: server.superuser }
    : { host: server.socketDir, port: server.port, database: db, user: server.superuser };
}
function tlsOpts(kind: "postgres" | "pg", db: string): Record<string, unknown> {
  const base = {
    host: "127.0.0.1",
    port: server.port,
    database: db,
    user: PgCluster.passwordRole,
    password: PgCluster.password,
  };
  const ssl = { ca: Deno.readTextFileSync(ca), servername: "localhost" };
  return kind === "postgres" ? { ...base, ssl } : { ...base, ssl };
}
const make = (kind: "postgres" | "pg", opts: Record<string, unknown>) =>
  kind === "postgres" ? porsager(opts) : nodePg(opts);

const burstRows = Array.from({ length: BURST_ROWS }, (_, i) => ({
  id: i,
  job: 1,
  state: "queued",
  host: `host-${i}`,
  tried: "[]",
  at: 1_700_000_000_000 + i,
}));

for (const kind of ["postgres", "pg"] as const) {
  const db = await server.createDatabase(`bench_${kind}`);
  const c = make(kind, socketOpts(kind, db));
  await c.query(
    `CREATE TABLE t (id bigint PRIMARY KEY, job bigint, state text, host text, tried text,
                     at bigint)`,
  );
  await c.query(`ALTER TABLE t OWNER TO ${PgCluster.passwordRole}`);
  // (a) one row per commit
  let t0 = performance.now();
  for (let i = 0; i < ONE_ROW; i++) {
    await c.tx([{
      sql: "INSERT INTO t (id, job, state, host, tried, at) VALUES ($1, $2, $3, $4, $5, $6)",
      params: [i + 1_000_000, 1, "queued", "h", "[]", 1_700_000_000_000],
    }]);
  }
  const oneRow = ONE_ROW / ((performance.now() - t0) / 1000);
  // (b) 500 rows per commit, one statement (jsonb_to_recordset of one parameter)
  t0 = performance.now();
  for (let b = 0; b < BURSTS; b++) {
    const rows = burstRows.map((r) => ({ ...r, id: r.id + b * BURST_ROWS }));
    await c.tx([{
      sql: `INSERT INTO t (id, job, state, host, tried, at)
            SELECT id, job, state, host, tried, at FROM jsonb_to_recordset($1::text::jsonb)
              AS x(id bigint, job bigint, state text, host text, tried text, at bigint)`,
      params: [JSON.stringify(rows)],
    }]);
  }
  const burstMs = (performance.now() - t0) / BURSTS;
  // (c) 1,000 rows selected as objects
  t0 = performance.now();
  let n = 0;
  for (let i = 0; i < SELECTS; i++) {
    n += (await c.query("SELECT * FROM t ORDER BY id LIMIT 1000")).length;
  }
  const selectMs = (performance.now() - t0) / SELECTS;
  if (n !== SELECTS * 1000) throw new Error(`${kind}: selects returned ${n} rows`);
  await c.end();
  // (e) a write's shape over TCP with TLS: six small statements in one transaction
  const w = make(kind, tlsOpts(kind, db));
  t0 = performance.now();
  for (let i = 0; i < SIX_TX; i++) {
    const id = 2_000_000 + i * 6;
    await w.tx(Array.from({ length: 6 }, (_, k) => ({
      sql: "INSERT INTO t (id, job, state, host, tried, at) VALUES ($1, $2, $3, $4, $5, $6)",
      params: [id + k, 1, "queued", "h", "[]", 1_700_000_000_000],
    })));
  }
  const sixMs = (performance.now() - t0) / SIX_TX;
  await w.end();
  // (d) connect time: a new connection, one query, closed
  const connects: number[] = [];
  for (let i = 0; i < CONNECTS; i++) {
    const t = performance.now();
    const d = make(kind, { ...socketOpts(kind, db), max: 1 });
    await d.query("SELECT 1");
    connects.push(performance.now() - t);
    await d.end();
  }
  console.log(
    `${kind.padEnd(9)} one-row commits: ${fmt(oneRow)}/s; 500-row tx: ${burstMs.toFixed(1)} ms ` +
      `(${fmt(BURST_ROWS / burstMs * 1000)} rows/s); 1,000-row select: ${
        selectMs.toFixed(2)
      } ms; connect: ${median(connects).toFixed(1)} ms (median of ${CONNECTS}); ` +
      `6-statement tx over TLS: ${sixMs.toFixed(2)} ms`,
  );

  // Checks.
  const checks: string[] = [];
  const tls = make(kind, tlsOpts(kind, db));
  try {
    const r = await tls.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    checks.push(`TLS (CA file, password over TCP): ${r[0]?.ssl === true ? "ok" : "not TLS"}`);
  } catch (err) {
    checks.push(`TLS: FAILED ${(err as Error).message}`);
  } finally {
    await tls.end().catch(() => {});
  }
  const to = make(kind, { ...socketOpts(kind, db), max: 1 });
  try {
    await to.query("SET statement_timeout = 100");
    await to.query("SELECT pg_sleep(5)");
    checks.push("statement timeout: NOT applied");
  } catch (err) {
    const code = (err as { code?: string }).code;
    checks.push(`statement timeout: error ${code} (${(err as Error).message})`);
  }
  await to.end();
  const rs = make(kind, { ...socketOpts(kind, db), max: 1 });
  await rs.query("SELECT 1");
  await server.restart();
  const after: string[] = [];
  for (let i = 0; i < 2; i++) {
    const t = performance.now();
    try {
      await rs.query("SELECT 1");
      after.push(`ok in ${(performance.now() - t).toFixed(0)} ms`);
    } catch (err) {
      after.push(
        `error ${(err as { code?: string }).code} "${(err as Error).message}" in ${
          (performance.now() - t).toFixed(0)
        } ms`,
      );
    }
  }
  checks.push(
    `server restarted under an open connection: first query ${after[0]}, next ${after[1]}`,
  );
  await rs.end().catch(() => {});
  checks.push(
    kind === "postgres"
      ? "pipelining: yes (queries of a transaction sent without waiting for each answer)"
      : "pipelining: no (one query in flight per connection)",
  );
  for (const line of checks) console.log(`  ${line}`);
}
