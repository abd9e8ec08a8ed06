/**
 * `orch store migrate`, with real processes: a conductor and players make a
 * SQLite database (finished, failed, cancelled and queued jobs, a schedule,
 * a sealed secret, drained players, audit records); the command copies it
 * into a private PostgreSQL server; every view the API shows is then the
 * same from PgStore on the copy as from SqliteStore on the source.
 * Refusals change nothing; a failure midway leaves no orch rows.
 *
 * @module
 */

import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertNotMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { PgCluster } from "../_helpers/postgres.ts";
import { orch, ROOT, type RunResult, tempDir, until } from "../_helpers/proc.ts";
import { type ConductorStore, SqliteStore } from "../../lib/store/mod.ts";
import { MIGRATED_TABLES, migrateSqliteToPg } from "../../lib/store/migrate.ts";
import { PgStore } from "../../lib/store/pg_store.ts";
import { queuedTaskRow } from "../../lib/store/rows.ts";
import { LOCAL_CALLER } from "../../lib/protocol/mod.ts";
import { OrchError } from "../../lib/errors.ts";
import { DatabaseSync } from "node:sqlite";

/** Rows in orch's tables of database `db` (0 when it has no schema yet). */
async function orchRows(pg: PgCluster, db: string): Promise<number> {
  const has = await pg.psql(
    db,
    "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'jobs' AND table_schema = 'public'",
  );
  if (has === "0") return 0;
  const sum = MIGRATED_TABLES.map((t) => `(SELECT COUNT(*) FROM ${t.table})`).join(" + ");
  return Number(await pg.psql(db, `SELECT ${sum}`));
}

/** Every view of `store` the API shows, for comparison. */
async function views(store: ConductorStore) {
  const jobs = await store.jobs({ limit: 1000 });
  const perJob = [];
  for (const j of jobs) {
    const page = await store.tasks(j.id, { page: 1, limit: 100, output: true });
    const details = [];
    for (const t of page?.tasks ?? []) details.push(await store.task(j.id, t.id));
    perJob.push({
      job: await store.job(j.id),
      access: await store.jobAccess(j.id),
      page,
      plain: await store.tasks(j.id, { page: 1, limit: 100 }),
      details,
    });
  }
  return {
    load: await store.load(),
    jobs,
    finished: await store.jobs({ limit: 1000, state: "finished" }),
    failed: await store.jobs({ limit: 1000, state: "failure" }),
    perJob,
    audit: await store.audit({ limit: 1000 }),
    schedules: await store.schedules(),
    request: await store.jobByRequest("migrate-req-1"),
  };
}

/** A password file of mode `mode`. */
async function passwordFile(dir: string, mode: number): Promise<string> {
  const file = join(dir, `pw-${mode.toString(8)}`);
  await Deno.writeTextFile(file, `${PgCluster.password}\n`);
  await Deno.chmod(file, mode);
  return file;
}

/** The source database, made once by a real conductor and players, then stopped. */
interface Source {
  db: string;
  /** The secrets_key the conductor ran with. */
  key: string;
  cluster: Cluster;
}

/** The repository's scores, and `flaky`: idempotent, so it may be retried, and it always fails. */
async function scores(dir: string): Promise<string> {
  const d = join(dir, "scores");
  await Deno.mkdir(d);
  for await (const e of Deno.readDir(join(ROOT, "scores"))) {
    if (e.isFile) await Deno.copyFile(join(ROOT, "scores", e.name), join(d, e.name));
  }
  await Deno.writeTextFile(join(d, "flaky"), "#!/bin/sh\necho trying >&2\nexit 3\n", {
    mode: 0o755,
  });
  await Deno.writeTextFile(join(d, "flaky.conf"), "interface: pipe\nidempotent: true\n");
  return d;
}

async function makeSource(dir: string): Promise<Source> {
  const c = await Cluster.create({
    players: ["mig-a", "mig-b", "mig-off"],
    scoresDir: await scores(dir),
  });
  const key = join(dir, "secrets.key");
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  await Deno.writeTextFile(key, btoa(String.fromCharCode(...bytes)) + "\n", { mode: 0o600 });
  await c.startConductor(["--secrets-key", key, "--retry-backoff", "0s"]);
  await c.startPlayer("mig-a");
  await c.startPlayer("mig-b");
  const ok = await c.client.submit({
    score: "hello",
    scope: "all",
    targets: ["mig-a", "mig-b"],
    params: { NAME: "migrate" },
    request_id: "migrate-req-1",
  });
  const failed = await c.client.submit({
    score: "flaky",
    scope: "all",
    targets: ["mig-a"],
    params: {},
    retries: 1,
  });
  await c.wait(ok);
  await c.wait(failed);
  const long = await c.submitRunning({
    score: "sleep",
    scope: "all",
    targets: ["mig-b"],
    params: { SECONDS: "60" },
  });
  await c.client.cancel(long);
  await c.wait(long);
  // Queued for a host that never connected, with a secret sealed under secrets_key.
  const queued = await c.client.submit({
    score: "hello",
    scope: "all",
    targets: ["mig-off"],
    params: { NAME: "sealed-7c1e" },
    secret: ["NAME"],
  });
  assertEquals((await c.job(queued)).tasks[0].state, "queued");
  await c.client.drain("mig-off", true);
  await c.client.addSchedule({
    name: "nightly",
    spec: { every_ms: 86_400_000 },
    policy: "skip",
    job: {
      score: "hello",
      scope: "all",
      targets: ["mig-a"],
      params: {},
      timeout_ms: null,
      retries: 0,
    },
  });
  await c.conductor!.proc.stop(5000);
  return { db: c.db, key, cluster: c };
}

Deno.test("orch store migrate copies everything, and PostgreSQL then shows every view as SQLite did", async () => {
  await using t = await tempDir();
  await using pg = await PgCluster.start();
  const src = await makeSource(t.path);
  await using _c = src.cluster;
  const db = await pg.createDatabase("mig");
  const pw = await passwordFile(t.path, 0o600);
  const r = await orch([
    "store",
    "migrate",
    "--from",
    `sqlite:${src.db}`,
    "--to",
    `${pg.tcpUrl(db)}?sslmode=disable`,
    "--store-password-file",
    pw,
    "--batch",
    "2",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(
    r.stderr,
    /^copying sqlite:.* into postgres:\/\/orch_pw@127\.0\.0\.1:\d+\/mig_\d+\?sslmode=disable \(password: store_password_file .*\)$/m,
  );
  assertMatch(r.stderr, /^tasks: \d+ of \d+ rows$/m);
  assertMatch(r.stdout, /^jobs +4$/m);
  assertMatch(r.stdout, /^schedules +1$/m);
  assertMatch(r.stdout, /^copied \d+ rows in .* counts checked table by table$/m);
  assertNotMatch(r.stdout + r.stderr, new RegExp(PgCluster.password));
  // The epoch moved on with the copy: a conductor that led there before fails its fence.
  const epoch = () => pg.psql(db, "SELECT epoch FROM orch_leader WHERE id = 1");
  assertEquals(await epoch(), "1");

  const sqlite = SqliteStore.open(src.db);
  const before = await views(sqlite);
  sqlite.close();
  const store = await PgStore.open(pg.socketUrl(db));
  try {
    const after = await views(store);
    assertEquals(after, before);
    // What the fixture meant to hold is there.
    assert(before.load.conductorId !== null);
    assertEquals(before.load.drained, ["mig-off"]);
    assertEquals(before.schedules.map((s) => s.name), ["nightly"]);
    assert(before.audit.length > 0);
    const sealed = before.load.jobs.find((j) => j.targets[0] === "mig-off");
    assertMatch(sealed?.secrets.NAME ?? "", /^v1:/);
    assert(before.perJob.some((j) => (j.details[0]?.attempts.length ?? 0) > 0), "attempt history");
  } finally {
    await store.close();
  }

  // Again into the same database: refused, naming the jobs it holds; nothing added.
  const rows = await orchRows(pg, db);
  const again = await orch([
    "store",
    "migrate",
    "--quiet",
    "--from",
    `sqlite:${src.db}`,
    "--to",
    pg.socketUrl(db),
  ]);
  assertEquals(again.code, 2, again.stderr);
  assertMatch(
    again.stderr,
    /^orch: conductor database .* already holds 4 rows in jobs; orch store migrate copies into an empty database only$/m,
  );
  assertEquals(again.stderr.split("\n").filter((l) => l.startsWith("    at ")), []);
  assertEquals(await orchRows(pg, db), rows);
  assertEquals(await epoch(), "1", "a refused copy leaves the epoch alone");
});

Deno.test("orch store migrate refuses a running conductor's file, a bad URL, a password in it, an open password file; nothing is written", async () => {
  await using t = await tempDir();
  await using pg = await PgCluster.start();
  const src = await makeSource(t.path);
  await using c = src.cluster;
  const db = await pg.createDatabase("ref");
  const migrate = (to: string, extra: string[] = []): Promise<RunResult> =>
    orch(["store", "migrate", "--from", `sqlite:${src.db}`, "--to", to, ...extra]);
  const refused = async (r: RunResult, re: RegExp) => {
    assertEquals(r.code, 2, r.stderr);
    assertMatch(r.stderr, re);
    assertEquals(r.stderr.split("\n").filter((l) => l.startsWith("    at ")), []);
    assertNotMatch(r.stderr, new RegExp(PgCluster.password));
    assertEquals(await orchRows(pg, db), 0);
  };

  await refused(
    await migrate(`postgres://orch_pw:${PgCluster.password}@127.0.0.1:${pg.port}/${db}`),
    /^orch: --to: the URL holds a password/m,
  );
  await refused(
    await migrate(`${pg.tcpUrl(db)}?sslmode=sometimes`),
    /--to: the URL's sslmode "sometimes"/,
  );
  await refused(await migrate(`mysql://u@h/${db}`), /--to: the scheme "mysql"/);
  await refused(
    await migrate(`${pg.tcpUrl(db)}?sslmode=disable`, [
      "--store-password-file",
      await passwordFile(t.path, 0o644),
    ]),
    /^orch: store_password_file .* has mode 0644: group or others may read it/m,
  );

  await c.startConductor(["--secrets-key", src.key]);
  const busy = await migrate(pg.socketUrl(db));
  await refused(busy, /^orch: conductor database .* is in use by another process$/m);
  assertMatch(busy.stderr, /^hint: stop the conductor that uses it, then migrate/m);
  await c.conductor!.proc.stop(5000);
});

Deno.test("a row the target refuses midway leaves it without any orch row", async () => {
  await using t = await tempDir();
  await using pg = await PgCluster.start();
  const src = await makeSource(t.path);
  await using _c = src.cluster;
  const db = await pg.createDatabase("mid");
  // The schema, with a constraint of the target's own that the third task breaks.
  await (await PgStore.open(pg.socketUrl(db), { create: true })).close();
  await pg.psql(db, "CREATE UNIQUE INDEX planted ON tasks ((id > 2)) WHERE id > 2");
  const r = await orch([
    "store",
    "migrate",
    "--from",
    `sqlite:${src.db}`,
    "--to",
    pg.socketUrl(db),
    "--batch",
    "1",
  ]);
  assertEquals(r.code, 2, r.stderr);
  assertMatch(
    r.stderr,
    /^orch: copying into .* failed: duplicate key value violates unique constraint "planted"; nothing was kept there$/m,
  );
  // Jobs, meta and the first tasks went in before the failure, one batch at a time.
  assertMatch(r.stderr, /^jobs: 4 of 4 rows$/m);
  assertEquals(await orchRows(pg, db), 0);
  await until(
    "nothing waits on the target",
    async () =>
      (await pg.psql(
        db,
        "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'orch store migrate'",
      )) === "0",
  );
});

Deno.test("orch store migrate copies text holding NUL (as U+FFFD), and refuses a target a conductor leads on", async () => {
  await using t = await tempDir();
  await using pg = await PgCluster.start();
  const file = join(t.path, "nul.db");
  const sqlite = SqliteStore.open(file, { create: true });
  const job = {
    id: 1,
    score: "hello",
    scope: "all" as const,
    targets: ["p1"],
    params: { A: "x" },
    secrets: {},
    timeoutMs: null,
    deadline: null,
    retries: 0,
    requestId: null,
    submittedAt: 1_700_000_000_000,
    caller: LOCAL_CALLER,
    rollout: null,
  };
  await sqlite.write((tx) =>
    tx.insertJob(job, [queuedTaskRow({ id: 1, jobId: 1, seq: 1, host: "p1", at: job.submittedAt })])
  );
  sqlite.close();
  // As an orch that stored NUL as it came wrote it: raw NUL in text, and in JSON as its escape.
  const raw = new DatabaseSync(file);
  raw.exec(`UPDATE tasks SET state = 'failed', exit_code = 1, reason = 're' || char(0) || 'ason',
    stdout_tail = 'o' || char(0) || 'ut', stderr_tail = char(0) || 'err',
    response = '{"KEY":"v\\u0000al"}', stdout_dropped = 0, stderr_dropped = 0 WHERE id = 1`);
  raw.close();

  const db = await pg.createDatabase("nul");
  const to = { url: pg.socketUrl(db) };
  // A session holding the leadership lock, as a leading conductor does.
  {
    await using _leader = await pg.holdLeadership(db);
    const err = await migrateSqliteToPg({ from: file, to }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert(err instanceof OrchError, String(err));
    assertEquals(err.code, "conflict");
    assertMatch(err.message, /^a conductor leads on postgres:.*\(it holds the leadership lock\)/);
    assertEquals(await orchRows(pg, db), 0);
  }

  const r = await migrateSqliteToPg({ from: file, to });
  assertEquals(r.tables.find((x) => x.table === "tasks")?.rows, 1);
  const store = await PgStore.open(pg.socketUrl(db));
  try {
    const task = await store.task(1, 1);
    assertEquals(
      [task?.stdout_tail, task?.stderr_tail, task?.reason, task?.response],
      ["o\uFFFDut", "\uFFFDerr", "re\uFFFDason", { KEY: "v\0al" }],
    );
  } finally {
    await store.close();
  }
});
