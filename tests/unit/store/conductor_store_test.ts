import { withTempDir } from "../../_helpers/proc.ts";
import { assert, assertEquals, assertThrows } from "../../_helpers/assert.ts";
import { join } from "node:path";
import { OrchError } from "../../../lib/errors.ts";
import type { ResultBody } from "../../../lib/protocol/messages.ts";
import { CONDUCTOR_MIGRATIONS } from "../../../lib/store/conductor_schema.ts";
import { ConductorStore, type NewJob, playerView } from "../../../lib/store/conductor_store.ts";
import { openDatabase } from "../../../lib/store/db.ts";

const LATEST = Math.max(...CONDUCTOR_MIGRATIONS.map((m) => m.version));
const T0 = 1_700_000_000_000;

/** A store on a real SQLite file in a temp dir, closed and removed afterwards. */
async function withStore(fn: (s: ConductorStore, path: string) => Promise<void> | void) {
  await withTempDir(async (dir) => {
    const path = join(dir, "conductor.db");
    const s = ConductorStore.open(path, { create: true });
    try {
      await fn(s, path);
    } finally {
      s.close();
    }
  });
}

function job(extra: Partial<NewJob> = {}): NewJob {
  return {
    score: "deploy",
    scope: "all",
    targets: ["p1", "p2"],
    params: { A: "1" },
    timeoutMs: null,
    deadline: null,
    retries: 0,
    requestId: null,
    submittedAt: T0,
    submittedBy: "alice",
    ...extra,
  };
}

const userVersion = (s: ConductorStore) =>
  (s.db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;

const okResult: ResultBody = {
  outcome: "succeeded",
  exit_code: 0,
  signal: null,
  response: { KEY: "value" },
  stdout_tail: "out\n",
  stderr_tail: "err\n",
  started_at: T0 + 20,
  ended_at: T0 + 30,
  error: null,
};

Deno.test("a new database is migrated to the latest schema version", async () => {
  await withStore((s) => {
    assertEquals(userVersion(s), LATEST);
    const tables =
      (s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .all() as { name: string }[]).map((r) => r.name);
    assertEquals(tables, ["attempts", "jobs", "meta", "players", "tasks"]);
  });
});

Deno.test("the database folder is created when missing", async () => {
  await withTempDir((dir) => {
    const path = join(dir, "a", "b", "conductor.db");
    ConductorStore.open(path, { create: true }).close();
    assert(Deno.statSync(path).isFile);
  });
});

Deno.test("a second open of a database in use is a conflict", async () => {
  await withStore((_s, path) => {
    const err = assertThrows(() => ConductorStore.open(path, { create: false }));
    assert(err instanceof OrchError, `expected an OrchError, got ${err}`);
    assertEquals(err.code, "conflict");
    assertEquals(err.message, `conductor database ${path} is in use by another process`);
    assertEquals(err.hint, "only one conductor may use a database; is another one running?");
  });
});

Deno.test("a database closed by its owner can be opened again, with its data", async () => {
  await withTempDir((dir) => {
    const path = join(dir, "c.db");
    const a = ConductorStore.open(path, { create: true });
    const { jobId } = a.insertJob(job(), 1);
    a.close();
    const b = ConductorStore.open(path, { create: false });
    try {
      assertEquals(b.getJob(jobId)?.score, "deploy");
      assertEquals(userVersion(b), LATEST);
    } finally {
      b.close();
    }
  });
});

Deno.test("a database with a newer schema version is refused with a clear message", async () => {
  await withTempDir((dir) => {
    const path = join(dir, "c.db");
    const a = ConductorStore.open(path, { create: true });
    a.db.exec(`PRAGMA user_version = ${LATEST + 5}`);
    a.close();
    const err = assertThrows(() => ConductorStore.open(path, { create: false }));
    assert(err instanceof OrchError);
    assertEquals(err.code, "config");
    assertEquals(
      err.message,
      `conductor database ${path} has schema version ${
        LATEST + 5
      }, newer than this orch knows (${LATEST})`,
    );
    assertEquals(err.hint, "run a newer orch, or restore a backup made by this version");
  });
});

Deno.test("a database made by the first schema version is upgraded with its jobs intact", async () => {
  await withTempDir((dir) => {
    const path = join(dir, "c.db");
    const v1 = openDatabase(path, {
      what: "conductor database",
      migrations: CONDUCTOR_MIGRATIONS.filter((m) => m.version === 1),
      exclusive: true,
      create: true,
    });
    v1.prepare(
      `INSERT INTO jobs (score, scope, targets, params, submitted_at, submitted_by)
       VALUES ('old', 'all', '["p1"]', '{}', ${T0}, 'bob')`,
    ).run();
    v1.prepare(
      `INSERT INTO tasks (job_id, host, state, seq, updated_at) VALUES (1, 'p1', 'queued', 1, ${T0})`,
    )
      .run();
    v1.close();
    const s = ConductorStore.open(path, { create: false });
    try {
      assertEquals(userVersion(s), LATEST);
      const j = s.getJob(1)!;
      assertEquals([j.score, j.retries, j.timeout_ms, j.deadline, j.cancelled_at], [
        "old",
        0,
        null,
        null,
        null,
      ]);
      const [t] = s.openTasks();
      assertEquals([t.id, t.failures, t.notBefore, t.cancelRequested], [1, 0, null, false]);
    } finally {
      s.close();
    }
  });
});

Deno.test("an in-memory store works", () => {
  const s = ConductorStore.open(":memory:", { create: true });
  try {
    assertEquals(s.insertJob(job(), 1), { jobId: 1, taskIds: [1, 2] });
  } finally {
    s.close();
  }
});

Deno.test("the conductor id is made once and stays the same, also after a reopen", async () => {
  await withTempDir((dir) => {
    const path = join(dir, "c.db");
    let made = 0;
    const make = () => `id-${++made}`;
    const a = ConductorStore.open(path, { create: true });
    assertEquals(a.conductorId(make), "id-1");
    assertEquals(a.conductorId(make), "id-1");
    a.close();
    const b = ConductorStore.open(path, { create: true });
    assertEquals(b.conductorId(make), "id-1");
    b.close();
    assertEquals(made, 1);
  });
});

Deno.test("an inserted all-of job has one queued task per target, at consecutive seqs", async () => {
  await withStore((s) => {
    assertEquals(s.seqRange(), { low: 0, high: 0 });
    const { jobId, taskIds } = s.insertJob(
      job({ timeoutMs: 60_000, deadline: T0 + 3_600_000, retries: 2 }),
      5,
    );
    assertEquals([jobId, taskIds], [1, [1, 2]]);
    assertEquals(s.seqRange(), { low: 5, high: 6 });
    const empty = {
      attempt: 0,
      reason: null,
      exit_code: null,
      signal: null,
      started_at: null,
      ended_at: null,
      response: null,
      stdout_tail: "",
      stderr_tail: "",
      tried: [],
      attempts: [],
      not_before: null,
      cancel_requested: false,
    };
    assertEquals(s.getJob(jobId), {
      id: 1,
      score: "deploy",
      scope: "all",
      targets: ["p1", "p2"],
      params: { A: "1" },
      submitted_at: T0,
      submitted_by: "alice",
      finished_at: null,
      timeout_ms: 60_000,
      deadline: T0 + 3_600_000,
      retries: 2,
      cancelled_at: null,
      aggregate: "pending",
      tasks: [
        { id: 1, host: "p1", state: "queued", ...empty },
        { id: 2, host: "p2", state: "queued", ...empty },
      ],
    });
  });
});

Deno.test("a one-of job has one unplaced task", async () => {
  await withStore((s) => {
    const { taskIds } = s.insertJob(job({ scope: "one", targets: ["p1", "p2", "p3"] }), 1);
    assertEquals(taskIds, [1]);
    const [t] = s.openTasks();
    assertEquals([t.scope, t.host, t.targets], ["one", null, ["p1", "p2", "p3"]]);
  });
});

Deno.test("a task goes through assign, start, result and finish", async () => {
  await withStore((s) => {
    const { jobId, taskIds: [t1, t2] } = s.insertJob(job(), 1);
    s.assign(t1, 1, "p1", T0 + 10);
    assertEquals(s.attemptState(t1, 1), { state: "assigned", player: "p1" });
    assertEquals(s.getJob(jobId)!.aggregate, "pending");
    s.start(t1, 1, T0 + 20, T0 + 21);
    assertEquals(s.attemptState(t1, 1), { state: "running", player: "p1" });
    assertEquals(s.getJob(jobId)!.aggregate, "running");
    s.recordResult(t1, 1, okResult);
    s.finish(t1, "succeeded", null, [], 0, T0 + 31);
    assertEquals(s.attemptState(t1, 1), { state: "succeeded", player: "p1" });
    const task = s.getJob(jobId)!.tasks[0];
    assertEquals(task, {
      id: t1,
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
      stderr_tail: "err\n",
      tried: [],
      attempts: [{
        attempt: 1,
        player: "p1",
        state: "succeeded",
        started_at: T0 + 20,
        ended_at: T0 + 30,
        exit_code: 0,
        signal: null,
        error: null,
      }],
      not_before: null,
      cancel_requested: false,
    });
    assertEquals(s.openTasks().map((t) => t.id), [t2]);
    assertEquals(s.attemptState(t1, 2), undefined);
  });
});

Deno.test("a result keeps the start time recorded at start", async () => {
  await withStore((s) => {
    const { taskIds: [t1] } = s.insertJob(job({ targets: ["p1"] }), 1);
    s.assign(t1, 1, "p1", T0);
    s.start(t1, 1, T0 + 5, T0 + 6);
    s.recordResult(t1, 1, { ...okResult, started_at: T0 + 99 });
    assertEquals(s.getJob(1)!.tasks[0].started_at, T0 + 5);
  });
});

Deno.test("a result for an attempt never started takes its start time from the result", async () => {
  await withStore((s) => {
    const { taskIds: [t1] } = s.insertJob(job({ targets: ["p1"] }), 1);
    s.assign(t1, 1, "p1", T0);
    s.recordResult(t1, 1, { ...okResult, outcome: "failed", exit_code: 2, error: "boom" });
    s.finish(t1, "failed", null, [], 1, T0 + 40);
    const t = s.getJob(1)!.tasks[0];
    assertEquals([t.state, t.started_at, t.exit_code, t.reason], ["failed", T0 + 20, 2, "boom"]);
  });
});

Deno.test("a rejected attempt is requeued with the refusal kept, at a new seq and after a wait", async () => {
  await withStore((s) => {
    const { taskIds: [t] } = s.insertJob(job({ scope: "one", targets: ["p1", "p2"] }), 3);
    s.assign(t, 1, "p1", T0);
    s.endAttempt(t, 1, "rejected", "busy", T0 + 1);
    const tried = [{ player: "p1", code: "busy", message: "no slot" }];
    s.requeue(t, { seq: -1, tried, clearHost: true, notBefore: T0 + 500, failures: 1 }, T0 + 2);
    assertEquals(s.openTasks(), [{
      id: t,
      jobId: 1,
      seq: -1,
      scope: "one",
      score: "deploy",
      params: { A: "1" },
      targets: ["p1", "p2"],
      host: null,
      state: "queued",
      attempt: 1,
      tried,
      timeoutMs: null,
      deadline: null,
      retries: 0,
      notBefore: T0 + 500,
      failures: 1,
      cancelRequested: false,
    }]);
    assertEquals(s.seqRange(), { low: -1, high: -1 });
    const view = s.getJob(1)!.tasks[0];
    assertEquals([view.state, view.tried, view.reason, view.not_before], [
      "queued",
      tried,
      "busy",
      T0 + 500,
    ]);
    assertEquals(view.attempts.map((a) => [a.attempt, a.player, a.state, a.ended_at, a.error]), [
      [1, "p1", "rejected", T0 + 1, "busy"],
    ]);
  });
});

Deno.test("an all-of task requeued keeps its host", async () => {
  await withStore((s) => {
    const { taskIds: [t] } = s.insertJob(job({ targets: ["p1"] }), 1);
    s.assign(t, 1, "p1", T0);
    s.requeue(t, { seq: 0, tried: [], clearHost: false, notBefore: null, failures: 0 }, T0 + 1);
    assertEquals(s.openTasks()[0].host, "p1");
  });
});

Deno.test("open tasks come in seq order with their job's options", async () => {
  await withStore((s) => {
    s.insertJob(job({ targets: ["p1"], retries: 1, timeoutMs: 1000 }), 10);
    s.insertJob(job({ targets: ["p2"], deadline: T0 + 5 }), 2);
    s.insertJob(job({ targets: ["p3"] }), 7);
    const open = s.openTasks();
    assertEquals(open.map((t) => [t.id, t.seq, t.host]), [[2, 2, "p2"], [3, 7, "p3"], [
      1,
      10,
      "p1",
    ]]);
    assertEquals([open[2].retries, open[2].timeoutMs, open[0].deadline], [1, 1000, T0 + 5]);
  });
});

Deno.test("a cancel request and a job cancel are recorded once", async () => {
  await withStore((s) => {
    const { jobId, taskIds: [t1] } = s.insertJob(job(), 1);
    s.requestCancel(t1, T0 + 1);
    s.cancelJob(jobId, T0 + 2);
    s.cancelJob(jobId, T0 + 3);
    const j = s.getJob(jobId)!;
    assertEquals(j.cancelled_at, T0 + 2);
    assertEquals(j.tasks.map((t) => t.cancel_requested), [true, false]);
    assertEquals(s.openTasks().map((t) => t.cancelRequested), [true, false]);
  });
});

Deno.test("finishing a job sets its end time once", async () => {
  await withStore((s) => {
    const { jobId, taskIds } = s.insertJob(job(), 1);
    for (const t of taskIds) s.finish(t, "expired", "deadline passed", [], 0, T0 + 1);
    assertEquals(s.unfinishedDoneJobs(), [jobId]);
    s.finishJob(jobId, T0 + 5);
    s.finishJob(jobId, T0 + 9);
    const j = s.getJob(jobId)!;
    assertEquals([j.finished_at, j.aggregate], [T0 + 5, "failure"]);
    assertEquals(j.tasks.map((t) => [t.state, t.reason]), [
      ["expired", "deadline passed"],
      ["expired", "deadline passed"],
    ]);
    assertEquals(s.unfinishedDoneJobs(), []);
  });
});

Deno.test("an unknown job is undefined", async () => {
  await withStore((s) => {
    assertEquals(s.getJob(1), undefined);
    assertEquals(s.listJobs(10), []);
  });
});

Deno.test("jobs are listed newest first with counts per state, paged by id", async () => {
  await withStore((s) => {
    const a = s.insertJob(job({ targets: ["p1", "p2", "p3"] }), 1);
    const b = s.insertJob(
      job({ score: "other", scope: "one", targets: ["p1", "p2"], submittedAt: T0 + 1 }),
      4,
    );
    const c = s.insertJob(job({ targets: ["p1"], submittedBy: "bob" }), 5);
    s.assign(a.taskIds[0], 1, "p1", T0);
    s.recordResult(a.taskIds[0], 1, okResult);
    s.finish(a.taskIds[0], "succeeded", null, [], 0, T0);
    s.finish(a.taskIds[1], "failed", null, [], 1, T0);
    s.finish(c.taskIds[0], "succeeded", null, [], 0, T0);
    s.finishJob(c.jobId, T0 + 7);
    assertEquals(s.listJobs(10), [
      {
        id: c.jobId,
        score: "deploy",
        scope: "all",
        targets: 1,
        submitted_at: T0,
        submitted_by: "bob",
        finished_at: T0 + 7,
        aggregate: "success",
        counts: { succeeded: 1 },
      },
      {
        id: b.jobId,
        score: "other",
        scope: "one",
        targets: 2,
        submitted_at: T0 + 1,
        submitted_by: "alice",
        finished_at: null,
        aggregate: "pending",
        counts: { queued: 1 },
      },
      {
        id: a.jobId,
        score: "deploy",
        scope: "all",
        targets: 3,
        submitted_at: T0,
        submitted_by: "alice",
        finished_at: null,
        aggregate: "running",
        counts: { succeeded: 1, failed: 1, queued: 1 },
      },
    ]);
    assertEquals(s.listJobs(1).map((j) => j.id), [c.jobId]);
    assertEquals(s.listJobs(10, c.jobId).map((j) => j.id), [b.jobId, a.jobId]);
    assertEquals(s.listJobs(1, b.jobId).map((j) => j.id), [a.jobId]);
    assertEquals(s.listJobs(10, a.jobId), []);
  });
});

Deno.test("players are saved, updated and touched", async () => {
  await withStore((s) => {
    const scores = [{
      name: "deploy",
      interface: "env" as const,
      params: null,
      timeout_ms: null,
      max_timeout_ms: null,
      idempotent: false,
    }];
    s.savePlayer({
      name: "p2",
      version: "0.1.0",
      slots: 4,
      scores,
      address: "10.0.0.2",
      lastSeen: T0,
    });
    s.savePlayer({
      name: "p1",
      version: "0.1.0",
      slots: 1,
      scores: [],
      address: null,
      lastSeen: T0,
    });
    s.savePlayer({
      name: "p2",
      version: "0.2.0",
      slots: 8,
      scores: [],
      address: "10.0.0.3",
      lastSeen: T0 + 5,
    });
    s.touchPlayer("p1", T0 + 9);
    assertEquals(s.players(), [
      { name: "p1", version: "0.1.0", slots: 1, scores: [], address: null, lastSeen: T0 + 9 },
      { name: "p2", version: "0.2.0", slots: 8, scores: [], address: "10.0.0.3", lastSeen: T0 + 5 },
    ]);
  });
});

Deno.test("a player view takes live facts over the record", () => {
  const rec = {
    name: "p1",
    version: "0.1.0",
    slots: 4,
    scores: [{
      name: "a",
      interface: "env" as const,
      params: null,
      timeout_ms: null,
      max_timeout_ms: null,
      idempotent: false,
    }],
    address: "10.0.0.1",
    lastSeen: T0,
  };
  assertEquals(
    playerView("p1", rec, { connected: true, address: "10.0.0.9", slots: 2, running: 1 }, true),
    {
      name: "p1",
      authorised: true,
      connected: true,
      address: "10.0.0.9",
      version: "0.1.0",
      slots: 2,
      running: 1,
      scores: ["a"],
      last_seen: T0,
    },
  );
  assertEquals(
    playerView("p1", rec, { connected: false, address: null, slots: 0, running: 0 }, false),
    {
      name: "p1",
      authorised: false,
      connected: false,
      address: "10.0.0.1",
      version: "0.1.0",
      slots: 4,
      running: 0,
      scores: ["a"],
      last_seen: T0,
    },
  );
  assertEquals(
    playerView("p9", undefined, { connected: false, address: null, slots: 0, running: 0 }, true),
    {
      name: "p9",
      authorised: true,
      connected: false,
      address: null,
      version: null,
      slots: 0,
      running: 0,
      scores: [],
      last_seen: null,
    },
  );
});

Deno.test("a job is found by the request id its submit carried", async () => {
  await withStore((s) => {
    const { jobId } = s.insertJob(job({ requestId: "req-1" }), 1);
    s.insertJob(job(), 3);
    assertEquals(s.jobByRequest("req-1"), jobId);
    assertEquals(s.jobByRequest("req-2"), undefined);
    assertThrows(() => s.insertJob(job({ requestId: "req-1" }), 5), /UNIQUE/);
  });
});
