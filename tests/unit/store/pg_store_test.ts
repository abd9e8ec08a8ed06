/**
 * The PostgreSQL store: the conformance suite every store passes, against a
 * private server (one for this file, a fresh database per test), and what
 * only this store has: its migrations, the fence, password login over TCP,
 * a server restarted between writes.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "../../_helpers/assert.ts";
import { PgCluster } from "../../_helpers/postgres.ts";
import { OrchError } from "../../../lib/errors.ts";
import { PgStore } from "../../../lib/store/pg_store.ts";
import { PG_MIGRATIONS } from "../../../lib/store/pg_schema.ts";
import { jobRecord, queuedTask, storeConformance } from "./conformance.ts";

/**
 * The server of this file, started on first use; the last test of the file
 * stops it, and a run that ends otherwise (a filter, a failure) kills it.
 */
let server: Promise<PgCluster> | undefined;
let started: PgCluster | undefined;
function pg(): Promise<PgCluster> {
  server ??= PgCluster.start().then((c) => started = c);
  return server;
}
globalThis.addEventListener("unload", () => started?.killNow());

storeConformance("postgres", async () => {
  const cluster = await pg();
  const db = await cluster.createDatabase("conf");
  const open = () => PgStore.open(cluster.socketUrl(db), { create: true });
  const opened = {
    store: await open(),
    async reopen() {
      await opened.store.close();
      opened.store = await open();
      return opened.store;
    },
    async close() {
      await opened.store.close();
      await cluster.psql("postgres", `DROP DATABASE ${db}`);
    },
  };
  return opened;
});

const LATEST = Math.max(...PG_MIGRATIONS.map((m) => m.version));

/** The versions recorded in a database's table of schema steps. */
async function versions(cluster: PgCluster, db: string): Promise<string> {
  return await cluster.psql(
    db,
    "SELECT string_agg(version::text, ',' ORDER BY version) FROM orch_schema_migrations",
  );
}

Deno.test("postgres: an empty database gets every schema step, once, only when asked to", async () => {
  const cluster = await pg();
  const db = await cluster.createDatabase("mig");
  const err = await rejectsOrch(() => PgStore.open(cluster.socketUrl(db)));
  assertEquals(err.code, "config");
  assert(err.message.includes("holds no orch schema"), err.message);
  assertEquals(
    await cluster.psql(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
    "0",
  );
  await (await PgStore.open(cluster.socketUrl(db), { create: true })).close();
  const all = PG_MIGRATIONS.map((m) => m.version).join(",");
  assertEquals(await versions(cluster, db), all);
  // Opened again (with or without create): nothing is applied twice.
  await (await PgStore.open(cluster.socketUrl(db))).close();
  await (await PgStore.open(cluster.socketUrl(db), { create: true })).close();
  assertEquals(await versions(cluster, db), all);
  // A later step is applied on top, in the same way.
  const next = [...PG_MIGRATIONS, { version: LATEST + 1, sql: "CREATE TABLE later (x int)" }];
  await (await PgStore.open(cluster.socketUrl(db), { migrations: next })).close();
  assertEquals(await versions(cluster, db), `${all},${LATEST + 1}`);
  assertEquals(await cluster.psql(db, "SELECT count(*) FROM later"), "0");
});

Deno.test("postgres: a database of a newer orch, or of something else, is refused and left as it was", async () => {
  const cluster = await pg();
  const db = await cluster.createDatabase("newer");
  await (await PgStore.open(cluster.socketUrl(db), { create: true })).close();
  await cluster.psql(
    db,
    `INSERT INTO orch_schema_migrations (version, applied_at) VALUES (${LATEST + 1}, 0)`,
  );
  const err = await rejectsOrch(
    () => PgStore.open(cluster.socketUrl(db), { create: true }),
  );
  assertEquals(err.code, "config");
  assert(
    err.message.includes(`schema version ${LATEST + 1}, newer than this orch knows`),
    err.message,
  );
  const other = await cluster.createDatabase("foreign");
  await cluster.psql(other, "CREATE TABLE invoices (id int)");
  const foreign = await rejectsOrch(
    () => PgStore.open(cluster.socketUrl(other), { create: true }),
  );
  assertEquals(foreign.code, "config");
  assert(foreign.message.includes("not orch's schema"), foreign.message);
  assertEquals(
    await cluster.psql(
      other,
      "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'",
    ),
    "invoices",
  );
});

Deno.test("postgres: a write whose statement fails midway writes nothing", async () => {
  const cluster = await pg();
  const db = await cluster.createDatabase("midway");
  await using store = await disposable(PgStore.open(cluster.socketUrl(db), { create: true }));
  const j1 = jobRecord(1, { targets: ["p1"] });
  await store.s.write((tx) => tx.insertJob(j1, [queuedTask(1, 1, 1, "p1")]));
  const j2 = jobRecord(2, { targets: ["p1", "p2"] });
  const err = await rejectsOrch(
    () =>
      store.s.write((tx) => {
        tx.setConductorId("c-1");
        // The job's row goes in first; its second task reuses task id 1, which fails.
        tx.insertJob(j2, [queuedTask(2, 2, 2, "p1"), queuedTask(1, 2, 3, "p2")]);
        tx.addAudit([{
          at: 1,
          who: "local:x",
          auth: "file_ownership",
          transport: "socket",
          from: "socket",
          action: "submit",
          subject: "job 2",
          job_id: 2,
          outcome: "allowed",
          reason: null,
        }]);
      }),
  );
  assert(err.message.includes("cannot write to conductor database"), err.message);
  assertEquals(await store.s.job(2), undefined);
  const snap = await store.s.load();
  assertEquals(snap.conductorId, null);
  assertEquals(snap.tasks.map((t) => t.id), [1]);
  assertEquals(await store.s.audit({ limit: 10 }), []);
  assertEquals(await cluster.psql(db, "SELECT count(*) FROM jobs"), "1");
});

Deno.test("postgres: a write whose fence returns no row fails as no longer the leader and writes nothing", async () => {
  const cluster = await pg();
  const db = await cluster.createDatabase("fence");
  await using store = await disposable(PgStore.open(cluster.socketUrl(db), {
    create: true,
    fence: "SELECT 1 FROM leader WHERE name = 'me'",
  }));
  // The table the fence reads, made once the database is orch's.
  await cluster.psql(db, "CREATE TABLE leader (name text); INSERT INTO leader VALUES ('me')");
  const j1 = jobRecord(1, { targets: ["p1"] });
  await store.s.write((tx) => tx.insertJob(j1, [queuedTask(1, 1, 1, "p1")]));
  await cluster.psql(db, "UPDATE leader SET name = 'other'");
  const j2 = jobRecord(2, { targets: ["p1"] });
  const err = await rejectsOrch(
    () => store.s.write((tx) => tx.insertJob(j2, [queuedTask(2, 2, 2, "p1")])),
  );
  assertEquals(err.code, "unavailable");
  assert(err.message.includes("no longer the leader"), err.message);
  assertEquals(await store.s.job(2), undefined);
  assertEquals(await cluster.psql(db, "SELECT count(*) FROM jobs"), "1");
  await cluster.psql(db, "UPDATE leader SET name = 'me'");
  await store.s.write((tx) => tx.insertJob(j2, [queuedTask(2, 2, 2, "p1")]));
  assertEquals((await store.s.job(2))?.id, 2);
});

Deno.test("postgres: a password login over TCP works; a wrong password is a clear error without it", async () => {
  const cluster = await pg();
  const db = await cluster.createDatabase("pw");
  await using store = await disposable(
    PgStore.open(cluster.tcpUrl(db), { create: true, password: PgCluster.password }),
  );
  await store.s.write((tx) => tx.setConductorId("c-tcp"));
  assertEquals((await store.s.load()).conductorId, "c-tcp");
  const wrong = "not-the-password-41c7";
  const err = await rejectsOrch(
    () => PgStore.open(cluster.tcpUrl(db), { password: wrong, connectTimeoutMs: 5_000 }),
  );
  assertEquals(err.code, "unavailable");
  assert(err.message.includes("refused the login"), err.message);
  assert(err.message.includes(PgCluster.passwordRole), err.message);
  assert(!err.message.includes(wrong) && !(err.hint ?? "").includes(wrong), "no password shown");
  const inUrl = cluster.tcpUrl(db).replace("@", `:${wrong}@`);
  const refused = await rejectsOrch(() => PgStore.open(inUrl));
  assertEquals(refused.code, "config");
  assert(refused.message.includes("holds a password"), refused.message);
  assert(!refused.message.includes(wrong), "no password shown");
});

Deno.test("postgres: the server restarted between two writes: a later write succeeds, none hangs", async () => {
  const cluster = await pg();
  const db = await cluster.createDatabase("restart");
  await using store = await disposable(PgStore.open(cluster.socketUrl(db), {
    create: true,
    connectTimeoutMs: 5_000,
    statementTimeoutMs: 5_000,
  }));
  const j1 = jobRecord(1, { targets: ["p1"] });
  await store.s.write((tx) => tx.insertJob(j1, [queuedTask(1, 1, 1, "p1")]));
  await cluster.restart();
  const j2 = jobRecord(2, { targets: ["p1"] });
  let written = false;
  try {
    await store.s.write((tx) => tx.insertJob(j2, [queuedTask(2, 2, 2, "p1")]));
    written = true;
  } catch (err) {
    assert(err instanceof OrchError, `a failed write is an OrchError, not ${err}`);
  }
  const j3 = jobRecord(3, { targets: ["p1"] });
  await store.s.write((tx) => tx.insertJob(j3, [queuedTask(3, 3, 3, "p1")]));
  const ids = (await store.s.load()).jobs.map((j) => j.id);
  assertEquals(ids, written ? [1, 2, 3] : [1, 3]);
});

/** The OrchError that `fn` rejects with. */
async function rejectsOrch(fn: () => Promise<unknown>): Promise<OrchError> {
  const err = await assertRejects(fn);
  assert(err instanceof OrchError, `expected an OrchError, got ${err}`);
  return err;
}

/** A store closed when the test ends. */
async function disposable(
  opening: Promise<PgStore>,
): Promise<AsyncDisposable & { s: PgStore }> {
  const s = await opening;
  return { s, [Symbol.asyncDispose]: () => s.close() };
}

Deno.test("postgres: writes succeed while many reads of a big job keep every read connection busy", async () => {
  const cluster = await pg();
  const db = await cluster.createDatabase("busy");
  // Two read connections, and a connect timeout below how long 24 readers keep them busy (each
  // load of 20,000 tasks takes a good part of a second), yet long enough to open a connection on a
  // loaded machine.
  const store = await PgStore.open(cluster.socketUrl(db), {
    create: true,
    poolSize: 2,
    connectTimeoutMs: 1000,
  });
  try {
    const n = 20_000;
    const job = jobRecord(1, { targets: Array.from({ length: n }, (_, i) => `h${i}`) });
    await store.write((tx) =>
      tx.insertJob(job, job.targets.map((h, i) => queuedTask(i + 1, 1, i + 1, h)))
    );
    let writing = true;
    let reads = 0;
    const readErrors: string[] = [];
    const reader = async () => {
      while (writing) {
        try {
          assertEquals((await store.load()).tasks.length, n);
          reads++;
        } catch (err) {
          readErrors.push(String(err));
          return;
        }
      }
    };
    const readers = Array.from({ length: 24 }, reader);
    try {
      // Each write waits behind reads in flight; none may fail for want of a connection.
      for (let i = 1; i <= 10; i++) {
        await store.write((tx) => tx.touchPlayers([{ name: "p1", at: i }]));
        await store.write((tx) => tx.cancelJob(1, i));
      }
    } finally {
      writing = false;
      await Promise.all(readers);
    }
    assertEquals(readErrors, [], "no read fails either: reads wait for a turn, not a connection");
    assert(reads >= 12, `only ${reads} reads ran`);
    assertEquals((await store.job(1))?.cancelled_at, 1);
  } finally {
    await store.close();
  }
});

/** The server processes of the store's connections to `db`. */
async function storeBackends(cluster: PgCluster, db: string): Promise<number[]> {
  const out = await cluster.psql(
    db,
    `SELECT string_agg(pid::text, ',') FROM pg_stat_activity
     WHERE datname = current_database() AND application_name = 'orch conductor'`,
  );
  const pids = out.split(",").filter((x) => x !== "").map(Number);
  assert(pids.length > 0 && pids.every((p) => Number.isSafeInteger(p) && p > 0), out);
  return pids;
}

/** Pauses `pids` (the server never answers them, nor closes their sockets) while `fn` runs. */
async function paused<T>(pids: number[], fn: () => Promise<T>): Promise<T> {
  for (const pid of pids) Deno.kill(pid, "SIGSTOP");
  try {
    return await fn();
  } finally {
    for (const pid of pids) Deno.kill(pid, "SIGCONT");
  }
}

Deno.test("postgres: a read the server never answers fails at the client's timeout, and the next read gets a new connection", async () => {
  const cluster = await pg();
  const db = await cluster.createDatabase("stalled");
  // The client gives up 5 s after the statement timeout.
  await using store = await disposable(PgStore.open(cluster.socketUrl(db), {
    create: true,
    poolSize: 2,
    statementTimeoutMs: 1_000,
  }));
  await store.s.write((tx) => tx.touchPlayers([{ name: "p1", at: 1 }]));
  assertEquals((await store.s.load()).jobs, []);
  await paused(await storeBackends(cluster, db), async () => {
    const err = await rejectsOrch(() => store.s.load());
    assertEquals(err.code, "unavailable");
    // Given back to the pool, the stalled connection would time this read out too.
    assertEquals((await store.s.load()).jobs, []);
  });
});

Deno.test("postgres: closing the store does not wait for a read or a connection the server never answers", async () => {
  const cluster = await pg();
  const db = await cluster.createDatabase("stalledclose");
  const store = await PgStore.open(cluster.socketUrl(db), {
    create: true,
    poolSize: 2,
    statementTimeoutMs: 60_000,
  });
  await store.write((tx) => tx.touchPlayers([{ name: "p1", at: 1 }]));
  assertEquals((await store.load()).jobs, []);
  await paused(await storeBackends(cluster, db), async () => {
    const reading = store.load();
    reading.catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      store.close().then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 20_000))),
    ]);
    clearTimeout(timer);
    assert(closed, "close() still waiting on a server that does not answer");
    await rejectsOrch(() => reading);
  });
});

Deno.test("postgres: the private server stops", async () => {
  if (started) await started[Symbol.asyncDispose]();
  started = undefined;
});
