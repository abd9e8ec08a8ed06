import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { orch, Proc } from "../_helpers/proc.ts";
import { PgCluster } from "../_helpers/postgres.ts";
import { formatComparison } from "../../cmd/bench.ts";
import { LOCAL_CALLER } from "../../lib/protocol/mod.ts";
import { PgStore } from "../../lib/store/pg_store.ts";
import { type JobRecord, queuedTaskRow, type TaskRow } from "../../lib/store/mod.ts";

/** The deployment folder a run names on its first progress line. */
function benchDir(stderr: string): string {
  const m = stderr.match(/players file in (\/\S+orch-bench-\S+)/);
  assert(m, `no deployment folder on stderr:\n${stderr}`);
  return m[1];
}

/** Ids of live processes whose command line mentions `text` (Linux /proc). */
function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes(text)) {
        found.push(Number(e.name));
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** Fails unless `value` has the shape of `shape`: same keys, and numbers where it has numbers. */
function assertShape(value: unknown, shape: unknown, path = "result"): void {
  if (shape === "number") {
    assert(
      typeof value === "number" && Number.isFinite(value),
      `${path} is not a number: ${value}`,
    );
    return;
  }
  if (shape === "number|null") {
    assert(value === null || typeof value === "number", `${path} is not a number or null`);
    return;
  }
  if (shape === null || typeof shape !== "object" || Array.isArray(shape)) {
    assertEquals(value, shape, path);
    return;
  }
  assert(value !== null && typeof value === "object", `${path} is not an object`);
  assertEquals(Object.keys(value).sort(), Object.keys(shape).sort(), `${path}: keys`);
  for (const [k, v] of Object.entries(shape)) {
    assertShape((value as Record<string, unknown>)[k], v, `${path}.${k}`);
  }
}

const CPU = { wall_ms: "number", conductor_ms: "number|null", bench_ms: "number|null" };

Deno.test("orch bench runs every phase against a real conductor; every task completes once, none is lost in the restart", async () => {
  const r = await orch([
    "bench",
    "--players",
    "20",
    "--window",
    "1s",
    "--oneof",
    "20",
    "--queued",
    "200",
    "--json",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assertShape(result, {
    version: result.version,
    store: "sqlite",
    settings: {
      players: 20,
      slots: 4,
      window_ms: 1000,
      oneof: 20,
      queued: 200,
      heartbeat_ms: 15000,
    },
    dir: null,
    failure: null,
    setup: { certificates_ms: "number", conductor_start_ms: "number" },
    connect: {
      players: 20,
      ms: "number",
      per_s: "number",
      conductor_cpu_ms_per_connect: "number|null",
      cpu: CPU,
    },
    all_of: {
      tasks: 20,
      submit_ms: "number",
      complete_ms: "number",
      last_ack_ms: "number",
      completed: 20,
      dropped: 0,
      dispatched_twice: 0,
      health_worst_ms: "number",
      health_polls: "number",
      cpu: CPU,
    },
    sustained: {
      window_ms: "number",
      jobs: "number",
      in_flight: "number",
      completions: "number",
      completions_per_s: "number",
      drain_ms: "number",
      drained: "number",
      conductor_cores: "number|null",
      bench_cores: "number|null",
      dropped: 0,
      dispatched_twice: 0,
      cpu: CPU,
    },
    one_of: {
      jobs: 20,
      targets: 20,
      p50_ms: "number",
      p99_ms: "number",
      max_ms: "number",
      cpu: CPU,
    },
    memory: {
      rss_before_kib: "number|null",
      rss_with_players_kib: "number|null",
      per_player_kib: "number|null",
    },
    restart: {
      queued: 200,
      jobs: 10,
      open_tasks_before_kill: 200,
      rss_before_kill_kib: "number|null",
      ready_ms: "number",
      rss_after_ready_kib: "number|null",
      reconnect_ms: "number",
      dispatched: 200,
      dispatch_ms: "number",
      dispatch_per_s: "number",
      dropped: 0,
      dispatched_twice: 0,
      cpu: CPU,
    },
    store_bound: { rows_per_s: "number", store_tasks_per_s: "number", orch_to_store: "number" },
    checks: {
      jobs: "number",
      jobs_listed: "number",
      jobs_not_success: 0,
      tasks: "number",
      tasks_succeeded: "number",
      results_acknowledged: "number",
      dropped: 0,
      drop_reasons: [],
      dispatched_twice: 0,
    },
    bench_cpu_ms: "number|null",
    total_ms: "number",
  });
  const c = result.checks;
  // Jobs: the all-of one, the sustained ones, the one-of ones, the ten queued for the restart.
  assertEquals(c.jobs, 1 + result.sustained.jobs + 20 + 10);
  assertEquals(c.jobs_listed, c.jobs);
  assertEquals(c.tasks, 20 + 20 * result.sustained.jobs + 20 + 200);
  assertEquals(c.tasks_succeeded, c.tasks);
  assertEquals(c.results_acknowledged, c.tasks);
  assert(result.sustained.jobs > 0 && result.sustained.completions > 0);

  // Progress went to stderr, phase by phase; the deployment and its conductor are gone.
  for (
    const phase of [
      "setup",
      "connect",
      "all-of",
      "sustained",
      "one-of",
      "restart",
      "checks",
      "store",
    ]
  ) {
    assertMatch(r.stderr, new RegExp(`^orch bench: ${phase}: `, "m"));
  }
  const dir = benchDir(r.stderr);
  assertEquals(await exists(dir), false, `${dir} was left behind`);
  assertEquals(processesMentioning(dir), []);
});

Deno.test("orch bench refuses bad flags with exit status 2, naming the flag, and starts nothing", async () => {
  const cases: [string[], RegExp][] = [
    [[], /^orch: --players is needed: how many players to simulate\n/],
    [["--players", "0"], /--players "0" is not a whole number from 1 to 10000/],
    [["--players", "10001"], /--players "10001" is not a whole number from 1 to 10000/],
    [["--players", "ten"], /--players "ten" is not a whole number/],
    [["--players", "5", "--window", "soon"], /--window "soon" is not a duration/],
    [["--players", "5", "--window", "0s"], /--window "0s" is out of range/],
    [["--players", "5", "--oneof", "-1"], /--oneof "-1" is not a whole number/],
    [["--players", "5", "--queued", "2000000"], /--queued "2000000" is not a whole number/],
    [["--players", "1", "--queued", "200000"], /needs 200000 jobs; at most 100000/],
    [["--players", "5", "--heartbeat", "10ms"], /--heartbeat "10ms" is out of range/],
    [["--players", "5", "--slots", "0"], /--slots "0" is not a whole number from 1 to 1024/],
    [["--players", "5", "--bogus"], /^orch: orch bench has no option --bogus\nhint: /],
  ];
  for (const [args, message] of cases) {
    const r = await orch(["bench", ...args]);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assertMatch(r.stderr, message);
    assertEquals(r.stdout, "");
    assert(!/^\s+at /m.test(r.stderr), `a stack trace for ${args.join(" ")}:\n${r.stderr}`);
    assert(!r.stderr.includes("orch bench: setup"), `it started for ${args.join(" ")}`);
  }
});

/** Starts a bench that runs its sustained phase for a minute; resolves once that phase began. */
async function benchInSustainedPhase(): Promise<{ bench: Proc; dir: string; conductor: number }> {
  const bench = new Proc("bench", [
    "bench",
    "--players",
    "5",
    "--window",
    "60s",
    "--oneof",
    "0",
    "--queued",
    "0",
  ]);
  try {
    await bench.waitFor(/^orch bench: sustained: /m, 30_000);
    const dir = benchDir(bench.log);
    const conductors = processesMentioning(`${dir}/conductor.db`);
    assertEquals(conductors.length, 1, `conductor processes: ${conductors}`);
    return { bench, dir, conductor: conductors[0] };
  } catch (err) {
    await bench.stop();
    throw err;
  }
}

Deno.test("orch bench exits 1 with the figures so far when its conductor dies, and leaves nothing behind", async () => {
  const { bench, dir, conductor } = await benchInSustainedPhase();
  try {
    Deno.kill(conductor, "SIGKILL");
    const status = await bench.exited;
    await bench.stop();
    assertEquals(status.code, 1, bench.log);
    assertMatch(bench.log, /^orch bench: sustained: the conductor died \(killed by SIGKILL\)$/m);
    // The phases before it are reported; the one that failed and those after it are not.
    assertMatch(bench.log, /^connect +5 players welcomed /m);
    assertMatch(bench.log, /^all-of +5 tasks: /m);
    assert(!/^sustained /m.test(bench.log), bench.log);
    assertMatch(bench.log, /^failed +in sustained: the conductor died/m);
    assertEquals(await exists(dir), false, `${dir} was left behind`);
    assertEquals(processesMentioning(dir), []);
  } finally {
    await bench.stop();
  }
});

Deno.test("orch bench stops its conductor and removes its folder on SIGINT", async () => {
  const { bench, dir } = await benchInSustainedPhase();
  try {
    // Only the bench gets the signal, not its process group: it must stop the conductor itself.
    bench.signal("SIGINT");
    const status = await bench.exited;
    await bench.stop();
    assertEquals(status.code, 130, bench.log);
    assertMatch(bench.log, /^orch bench: interrupted; everything it started is stopped$/m);
    assertEquals(await exists(dir), false, `${dir} was left behind`);
    assertEquals(processesMentioning(dir), []);
  } finally {
    await bench.stop();
  }
});

/** A job of one task, as a conductor would have stored it. */
function storedJob(id: number): [JobRecord, TaskRow[]] {
  const at = Date.now();
  return [{
    id,
    score: "bench",
    scope: "all",
    targets: ["bench-00001"],
    secrets: {},
    params: {},
    rollout: null,
    timeoutMs: null,
    deadline: null,
    retries: 0,
    requestId: null,
    submittedAt: at,
    caller: LOCAL_CALLER,
  }, [queuedTaskRow({ id, jobId: id, seq: id, host: "bench-00001", at })]];
}

/** Tables and functions in the public schema of `db`. */
async function objectsIn(pg: PgCluster, db: string): Promise<string> {
  return await pg.psql(
    db,
    `SELECT string_agg(name, ',' ORDER BY name) FROM (
       SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public'
       UNION ALL
       SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = 'public'
     ) o`,
  );
}

Deno.test("orch bench --store postgres://… runs every phase on SQLite and on PostgreSQL, side by side; refuses a database holding jobs or tables not orch's, and leaves its own empty", async () => {
  await using pg = await PgCluster.start();
  const db = await pg.createDatabase("bench");
  // Over TCP with a password from a file, which the bench's conductor is given too.
  const dir = await Deno.makeTempDir({ prefix: "orch-bench-pg-test-" });
  try {
    const pwFile = `${dir}/password`;
    await Deno.writeTextFile(pwFile, `${PgCluster.password}\n`, { mode: 0o600 });
    const store = ["--store", `${pg.tcpUrl(db)}?sslmode=disable`, "--store-password-file", pwFile];
    const small = ["--players", "5", "--window", "1s", "--oneof", "5", "--queued", "50"];

    // A database holding orch's schema and jobs is refused, naming it, and left as it was.
    const s = await PgStore.open(`${pg.tcpUrl(db)}?sslmode=disable`, {
      password: PgCluster.password,
      create: true,
    });
    await s.write((tx) => {
      for (const id of [1, 2]) tx.insertJob(...storedJob(id));
    });
    await s.close();
    let r = await orch(["bench", ...small, ...store]);
    assertEquals(r.code, 2, r.stderr);
    assertMatch(
      r.stderr,
      new RegExp(
        `the bench database postgres://orch_pw@127\\.0\\.0\\.1:${pg.port}/${db}\\?sslmode=disable holds orch's tables and 2 jobs`,
      ),
    );
    assertMatch(r.stderr, /--store-reset drops orch's tables/);
    assert(!r.stderr.includes("orch bench: setup"), r.stderr);
    assertEquals(r.stdout, "");
    assertEquals(await pg.psql(db, "SELECT COUNT(*) FROM jobs"), "2");

    // A table that is not orch's: refused even with --store-reset, and nothing dropped.
    const other = await pg.createDatabase("other");
    await pg.psql(other, "CREATE TABLE customers (id int); INSERT INTO customers VALUES (7)");
    r = await orch([
      "bench",
      ...small,
      "--store",
      `${pg.socketUrl(other)}`,
      "--store-reset",
    ]);
    assertEquals(r.code, 2, r.stderr);
    assertMatch(r.stderr, /holds tables that are not orch's \(customers\)/);
    assertEquals(await pg.psql(other, "SELECT COUNT(*) FROM customers"), "1");

    // Tables named as orch's, of another application (no orch_schema_migrations): not orch's,
    // refused even with --store-reset, and nothing dropped.
    const alike = await pg.createDatabase("alike");
    await pg.psql(alike, "CREATE TABLE jobs (id int); INSERT INTO jobs VALUES (7)");
    r = await orch(["bench", ...small, "--store", pg.socketUrl(alike), "--store-reset"]);
    assertEquals(r.code, 2, r.stderr);
    assertMatch(
      r.stderr,
      new RegExp(
        `the bench database postgres://\\S+/${alike}\\S* holds tables that are not orch's \\(jobs\\)`,
      ),
    );
    assertEquals(await pg.psql(alike, "SELECT COUNT(*) FROM jobs"), "1");

    // A database a conductor leads on (a session holds the leadership lock): refused, naming it,
    // even with --store-reset, and its jobs left as they were.
    {
      await using _leader = await pg.holdLeadership(db);
      r = await orch(["bench", ...small, ...store, "--store-reset"]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(
        r.stderr,
        new RegExp(
          `a conductor leads on the bench database postgres://orch_pw@127\\.0\\.0\\.1:${pg.port}/${db}\\?sslmode=disable \\(it holds the leadership lock\\)`,
        ),
      );
      assertEquals(r.stdout, "");
      assertEquals(await pg.psql(db, "SELECT COUNT(*) FROM jobs"), "2");
    }

    // Flags about the store without one.
    r = await orch(["bench", ...small, "--store-reset"]);
    assertEquals(r.code, 2, r.stderr);
    assertMatch(r.stderr, /--store-reset is given without --store/);

    // With --store-reset, the jobs are dropped and both stores run every phase.
    r = await orch(["bench", ...small, ...store, "--store-reset", "--json", "--keep"]);
    assertEquals(r.code, 0, r.stderr);
    const both = JSON.parse(r.stdout);
    try {
      // Each run had a conductor of its own: on a SQLite file, and on the PostgreSQL database,
      // leading there (again after the restart).
      const pgLog = await Deno.readTextFile(`${both.postgres.dir}/conductor.log`);
      assertMatch(pgLog, /the conductor database is in PostgreSQL/);
      assertEquals(pgLog.match(/leading: took the leadership/g)?.length, 2, pgLog);
      assertEquals(await exists(`${both.postgres.dir}/conductor.db`), false);
      assertEquals(await exists(`${both.sqlite.dir}/conductor.db`), true);
      assert(!/PostgreSQL/.test(await Deno.readTextFile(`${both.sqlite.dir}/conductor.log`)));
    } finally {
      for (const k of ["sqlite", "postgres"]) {
        if (both[k].dir) await Deno.remove(both[k].dir, { recursive: true }).catch(() => {});
      }
    }
    assertEquals(Object.keys(both).sort(), ["postgres", "sqlite"]);
    assertEquals(both.sqlite.store, "sqlite");
    assertMatch(both.postgres.store, /^postgres:\/\/orch_pw@127\.0\.0\.1:\d+\/bench_1\?/);
    for (const name of ["sqlite", "postgres"]) {
      const x = both[name];
      assertEquals(x.failure, null, name);
      assert(x.connect.per_s > 0, `${name}: connect`);
      assert(x.all_of.completed === 5, `${name}: all-of`);
      assert(x.sustained.completions_per_s > 0, `${name}: sustained`);
      assert(x.one_of.p50_ms > 0, `${name}: one-of`);
      assertEquals(x.restart.dispatched, 50, `${name}: restart`);
      assertEquals(x.checks.tasks_succeeded, x.checks.tasks, `${name}: checks`);
      assertEquals(x.checks.dispatched_twice, 0, `${name}: checks`);
      assert(x.store_bound.rows_per_s > 0, `${name}: store rows`);
      assert(x.store_bound.store_tasks_per_s > 0, `${name}: store task lives`);
      // Rounded to one decimal: a short window on five players may show 0.
      assert(typeof x.store_bound.orch_to_store === "number", `${name}: orch_to_store`);
    }
    assertMatch(r.stderr, /^orch bench: store: running every phase on sqlite$/m);
    assertMatch(r.stderr, /^orch bench: store: running every phase on postgres:\/\//m);
    // The database is left empty: the next run is not refused.
    assertEquals(await objectsIn(pg, db), "");

    // The same as a person reads it: one table, a column per store.
    const text = formatComparison(both);
    assertMatch(text[3], /^ +sqlite +postgres$/);
    assert(
      text.some((l) => /^sustained: completions\/s +[\d,.]+ +[\d,.]+$/.test(l)),
      text.join("\n"),
    );
    assert(
      text.some((l) => /^store alone: task lives\/s +[\d,.]+ +[\d,.]+$/.test(l)),
      text.join("\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
