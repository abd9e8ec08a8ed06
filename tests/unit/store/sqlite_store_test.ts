import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertThrows } from "../../_helpers/assert.ts";
import { withTempDir } from "../../_helpers/proc.ts";
import { OrchError } from "../../../lib/errors.ts";
import { LOCAL_CALLER } from "../../../lib/protocol/mod.ts";
import { CONDUCTOR_MIGRATIONS } from "../../../lib/store/conductor_schema.ts";
import { type Database, openDatabase } from "../../../lib/store/db.ts";
import { SqliteStore } from "../../../lib/store/sqlite_store.ts";
import { DONE_JOBS_SQL, jobsPageSql, OPEN_TASKS_SQL } from "../../../lib/store/_sqlite_sql.ts";
import type { TaskRow, WriteTx } from "../../../lib/store/types.ts";
import { jobRecord, queuedTask, storeConformance } from "./conformance.ts";

storeConformance("sqlite", async () => {
  const dir = await Deno.makeTempDir({ prefix: "orch-store-" });
  const path = join(dir, "conductor.db");
  const opened = {
    store: SqliteStore.open(path, { create: true }),
    async reopen() {
      await opened.store.close();
      opened.store = SqliteStore.open(path, { create: true });
      return opened.store;
    },
    async close() {
      await opened.store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
  return opened;
});

const T0 = 1_700_000_000_000;
const LATEST = Math.max(...CONDUCTOR_MIGRATIONS.map((m) => m.version));

/** A database at `path` migrated only up to `version`, as an older orch made it. */
function openAt(path: string, version: number, extraSql = ""): Database {
  const db = openDatabase(path, {
    what: "conductor database",
    migrations: CONDUCTOR_MIGRATIONS.filter((m) => m.version <= version),
    exclusive: true,
    create: true,
  });
  if (extraSql) db.exec(extraSql);
  return db;
}

function userVersion(path: string): number {
  const db = openAt(path, LATEST);
  try {
    return (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
  } finally {
    db.close();
  }
}

Deno.test("a new database is made at the latest schema version, its folder too", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a", "b", "conductor.db");
    await SqliteStore.open(path, { create: true }).close();
    assertEquals(userVersion(path), LATEST);
    const db = openAt(path, LATEST);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all() as { name: string }[]).map((r) => r.name);
    db.close();
    assertEquals(tables, [
      "attempts",
      "audit",
      "drained_players",
      "jobs",
      "meta",
      "players",
      "schedules",
      "tasks",
    ]);
  });
});

Deno.test("a second store on a database in use is a conflict", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "conductor.db");
    const s = SqliteStore.open(path, { create: true });
    try {
      const err = assertThrows(() => SqliteStore.open(path, { create: true }));
      assert(err instanceof OrchError, `expected an OrchError, got ${err}`);
      assertEquals(err.code, "conflict");
      assertEquals(err.message, `conductor database ${path} is in use by another process`);
    } finally {
      await s.close();
    }
  });
});

Deno.test("a database with a newer schema version is refused with a clear message", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "conductor.db");
    await SqliteStore.open(path, { create: true }).close();
    const db = openAt(path, LATEST, `PRAGMA user_version = ${LATEST + 5}`);
    db.close();
    const err = assertThrows(() => SqliteStore.open(path, { create: true }));
    assert(err instanceof OrchError);
    assertEquals(err.code, "config");
    assertEquals(
      err.message,
      `conductor database ${path} has schema version ${
        LATEST + 5
      }, newer than this orch knows (${LATEST})`,
    );
  });
});

Deno.test("an in-memory store works", async () => {
  const s = SqliteStore.open(":memory:", { create: true });
  try {
    const j = jobRecord(1, { targets: ["p1"] });
    await s.write((tx) => tx.insertJob(j, [queuedTask(1, 1, 1, "p1")]));
    assertEquals((await s.load()).tasks, [queuedTask(1, 1, 1, "p1")]);
  } finally {
    await s.close();
  }
});

Deno.test("a closed store refuses writes and reads", async () => {
  const s = SqliteStore.open(":memory:", { create: true });
  await s.close();
  await s.close();
  await assertRejects(() => s.write(() => {}), /closed/);
  await assertRejects(() => s.job(1), /closed/);
});

Deno.test("a write transaction used after its write ended is refused", async () => {
  const s = SqliteStore.open(":memory:", { create: true });
  try {
    let kept: WriteTx | undefined;
    await s.write((tx) => {
      kept = tx;
    });
    assertThrows(() => kept!.cancelJob(1, T0), /used after its write ended/);
  } finally {
    await s.close();
  }
});

/**
 * Rows as orch wrote them with schema version 3: its statements, inlined.
 *
 * Job 1 (all-of, local, p1 p2 p3): task 1 succeeded; task 2 waits for a retry
 * after a failed run; task 3 runs its second attempt after an interrupted one.
 * Job 2 (one-of, audience:bob): task 4 failed after both players refused it.
 * Job 3 (finished): task 5 failed with an error and no reason of its own.
 * Job 4 (one-of): task 6 is assigned to p2.
 */
const V3_ROWS = `
  INSERT INTO jobs (score, scope, targets, params, submitted_at, submitted_by, timeout_ms, deadline,
    retries, request_id)
  VALUES
    ('deploy', 'all', '["p1","p2","p3"]', '{"A":"1"}', ${T0}, 'local', 60000, NULL, 1, 'req-old'),
    ('probe', 'one', '["p1","p2"]', '{}', ${T0 + 1}, 'audience:bob', NULL, ${T0 + 9000}, 0, NULL),
    ('deploy', 'all', '["p1"]', '{}', ${T0 + 2}, 'local', NULL, NULL, 0, NULL),
    ('probe', 'one', '["p1","p2"]', '{}', ${T0 + 3}, 'local', NULL, NULL, 0, NULL);
  UPDATE jobs SET finished_at = ${T0 + 50} WHERE id = 3;
  UPDATE jobs SET cancelled_at = ${T0 + 40} WHERE id = 2;

  INSERT INTO tasks (job_id, host, state, seq, updated_at) VALUES
    (1, 'p1', 'queued', 1, ${T0}), (1, 'p2', 'queued', 2, ${T0}), (1, 'p3', 'queued', 3, ${T0}),
    (2, NULL, 'queued', 4, ${T0}), (3, 'p1', 'queued', 5, ${T0}), (4, NULL, 'queued', 6, ${T0});

  -- task 1: assigned, started, result, finished
  UPDATE tasks SET state = 'succeeded', attempt = 1, updated_at = ${T0 + 31} WHERE id = 1;
  INSERT INTO attempts (task_id, attempt, player, state, assigned_at, started_at, ended_at,
    exit_code, signal, response, stdout_tail, stderr_tail, error)
  VALUES (1, 1, 'p1', 'succeeded', ${T0 + 10}, ${T0 + 20}, ${T0 + 30}, 0, NULL,
    '{"KEY":"value"}', 'out' || char(10), '', NULL);

  -- task 2: a failed run, requeued for a retry
  UPDATE tasks SET state = 'queued', attempt = 1, failures = 1, not_before = ${T0 + 500},
    updated_at = ${T0 + 12} WHERE id = 2;
  INSERT INTO attempts VALUES (2, 1, 'p2', 'failed', ${T0 + 10}, ${T0 + 11}, ${T0 + 12}, 3, NULL,
    '{}', '', 'bad', 'exit status 3');

  -- task 3: attempt 1 interrupted and requeued, attempt 2 running
  UPDATE tasks SET state = 'running', attempt = 2, failures = 1, updated_at = ${T0 + 21}
    WHERE id = 3;
  INSERT INTO attempts (task_id, attempt, player, state, assigned_at, started_at, ended_at, error)
  VALUES (3, 1, 'p3', 'interrupted', ${T0 + 10}, ${T0 + 11}, ${T0 + 15}, 'connection lost'),
         (3, 2, 'p3', 'running', ${T0 + 20}, ${T0 + 21}, NULL, NULL);

  -- task 4: refused by p1 and p2, then failed with no player left
  UPDATE tasks SET state = 'failed', attempt = 2, host = NULL,
    tried = '[{"player":"p1","code":"busy","message":"no slot"},{"player":"p2","code":"busy","message":"no slot"}]',
    reason = 'no player left: p1 (busy), p2 (busy)', updated_at = ${T0 + 30} WHERE id = 4;
  INSERT INTO attempts (task_id, attempt, player, state, assigned_at, ended_at, error)
  VALUES (4, 1, 'p1', 'rejected', ${T0 + 10}, ${T0 + 11}, 'busy: no slot'),
         (4, 2, 'p2', 'rejected', ${T0 + 20}, ${T0 + 21}, 'busy: no slot');

  -- task 5: a result with an error, the task finished without a reason of its own
  UPDATE tasks SET state = 'failed', attempt = 1, updated_at = ${T0 + 45} WHERE id = 5;
  INSERT INTO attempts VALUES (5, 1, 'p1', 'failed', ${T0 + 40}, ${T0 + 41}, ${T0 + 44}, NULL,
    'SIGKILL', '{}', '', '', 'killed');

  -- task 6: assigned, with a cancel asked for
  UPDATE tasks SET state = 'assigned', host = 'p2', attempt = 1, cancel_requested = 1,
    updated_at = ${T0 + 60} WHERE id = 6;
  INSERT INTO attempts (task_id, attempt, player, state, assigned_at)
  VALUES (6, 1, 'p2', 'assigned', ${T0 + 60});
`;

Deno.test("a database made by schema versions 1 to 3 keeps every job, task and attempt readable", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "conductor.db");
    openAt(path, 3, V3_ROWS).close();
    const s = SqliteStore.open(path, { create: true });
    try {
      const base = (id: number, jobId: number, seq: number, host: string | null): TaskRow =>
        queuedTask(id, jobId, seq, host, { updatedAt: T0 });
      const t2: TaskRow = {
        ...base(2, 1, 2, "p2"),
        attempt: 1,
        failures: 1,
        notBefore: T0 + 500,
        reason: "exit status 3",
        updatedAt: T0 + 12,
      };
      const t3: TaskRow = {
        ...base(3, 1, 3, "p3"),
        state: "running",
        attempt: 2,
        failures: 1,
        updatedAt: T0 + 21,
        assignedAt: T0 + 20,
        startedAt: T0 + 21,
      };
      const t6: TaskRow = {
        ...base(6, 4, 6, "p2"),
        state: "assigned",
        attempt: 1,
        cancelRequested: true,
        updatedAt: T0 + 60,
        assignedAt: T0 + 60,
      };
      const snap = await s.load();
      assertEquals(snap.tasks, [t2, t3, t6]);
      assertEquals(snap.jobs, [
        {
          ...jobRecord(1, { targets: ["p1", "p2", "p3"], timeoutMs: 60_000, retries: 1 }),
          requestId: "req-old",
        },
        jobRecord(4, { score: "probe", scope: "one", submittedAt: T0 + 3, params: {} }),
      ]);
      assertEquals(
        [snap.maxJobId, snap.maxTaskId, snap.seqLow, snap.seqHigh, snap.unfinishedDoneJobs],
        [4, 6, 1, 6, [2]],
      );
      assertEquals(await s.jobIdByRequest("req-old"), 1);

      const bob = { transport: "https", name: "bob", auth: "client_certificate" };
      const j2 = await s.job(2);
      assertEquals(
        [j2?.caller, j2?.submitted_by, j2?.hosts, j2?.host_count, j2?.task_count, j2?.targets],
        // Before version 6 no expressions were kept: what was asked is the targets.
        [bob, "audience:bob", ["p1", "p2"], 2, 1, ["p1", "p2"]],
      );
      assertEquals([j2?.deadline, j2?.cancelled_at, j2?.aggregate], [
        T0 + 9000,
        T0 + 40,
        "failure",
      ]);
      const j1 = await s.job(1);
      assertEquals([j1?.caller, j1?.counts, j1?.aggregate, j1?.retries, j1?.timeout_ms], [
        LOCAL_CALLER,
        { succeeded: 1, queued: 1, running: 1 },
        "running",
        1,
        60_000,
      ]);
      assertEquals((await s.job(3))?.finished_at, T0 + 50);
      assertEquals((await s.jobs({ limit: 10 })).map((j) => [j.id, j.host_count, j.submitted_by]), [
        [4, 2, "local"],
        [3, 1, "local"],
        [2, 2, "audience:bob"],
        [1, 3, "local"],
      ]);

      assertEquals(await s.task(1, 1), {
        id: 1,
        job_id: 1,
        host: "p1",
        state: "succeeded",
        attempt: 1,
        reason: null,
        exit_code: 0,
        signal: null,
        started_at: T0 + 20,
        ended_at: T0 + 30,
        response: { KEY: "value" },
        stdout_tail: "out\n",
        stderr_tail: "",
        // Columns added later read as nothing dropped.
        stdout_dropped: 0,
        stderr_dropped: 0,
        tried: [],
        not_before: null,
        cancel_requested: false,
        offline_since: null,
        attempts: [{
          attempt: 1,
          player: "p1",
          state: "succeeded",
          started_at: T0 + 20,
          ended_at: T0 + 30,
          exit_code: 0,
          signal: null,
          error: null,
          stdout_dropped: 0,
          stderr_dropped: 0,
        }],
      });
      const d2 = await s.task(1, 2);
      assertEquals([d2?.state, d2?.reason, d2?.not_before, d2?.exit_code], [
        "queued",
        "exit status 3",
        T0 + 500,
        null,
      ]);
      assertEquals(d2?.attempts, [{
        attempt: 1,
        player: "p2",
        state: "failed",
        started_at: T0 + 11,
        ended_at: T0 + 12,
        exit_code: 3,
        signal: null,
        error: "exit status 3",
        stdout_dropped: 0,
        stderr_dropped: 0,
      }]);
      assertEquals(
        (await s.task(1, 3))?.attempts.map((a) => [a.attempt, a.state, a.ended_at, a.error]),
        [[1, "interrupted", T0 + 15, "connection lost"], [2, "running", null, null]],
      );
      const d4 = await s.task(2, 4);
      assertEquals([d4?.state, d4?.reason, d4?.tried.map((t) => t.player)], [
        "failed",
        "no player left: p1 (busy), p2 (busy)",
        ["p1", "p2"],
      ]);
      assertEquals(d4?.attempts.map((a) => [a.attempt, a.player, a.state, a.error]), [
        [1, "p1", "rejected", "busy: no slot"],
        [2, "p2", "rejected", "busy: no slot"],
      ]);
      const d5 = await s.task(3, 5);
      assertEquals([d5?.reason, d5?.signal, d5?.response, d5?.started_at], [
        "killed",
        "SIGKILL",
        {},
        T0 + 41,
      ]);
      assertEquals(d5?.attempts.map((a) => [a.attempt, a.state, a.signal, a.error]), [
        [1, "failed", "SIGKILL", "killed"],
      ]);
      const d6 = await s.task(4, 6);
      assertEquals([d6?.cancel_requested, d6?.attempts.map((a) => [a.player, a.state])], [
        true,
        [["p2", "assigned"]],
      ]);

      // The migrated rows take the new writes: the running task finishes.
      await s.write((tx) => tx.saveTasks([{ ...t3, state: "succeeded", endedAt: T0 + 70 }]));
      assertEquals((await s.task(1, 3))?.attempts.map((a) => [a.attempt, a.state]), [
        [1, "interrupted"],
        [2, "succeeded"],
      ]);
    } finally {
      await s.close();
    }
    assertEquals(userVersion(path), LATEST);
  });
});

/** A store whose database has `sql` added (triggers, tables) before it opens. */
async function withRiggedStore(sql: string, fn: (s: SqliteStore) => Promise<void>) {
  await withTempDir(async (dir) => {
    const path = join(dir, "conductor.db");
    openAt(path, LATEST, sql).close();
    const s = SqliteStore.open(path, { create: true });
    try {
      await fn(s);
    } finally {
      await s.close();
    }
  });
}

/** A write that touches every kind of row, with a player named `player` last. */
function everything(s: SqliteStore, player: string): Promise<void> {
  const j = jobRecord(1, { targets: ["p1"] });
  return s.write((tx) => {
    tx.setConductorId("c-1");
    tx.insertJob(j, [queuedTask(1, 1, 1, "p1")]);
    tx.saveTasks([{ ...queuedTask(1, 1, 1, "p1"), state: "cancelled" }]);
    tx.addAttempts([{
      taskId: 1,
      attempt: 1,
      player: "p1",
      state: "rejected",
      assignedAt: T0,
      startedAt: null,
      endedAt: T0,
      error: null,
      result: null,
    }]);
    tx.finishJobs([{ id: 1, at: T0 }]);
    tx.cancelJob(1, T0);
    tx.savePlayers([{
      name: player,
      version: "1",
      slots: 1,
      scores: [],
      address: null,
      lastSeen: T0,
    }]);
  });
}

async function assertNothingWritten(s: SqliteStore): Promise<void> {
  const snap = await s.load();
  assertEquals(
    [snap.conductorId, snap.maxJobId, snap.maxTaskId, snap.players, await s.task(1, 1)],
    [null, 0, 0, [], undefined],
  );
}

Deno.test("a statement that fails at the end of a write rolls back all of it", async () => {
  const trigger = `
    CREATE TRIGGER refuse_player BEFORE INSERT ON players WHEN NEW.name = 'refused'
    BEGIN SELECT RAISE(ABORT, 'player refused by a test trigger'); END;
  `;
  await withRiggedStore(trigger, async (s) => {
    const err = await assertRejects(
      () => everything(s, "refused"),
      /cannot write to conductor database .*: player refused by a test trigger/,
    );
    assert(err instanceof OrchError && err.code === "internal");
    await assertNothingWritten(s);
    await everything(s, "p1");
    assertEquals((await s.load()).conductorId, "c-1", "the store takes the next write");
  });
});

Deno.test("a commit that fails rejects, leaves nothing written, and the next write works", async () => {
  // A deferred foreign key is checked at COMMIT: the commit itself fails, with every
  // statement of the write already run.
  const rig = `
    CREATE TABLE guard (task_id INTEGER REFERENCES tasks (id) DEFERRABLE INITIALLY DEFERRED);
    CREATE TRIGGER dangle AFTER INSERT ON players WHEN NEW.name = 'dangling'
    BEGIN INSERT INTO guard VALUES (-1); END;
  `;
  await withRiggedStore(rig, async (s) => {
    await assertRejects(
      () => everything(s, "dangling"),
      /cannot write to conductor database .*: FOREIGN KEY constraint failed/,
    );
    await assertNothingWritten(s);
    await everything(s, "p1");
    const snap = await s.load();
    assertEquals([snap.conductorId, snap.players.map((p) => p.name)], ["c-1", ["p1"]]);
  });
});

Deno.test("start-up reaches open work through unfinished jobs, never by reading all tasks", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "conductor.db");
    const s = SqliteStore.open(path, { create: true });
    // A history of 20 finished jobs of 100 tasks, and one job open.
    for (let j = 1; j <= 20; j++) {
      const hosts = Array.from({ length: 100 }, (_, i) => `p${i}`);
      const done = hosts.map((h, i) => ({
        ...queuedTask((j - 1) * 100 + i + 1, j, (j - 1) * 100 + i + 1, h),
        state: "succeeded" as const,
      }));
      await s.write((tx) => {
        tx.insertJob(jobRecord(j, { targets: hosts }), done);
        tx.finishJobs([{ id: j, at: T0 }]);
      });
    }
    const open = jobRecord(21, { targets: ["p1", "p2"] });
    await s.write((tx) =>
      tx.insertJob(open, [queuedTask(2001, 21, 2001, "p1"), queuedTask(2002, 21, 2002, "p2")])
    );
    await s.close();
    const db = openAt(path, LATEST);
    try {
      const plan = (sql: string) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) =>
          r.detail
        );
      // With and without statistics: ANALYZE may be run on a database by hand.
      for (const when of ["without statistics", "after ANALYZE"]) {
        if (when === "after ANALYZE") db.exec("ANALYZE");
        const tasks = plan(OPEN_TASKS_SQL);
        assertEquals(tasks.slice(0, 2), [
          "SCAN j USING INDEX jobs_unfinished",
          "SEARCH t USING INDEX tasks_by_job_state (job_id=? AND state=?)",
        ], `${when}: ${tasks.join("; ")}`);
        const done = plan(DONE_JOBS_SQL);
        assert(
          done.every((d) => !/^SCAN (t|tasks)\b/.test(d)) && done[0].includes("jobs_unfinished"),
          `${when}: ${done.join("; ")}`,
        );
      }
    } finally {
      db.close();
    }
  });
});

Deno.test("an async write function is refused with nothing written", async () => {
  const s = SqliteStore.open(":memory:", { create: true });
  try {
    const j = jobRecord(1, { targets: ["p1"] });
    const late = async (tx: WriteTx) => {
      await Promise.resolve();
      tx.insertJob(j, [queuedTask(1, 1, 1, "p1")]);
    };
    await assertRejects(
      () => s.write(late as unknown as (tx: WriteTx) => void),
      /must not be async/,
    );
    assertEquals(await s.job(1), undefined);
  } finally {
    await s.close();
  }
});

Deno.test("a write that failed leaves no trace in how the next one is written", async () => {
  const trigger = `
    CREATE TRIGGER refuse_player BEFORE INSERT ON players WHEN NEW.name = 'refused'
    BEGIN SELECT RAISE(ABORT, 'player refused by a test trigger'); END;
  `;
  await withRiggedStore(trigger, async (s) => {
    const j = jobRecord(1, { scope: "one", targets: ["p1", "p2"] });
    const t = queuedTask(1, 1, 1, null);
    await s.write((tx) => tx.insertJob(j, [t]));
    const moved: TaskRow = { ...t, seq: 9, host: "p2", state: "assigned", attempt: 1 };
    await assertRejects(() =>
      s.write((tx) => {
        tx.saveTasks([moved]);
        tx.savePlayers([{
          name: "refused",
          version: "1",
          slots: 1,
          scores: [],
          address: null,
          lastSeen: T0,
        }]);
      })
    );
    // (A load would note the placement afresh: read through a view instead.)
    assertEquals([(await s.task(1, 1))?.host, (await s.task(1, 1))?.state], [null, "queued"]);
    const again: TaskRow = { ...moved, state: "running", startedAt: T0 };
    await s.write((tx) => tx.saveTasks([again]));
    assertEquals((await s.load()).tasks, [again]);
  });
});

Deno.test("a task saved twice in one write ends as its last image", async () => {
  const s = SqliteStore.open(":memory:", { create: true });
  try {
    const j = jobRecord(1, { scope: "one", targets: ["p1", "p2"] });
    const t = queuedTask(1, 1, 1, null);
    await s.write((tx) => tx.insertJob(j, [t]));
    const moved: TaskRow = { ...t, seq: 9, host: "p2", state: "assigned", attempt: 1 };
    const back: TaskRow = { ...t, attempt: 1, updatedAt: T0 + 1 };
    await s.write((tx) => {
      tx.saveTasks([moved]);
      tx.saveTasks([back]);
    });
    assertEquals((await s.load()).tasks, [back]);
  } finally {
    await s.close();
  }
});

Deno.test("the database refuses to edit an audit record", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "conductor.db");
    const s = SqliteStore.open(path, { create: true });
    await s.write((tx) =>
      tx.addAudit([{
        at: 1,
        who: "local:root",
        auth: "file_ownership",
        transport: "socket",
        from: "socket",
        action: "cancel",
        subject: "job 1",
        job_id: 1,
        outcome: "allowed",
        reason: null,
      }])
    );
    await s.close();
    const db = openAt(path, LATEST);
    try {
      const err = assertThrows(() => db.exec("UPDATE audit SET who = 'local:eve'"));
      assert(/audit records are never edited/.test(String(err)), String(err));
    } finally {
      db.close();
    }
  });
});

Deno.test("a secret value is in neither the database file nor its WAL", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "conductor.db");
    const store = SqliteStore.open(path, { create: true });
    const job = jobRecord(1, {
      params: { TOKEN: "needle-0d1f2e", A: "1" },
      secrets: { TOKEN: null },
    });
    try {
      await store.write((tx) => tx.insertJob(job, [queuedTask(1, 1, 1, "p1")]));
      for (const f of [path, `${path}-wal`]) {
        const bytes = await Deno.readFile(f).catch(() => new Uint8Array());
        assert(!new TextDecoder("latin1").decode(bytes).includes("needle-0d1f2e"), f);
      }
      // The marker is there: the test reads the files the store writes.
      const wal = new TextDecoder("latin1").decode(await Deno.readFile(`${path}-wal`));
      assert(wal.includes('"TOKEN":null'), "the WAL holds the job");
    } finally {
      await store.close();
    }
  });
});

Deno.test("each filter of the job list reads through an index, not the whole table", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "conductor.db");
    const s = SqliteStore.open(path, { create: true });
    await s.write((tx) => {
      for (let j = 1; j <= 200; j++) {
        tx.insertJob(jobRecord(j, { targets: ["p1"], score: `s${j % 10}` }), [
          { ...queuedTask(j, j, j, "p1"), state: "succeeded" },
        ]);
        if (j < 190) tx.finishJobs([{ id: j, at: T0 }]);
      }
    });
    await s.close();
    const db = openAt(path, LATEST);
    try {
      const plan = (where: string) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${jobsPageSql(where)}`).all() as { detail: string }[])
          .map((r) => r.detail).join("; ");
      const cases: [string, RegExp][] = [
        ["", /^SEARCH jobs USING INTEGER PRIMARY KEY \(rowid<\?\)$/],
        [" AND score = ?", /^SEARCH jobs USING INDEX jobs_by_score \(score=\? AND id<\?\)$/],
        [
          " AND submitted_by = ?",
          /^SEARCH jobs USING INDEX jobs_by_submitter \(submitted_by=\? AND id<\?\)$/,
        ],
        [
          " AND final_aggregate = ?",
          /^SEARCH jobs USING INDEX jobs_by_final_aggregate \(final_aggregate=\? AND id<\?\)$/,
        ],
        [" AND finished_at IS NULL", /^SEARCH jobs USING INDEX jobs_unfinished \(id<\?\)$/],
        // A time range is read through its index and sorted (the range bounds what is sorted).
        [
          " AND submitted_at >= ? AND submitted_at < ?",
          /^SEARCH jobs USING INDEX jobs_by_submitted_at \(submitted_at>\? AND submitted_at<\?\)/,
        ],
      ];
      for (const when of ["without statistics", "after ANALYZE"]) {
        if (when === "after ANALYZE") db.exec("ANALYZE");
        for (const [where, expected] of cases) {
          const p = plan(where);
          assert(expected.test(p), `${when}, ${where || "no filter"}: ${p}`);
          assert(!/^SCAN jobs\b/.test(p), `${when}, ${where}: ${p}`);
        }
      }
    } finally {
      db.close();
    }
  });
});

Deno.test("a database made by schema version 8 gets each finished job's aggregate, so the state filter finds it", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "conductor.db");
    const caller = `'{"transport":"socket","name":"local","auth":"socket_mode"}'`;
    const job = (id: number, finished: string, rollout = "NULL") =>
      `INSERT INTO jobs (id, score, scope, targets, params, submitted_at, submitted_by, caller,
         finished_at, rollout) VALUES (${id}, 'deploy', 'all', '["p1","p2"]', '{}', ${T0},
         'local', ${caller}, ${finished}, ${rollout});`;
    const task = (id: number, jobId: number, state: string) =>
      `INSERT INTO tasks (id, job_id, host, state, seq, updated_at)
         VALUES (${id}, ${jobId}, 'p${id}', '${state}', ${id}, ${T0});`;
    openAt(
      path,
      8,
      [
        job(1, String(T0)),
        task(1, 1, "succeeded"),
        task(2, 1, "succeeded"),
        job(2, String(T0)),
        task(3, 2, "succeeded"),
        task(4, 2, "failed"),
        job(3, String(T0)),
        task(5, 3, "expired"),
        task(6, 3, "failed"),
        job(4, String(T0), `'{"quorum":1,"batch":null,"max_errors":null,"batch_wait_ms":0}'`),
        task(7, 4, "succeeded"),
        task(8, 4, "failed"),
        job(5, "NULL"),
        task(9, 5, "queued"),
      ].join("\n"),
    ).close();
    const s = SqliteStore.open(path, { create: true });
    try {
      const ids = async (state: "success" | "partial" | "failure" | "pending") =>
        (await s.jobs({ limit: 10, state })).map((j) => j.id);
      assertEquals(await ids("success"), [4, 1]);
      assertEquals(await ids("partial"), [2]);
      assertEquals(await ids("failure"), [3]);
      assertEquals(await ids("pending"), [5]);
    } finally {
      await s.close();
    }
  });
});
