/**
 * What every conductor store must do, written only against the
 * {@linkcode ConductorStore} interface: each store's test file calls
 * {@linkcode storeConformance} with a way to open a fresh, empty store.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "../../_helpers/assert.ts";
import {
  type Caller,
  type JobQuery,
  LOCAL_CALLER,
  MAX_TASK_PAGE,
  MAX_TASK_PAGE_OUTPUT,
  MAX_VIEW_TARGETS,
  type TaskDetail,
  type TaskState,
  type TaskView,
} from "../../../lib/protocol/mod.ts";
import type {
  AttemptResult,
  AttemptRow,
  ConductorStore,
  JobRecord,
  PlayerRecord,
  PruneCount,
  PruneRequest,
  ScheduleRecord,
  StoreSnapshot,
  TaskRow,
  WriteTx,
} from "../../../lib/store/types.ts";
import { emptySnapshot, queuedTaskRow } from "../../../lib/store/rows.ts";

/** A store opened for one test. */
export interface OpenedStore {
  store: ConductorStore;
  /** Closes `store` and opens the same data again; `store` is then the new one. */
  reopen(): Promise<ConductorStore>;
  /** Closes the store and removes its data. */
  close(): Promise<void>;
}

const T0 = 1_700_000_000_000;

const ALICE: Caller = { transport: "https", name: "alice", auth: "client_certificate" };

/** A job as the conductor would store it. */
export function jobRecord(id: number, extra: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    score: "deploy",
    scope: "all",
    targets: ["p1", "p2"],
    params: { A: "1" },
    secrets: {},
    timeoutMs: null,
    deadline: null,
    retries: 0,
    requestId: null,
    submittedAt: T0,
    caller: LOCAL_CALLER,
    rollout: null,
    ...extra,
  };
}

/** A task just made: queued, never tried. */
export function queuedTask(
  id: number,
  jobId: number,
  seq: number,
  host: string | null,
  extra: Partial<TaskRow> = {},
): TaskRow {
  return { ...queuedTaskRow({ id, jobId, seq, host, at: T0 }), ...extra };
}

/** The tasks of an all-of job: one per target, at consecutive ids and queue positions. */
function allOfTasks(job: JobRecord, firstId: number, firstSeq: number): TaskRow[] {
  return job.targets.map((host, i) => queuedTask(firstId + i, job.id, firstSeq + i, host));
}

function assigned(t: TaskRow, player: string, at: number): TaskRow {
  return {
    ...t,
    state: "assigned",
    host: player,
    attempt: t.attempt + 1,
    assignedAt: at,
    startedAt: null,
    endedAt: null,
    result: null,
    updatedAt: at,
  };
}

function running(t: TaskRow, at: number): TaskRow {
  return { ...t, state: "running", startedAt: at, updatedAt: at };
}

function ended(
  t: TaskRow,
  state: TaskState,
  at: number,
  result: AttemptResult | null,
  reason: string | null = null,
): TaskRow {
  return { ...t, state, endedAt: at, result, reason, updatedAt: at };
}

const OK: AttemptResult = {
  exitCode: 0,
  signal: null,
  response: { KEY: "value", n: 3 },
  stdoutTail: "out\n",
  stderrTail: "err\n",
};

const EMPTY_SNAPSHOT: StoreSnapshot = emptySnapshot();

/**
 * Fails unless two long lists are equal, showing only the first difference
 * (a diff of thousands of rows takes minutes to print).
 */
function assertSameList<T>(actual: readonly T[], expected: readonly T[]): void {
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n; i++) assertEquals(actual[i], expected[i], `item ${i} differs`);
  assertEquals(actual.length, expected.length, "the lists differ in length");
}

const byId = <T extends { id: number }>(list: readonly T[]) =>
  [...list].sort((a, b) => a.id - b.id);
const byName = <T extends { name: string }>(list: readonly T[]) =>
  [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

/** `v` with each NUL in its strings (keys too) replaced by U+FFFD. */
function withoutNul(v: unknown): unknown {
  if (typeof v === "string") return v.replaceAll("\0", "\uFFFD");
  if (Array.isArray(v)) return v.map(withoutNul);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k.replaceAll("\0", "\uFFFD"), withoutNul(x)]),
    );
  }
  return v;
}

/**
 * Fails unless `actual` is `expected` with, in each string (value or key),
 * its NULs kept or each replaced by U+FFFD.
 */
function assertKeptOrReplaced(actual: unknown, expected: unknown, at = "value"): void {
  if (typeof expected === "string") {
    assert(
      actual === expected || actual === withoutNul(expected),
      `${at}: ${JSON.stringify(actual)} is neither ${JSON.stringify(expected)} nor it with U+FFFD`,
    );
  } else if (Array.isArray(expected)) {
    assert(Array.isArray(actual), `${at}: ${JSON.stringify(actual)} is not a list`);
    assertEquals(actual.length, expected.length, `${at}: lengths differ`);
    expected.forEach((x, i) => assertKeptOrReplaced(actual[i], x, `${at}[${i}]`));
  } else if (expected !== null && typeof expected === "object") {
    assert(actual !== null && typeof actual === "object", `${at}: not an object`);
    const got = Object.keys(actual);
    const want = Object.keys(expected);
    assertEquals(got.length, want.length, `${at}: keys differ (${got.join()} / ${want.join()})`);
    for (const k of want) {
      const key = Object.hasOwn(actual, k) ? k : k.replaceAll("\0", "\uFFFD");
      assert(Object.hasOwn(actual, key), `${at}: no key ${JSON.stringify(k)}`);
      assertKeptOrReplaced(
        (actual as Record<string, unknown>)[key],
        (expected as Record<string, unknown>)[k],
        `${at}.${k}`,
      );
    }
  } else {
    assertEquals(actual, expected, at);
  }
}

/** The view of a task that has no current attempt and no result. */
function unstartedView(id: number, host: string | null): TaskView {
  return {
    id,
    host,
    state: "queued",
    attempt: 0,
    reason: null,
    exit_code: null,
    signal: null,
    started_at: null,
    ended_at: null,
    response: null,
    tried: [],
    not_before: null,
    cancel_requested: false,
    offline_since: null,
  };
}

/**
 * Registers the conformance tests for a store.
 *
 * @param name names the store in each test's name
 * @param open opens a fresh, empty store for one test
 */
export function storeConformance(name: string, open: () => Promise<OpenedStore>): void {
  const test = (what: string, fn: (s: OpenedStore) => Promise<void>) =>
    Deno.test(`${name}: ${what}`, async () => {
      const s = await open();
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    });

  test("a new store is empty", async ({ store }) => {
    assertEquals(await store.load(), EMPTY_SNAPSHOT);
    assertEquals(await store.job(1), undefined);
    assertEquals(await store.tasks(1, { page: 1, limit: 10 }), undefined);
    assertEquals(await store.task(1, 1), undefined);
    assertEquals(await store.jobs({ limit: 10 }), []);
    assertEquals(await store.jobIdByRequest("req-1"), undefined);
  });

  test("the snapshot holds each open job once and its open tasks in queue order", async ({ store }) => {
    const a = jobRecord(1, { targets: ["p1", "p2", "p3"], retries: 2, timeoutMs: 60_000 });
    const b = jobRecord(2, {
      scope: "one",
      targets: ["p1", "p2"],
      deadline: T0 + 3_600_000,
      params: {},
      requestId: "req-b",
      caller: ALICE,
    });
    const c = jobRecord(3, { targets: ["p4"] });
    await store.write((tx) => {
      tx.insertJob(a, allOfTasks(a, 1, 5));
      tx.insertJob(b, [queuedTask(4, 2, 2, null)]);
      tx.insertJob(c, [queuedTask(5, 3, 9, "p4")]);
    });
    await store.write((tx) =>
      tx.saveTasks([ended(queuedTask(5, 3, 9, "p4"), "expired", T0, null)])
    );
    const snap = await store.load();
    assertEquals(byId(snap.jobs), [a, b]);
    assertEquals(snap.tasks, [queuedTask(4, 2, 2, null), ...allOfTasks(a, 1, 5)]);
    assertEquals(
      [snap.maxJobId, snap.maxTaskId, snap.seqLow, snap.seqHigh, snap.unfinishedDoneJobs],
      [3, 5, 2, 9, [3]],
    );
  });

  test("an open task comes back from the snapshot as it was saved, field by field", async ({ store }) => {
    const j = jobRecord(7, { scope: "one", targets: ["p1", "p2", "p3"] });
    const tried = [{ player: "p1", code: "unknown_score", message: "no such score" }];
    const inFlight: TaskRow = {
      ...queuedTask(70, 7, -3, "p2"),
      state: "running",
      attempt: 2,
      tried,
      failures: 1,
      cancelRequested: true,
      reason: "cancelled by local",
      updatedAt: T0 + 9,
      assignedAt: T0 + 5,
      startedAt: T0 + 6,
    };
    // A retry waiting, which kept its last result: an empty stdout is a result, not none.
    const waiting: TaskRow = {
      ...queuedTask(71, 7, 4, null),
      attempt: 1,
      notBefore: T0 + 500,
      failures: 1,
      assignedAt: T0 + 1,
      startedAt: T0 + 2,
      endedAt: T0 + 3,
      result: { exitCode: null, signal: "SIGKILL", response: null, stdoutTail: "", stderrTail: "" },
    };
    await store.write((tx) =>
      tx.insertJob(j, [queuedTask(70, 7, -3, null), queuedTask(71, 7, 4, null)])
    );
    await store.write((tx) => tx.saveTasks([inFlight, waiting]));
    const snap = await store.load();
    assertEquals(snap.tasks, [inFlight, waiting]);
    assertEquals(snap.jobs, [j]);
    assertEquals([snap.seqLow, snap.seqHigh], [-3, 4]);
  });

  test("an N-of job's finished slots' hosts are loaded; other jobs' are not", async ({ store }) => {
    const rollout = { quorum: null, batch: null, max_errors: null, batch_wait_ms: 0 };
    const nOf = jobRecord(1, { targets: ["p1", "p2", "p3"], rollout: { ...rollout, some: 2 } });
    const all = jobRecord(2, { targets: ["p1", "p2"] });
    const a = queuedTask(1, 1, 1, "p1");
    const b = queuedTask(2, 1, 2, null);
    const [c, d] = allOfTasks(all, 3, 3);
    await store.write((tx) => {
      tx.insertJob(nOf, [a, b]);
      tx.insertJob(all, [c, d]);
    });
    await store.write((tx) =>
      tx.saveTasks([
        { ...a, state: "succeeded", attempt: 1, updatedAt: T0 + 1 },
        { ...c, state: "succeeded", attempt: 1, updatedAt: T0 + 1 },
      ])
    );
    assertEquals((await store.load()).finishedHosts, [{ jobId: 1, hosts: ["p1"] }]);
  });

  test("a job's rollout rules are kept, and its view says where the rollout stands", async ({ store }) => {
    const rollout = { quorum: 2, batch: 1, max_errors: 2, batch_wait_ms: 5000 };
    const j = jobRecord(1, { targets: ["p1", "p2", "p3"], rollout });
    const [t1, t2, t3] = allOfTasks(j, 1, 1);
    await store.write((tx) => tx.insertJob(j, [t1, t2, t3]));
    await store.write((tx) =>
      tx.saveTasks([
        { ...t1, state: "succeeded", attempt: 1, updatedAt: T0 + 1 },
        { ...t2, state: "failed", attempt: 1, updatedAt: T0 + 1 },
      ])
    );
    assertEquals((await store.load()).jobs[0].rollout, rollout);
    const v = await store.job(1);
    assertEquals(v?.rollout_settings, rollout);
    assertEquals(v?.rollout, { batch: 2, batches: 3, errors: 1, errors_allowed: 2 });
    assertEquals(v?.aggregate, "running");
    await store.write((tx) => tx.saveTasks([{ ...t3, state: "skipped", updatedAt: T0 + 2 }]));
    assertEquals((await store.job(1))?.aggregate, "failure");
    assertEquals((await store.jobs({ limit: 10 }))[0].aggregate, "failure");
  });

  test("a drained player is kept until it is undrained", async ({ store }) => {
    await store.write((tx) => {
      tx.setDrained("p2", T0);
      tx.setDrained("p1", T0);
    });
    await store.write((tx) => tx.setDrained("p2", T0 + 1));
    assertEquals((await store.load()).drained, ["p1", "p2"]);
    await store.write((tx) => tx.setDrained("p1", null));
    assertEquals((await store.load()).drained, ["p2"]);
  });

  test("a task goes through assigned, running and succeeded, and every view follows", async ({ store }) => {
    const j = jobRecord(1, { targets: ["p1", "p2"] });
    const [t1, t2] = allOfTasks(j, 1, 1);
    await store.write((tx) => tx.insertJob(j, [t1, t2]));

    assertEquals(await store.job(1), {
      id: 1,
      score: "deploy",
      scope: "all",
      targets: ["p1", "p2"],
      hosts: ["p1", "p2"],
      host_count: 2,
      params: { A: "1" },
      secret: [],
      submitted_at: T0,
      submitted_by: "local",
      caller: LOCAL_CALLER,
      finished_at: null,
      timeout_ms: null,
      deadline: null,
      retries: 0,
      cancelled_at: null,
      schedule: null,
      aggregate: "pending",
      counts: { queued: 2 },
      task_count: 2,
      rollout_settings: null,
      rollout: null,
      offline: 0,
    });
    const fresh: TaskDetail = {
      ...unstartedView(1, "p1"),
      job_id: 1,
      stdout_tail: "",
      stderr_tail: "",
      stdout_dropped: 0,
      stderr_dropped: 0,
      attempts: [],
    };
    assertEquals(await store.task(1, 1), fresh);

    const a = assigned(t1, "p1", T0 + 10);
    await store.write((tx) => tx.saveTasks([a]));
    const attempt1 = {
      attempt: 1,
      player: "p1",
      state: "assigned",
      started_at: null,
      ended_at: null,
      exit_code: null,
      signal: null,
      error: null,
      stdout_dropped: 0,
      stderr_dropped: 0,
    };
    assertEquals(await store.task(1, 1), {
      ...fresh,
      state: "assigned",
      attempt: 1,
      attempts: [attempt1],
    });
    assertEquals((await store.job(1))?.aggregate, "pending");
    assertEquals((await store.job(1))?.counts, { queued: 1, assigned: 1 });
    assertEquals((await store.load()).tasks, [a, t2]);

    const r = running(a, T0 + 20);
    await store.write((tx) => tx.saveTasks([r]));
    assertEquals(await store.task(1, 1), {
      ...fresh,
      state: "running",
      attempt: 1,
      started_at: T0 + 20,
      attempts: [{ ...attempt1, state: "running", started_at: T0 + 20 }],
    });
    assertEquals((await store.job(1))?.aggregate, "running");
    assertEquals((await store.load()).tasks, [r, t2]);

    const done = ended(r, "succeeded", T0 + 30, OK);
    await store.write((tx) => tx.saveTasks([done]));
    const view: TaskView = {
      id: 1,
      host: "p1",
      state: "succeeded",
      attempt: 1,
      reason: null,
      exit_code: 0,
      signal: null,
      started_at: T0 + 20,
      ended_at: T0 + 30,
      response: { KEY: "value", n: 3 },
      tried: [],
      not_before: null,
      cancel_requested: false,
      offline_since: null,
    };
    assertEquals(await store.task(1, 1), {
      ...view,
      job_id: 1,
      stdout_tail: "out\n",
      stderr_tail: "err\n",
      stdout_dropped: 0,
      stderr_dropped: 0,
      attempts: [{
        ...attempt1,
        state: "succeeded",
        started_at: T0 + 20,
        ended_at: T0 + 30,
        exit_code: 0,
      }],
    });
    assertEquals((await store.tasks(1, { page: 1, limit: 10 }))?.tasks, [
      view,
      unstartedView(2, "p2"),
    ]);
    assertEquals((await store.job(1))?.counts, { succeeded: 1, queued: 1 });
    assertEquals((await store.job(1))?.aggregate, "running");
    const snap = await store.load();
    assertEquals([snap.tasks, snap.jobs], [[t2], [j]]);

    await store.write((tx) => tx.saveTasks([ended(t2, "failed", T0 + 40, null, "boom")]));
    assertEquals((await store.load()).unfinishedDoneJobs, [1]);
    await store.write((tx) => tx.finishJobs([{ id: 1, at: T0 + 41 }]));
    const after = await store.load();
    assertEquals([after.tasks, after.jobs, after.unfinishedDoneJobs], [[], [], []]);
    const jv = await store.job(1);
    assertEquals([jv?.aggregate, jv?.finished_at, jv?.counts], [
      "partial",
      T0 + 41,
      { succeeded: 1, failed: 1 },
    ]);
    assertEquals((await store.task(1, 2))?.reason, "boom");
  });

  test("text with NUL is stored: it comes back as it was, or with each NUL as U+FFFD", async (s) => {
    const j = jobRecord(1, { targets: ["p1"], params: { A: "x\0y" } });
    const [t] = allOfTasks(j, 1, 1);
    await s.store.write((tx) => tx.insertJob(j, [t]));
    const result: AttemptResult = {
      exitCode: 1,
      signal: null,
      response: { KEY: "v\0al", "K\0": "\0" },
      stdoutTail: "o\0ut\n\0",
      stderrTail: "\0err\n",
    };
    const r = running(assigned(t, "p1", T0 + 1), T0 + 2);
    const history: AttemptRow = {
      taskId: 1,
      attempt: 1,
      player: "p1",
      state: "failed",
      assignedAt: T0 + 1,
      startedAt: T0 + 2,
      endedAt: T0 + 3,
      error: "er\0ror",
      result,
    };
    const audit = {
      at: T0 + 3,
      who: "audience:al\0ice",
      auth: "client_certificate",
      transport: "https",
      from: "127.0.0.1:5000",
      action: "submit" as const,
      subject: "score de\0ploy",
      job_id: 1,
      outcome: "refused" as const,
      reason: "no\0 grant",
    };
    await s.store.write((tx) => tx.saveTasks([r]));
    await s.store.write((tx) => {
      tx.addAttempts([history]);
      tx.saveTasks([ended(r, "failed", T0 + 3, result, "re\0ason")]);
      tx.addAudit([audit]);
    });
    const view = await s.store.task(1, 1);
    assertKeptOrReplaced(
      [view?.stdout_tail, view?.stderr_tail, view?.response, view?.reason],
      [result.stdoutTail, result.stderrTail, result.response, "re\0ason"],
    );
    assertKeptOrReplaced(view?.attempts.map((a) => a.error), ["er\0ror"]);
    const page = await s.store.tasks(1, { page: 1, limit: 10, output: true });
    assertKeptOrReplaced(page?.tasks.map((x) => (x as TaskDetail).stdout_tail), [
      result.stdoutTail,
    ]);
    assertKeptOrReplaced((await s.store.job(1))?.params, { A: "x\0y" });
    assertKeptOrReplaced(await s.store.audit({ limit: 10 }), [{ id: 1, ...audit }]);
    // The next write works: a NUL never leaves the store unable to commit.
    await s.store.write((tx) => tx.finishJobs([{ id: 1, at: T0 + 4 }]));
    assertEquals((await s.reopen().then((st) => st.job(1)))?.finished_at, T0 + 4);
  });

  test("a one-of job has one unplaced task and shows its targets", async ({ store }) => {
    const j = jobRecord(4, { scope: "one", targets: ["p1", "p2", "p3"] });
    await store.write((tx) => tx.insertJob(j, [queuedTask(10, 4, 1, null)]));
    const v = await store.job(4);
    assertEquals([v?.scope, v?.hosts, v?.host_count, v?.task_count], [
      "one",
      ["p1", "p2", "p3"],
      3,
      1,
    ]);
    assertEquals(await store.task(4, 10), {
      ...unstartedView(10, null),
      job_id: 4,
      stdout_tail: "",
      stderr_tail: "",
      stdout_dropped: 0,
      stderr_dropped: 0,
      attempts: [],
    });
    assertEquals(await store.task(3, 10), undefined, "a task is found under its own job only");
  });

  test("a job view lists its first targets and counts them all", async ({ store }) => {
    const targets = Array.from({ length: MAX_VIEW_TARGETS + 50 }, (_, i) => `h${i}`);
    const j = jobRecord(1, { targets, caller: ALICE });
    await store.write((tx) => tx.insertJob(j, allOfTasks(j, 1, 1)));
    const v = await store.job(1);
    assertEquals(v?.hosts, targets.slice(0, MAX_VIEW_TARGETS));
    assertEquals([v?.host_count, v?.task_count, v?.counts], [
      MAX_VIEW_TARGETS + 50,
      MAX_VIEW_TARGETS + 50,
      { queued: MAX_VIEW_TARGETS + 50 },
    ]);
    assertEquals([v?.caller, v?.submitted_by], [ALICE, "audience:alice"]);
  });

  test("a job keeps the target expressions asked beside the hosts chosen, in the view and the snapshot", async (s) => {
    const a = jobRecord(1, { targets: ["web1", "web2", "db1"], asked: ["web*", "role=db"] });
    const b = jobRecord(2, { targets: ["p1"] });
    await s.store.write((tx) => {
      tx.insertJob(a, allOfTasks(a, 1, 1));
      tx.insertJob(b, allOfTasks(b, 4, 4));
    });
    const store = await s.reopen();
    assertEquals((await store.load()).jobs, [a, b]);
    const va = await store.job(1);
    assertEquals([va?.targets, va?.hosts], [["web*", "role=db"], ["web1", "web2", "db1"]]);
    // Asked nothing but the hosts: the view shows them as the targets.
    assertEquals((await store.job(2))?.targets, ["p1"]);
  });

  test("earlier attempts are history, listed before the current one", async ({ store }) => {
    const j = jobRecord(1, { scope: "one", targets: ["p1", "p2", "p3"], retries: 1 });
    const t = queuedTask(1, 1, 1, null);
    await store.write((tx) => tx.insertJob(j, [t]));
    // p1 refuses attempt 1: it becomes history, the task goes back to the queue.
    const a1 = assigned(t, "p1", T0 + 1);
    const tried = [{ player: "p1", code: "busy", message: "no slot" }];
    const rejected: AttemptRow = {
      taskId: 1,
      attempt: 1,
      player: "p1",
      state: "rejected",
      assignedAt: T0 + 1,
      startedAt: null,
      endedAt: T0 + 2,
      error: "busy: no slot",
      result: null,
    };
    const requeued: TaskRow = {
      ...a1,
      state: "queued",
      host: null,
      seq: 0,
      tried,
      assignedAt: null,
      updatedAt: T0 + 2,
    };
    await store.write((tx) => {
      tx.saveTasks([a1]);
    });
    await store.write((tx) => {
      tx.addAttempts([rejected]);
      tx.saveTasks([requeued]);
    });
    const queuedView = await store.task(1, 1);
    assertEquals(
      [queuedView?.state, queuedView?.host, queuedView?.attempt, queuedView?.tried],
      ["queued", null, 1, tried],
    );
    const rejectedView = {
      attempt: 1,
      player: "p1",
      state: "rejected",
      started_at: null,
      ended_at: T0 + 2,
      exit_code: null,
      signal: null,
      error: "busy: no slot",
      stdout_dropped: 0,
      stderr_dropped: 0,
    };
    assertEquals(queuedView?.attempts, [rejectedView]);
    assertEquals((await store.load()).tasks, [requeued]);

    // p2 runs attempt 2, which fails with a result; a retry is allowed: history again.
    const a2 = running(assigned(requeued, "p2", T0 + 3), T0 + 4);
    const failed: AttemptResult = {
      exitCode: 3,
      signal: null,
      response: null,
      stdoutTail: "",
      stderrTail: "bad\n",
      stderrDropped: 42,
    };
    await store.write((tx) => tx.saveTasks([a2]));
    await store.write((tx) => {
      tx.addAttempts([{
        taskId: 1,
        attempt: 2,
        player: "p2",
        state: "failed",
        assignedAt: T0 + 3,
        startedAt: T0 + 4,
        endedAt: T0 + 5,
        error: "exit status 3",
        result: failed,
      }]);
      tx.saveTasks([{
        ...a2,
        state: "queued",
        failures: 1,
        notBefore: T0 + 100,
        assignedAt: null,
        startedAt: null,
        updatedAt: T0 + 5,
      }]);
    });
    // p3 runs attempt 3, which times out: the task ends with it, its reason the attempt's error.
    const retry = (await store.load()).tasks[0];
    assertEquals([retry.notBefore, retry.failures, retry.host], [T0 + 100, 1, "p2"]);
    const a3 = running(assigned(retry, "p3", T0 + 200), T0 + 201);
    const last = ended(a3, "timed_out", T0 + 260, {
      exitCode: null,
      signal: "SIGTERM",
      response: null,
      stdoutTail: "slow\n",
      stderrTail: "",
      stdoutDropped: 123_456_789_012,
    }, "ran longer than 60s");
    await store.write((tx) => tx.saveTasks([a3]));
    await store.write((tx) => tx.saveTasks([{ ...last, failures: 2 }]));
    const d = await store.task(1, 1);
    assertEquals(d?.attempts, [
      rejectedView,
      {
        attempt: 2,
        player: "p2",
        state: "failed",
        started_at: T0 + 4,
        ended_at: T0 + 5,
        exit_code: 3,
        signal: null,
        error: "exit status 3",
        stdout_dropped: 0,
        stderr_dropped: 42,
      },
      {
        attempt: 3,
        player: "p3",
        state: "timed_out",
        started_at: T0 + 201,
        ended_at: T0 + 260,
        exit_code: null,
        signal: "SIGTERM",
        error: "ran longer than 60s",
        stdout_dropped: 123_456_789_012,
        stderr_dropped: 0,
      },
    ]);
    assertEquals(
      [d?.state, d?.reason, d?.signal, d?.stdout_tail, d?.stderr_tail, d?.tried],
      ["timed_out", "ran longer than 60s", "SIGTERM", "slow\n", "", tried],
    );
    // The bytes dropped from its output are kept with each result, current and history.
    assertEquals([d?.stdout_dropped, d?.stderr_dropped], [123_456_789_012, 0]);
    const page = await store.tasks(1, { page: 1, limit: 10, output: true });
    const listed = page?.tasks[0] as TaskDetail | undefined;
    assertEquals(
      [listed?.stdout_dropped, listed?.attempts.map((a) => [a.stdout_dropped, a.stderr_dropped])],
      [123_456_789_012, [[0, 0], [0, 42], [123_456_789_012, 0]]],
    );
  });

  test("an attempt that is both in the history and current is listed once", async ({ store }) => {
    const j = jobRecord(1, { targets: ["p1"] });
    const t = assigned(queuedTask(1, 1, 1, "p1"), "p1", T0 + 1);
    await store.write((tx) => tx.insertJob(j, [queuedTask(1, 1, 1, "p1")]));
    await store.write((tx) => {
      tx.saveTasks([{ ...t, state: "queued" }]);
      tx.addAttempts([{
        taskId: 1,
        attempt: 1,
        player: "p1",
        state: "unstarted",
        assignedAt: T0 + 1,
        startedAt: null,
        endedAt: T0 + 2,
        error: "the player never accepted it",
        result: null,
      }]);
    });
    assertEquals((await store.task(1, 1))?.attempts.map((a) => [a.attempt, a.state]), [
      [1, "unstarted"],
    ]);
  });

  test("a page of tasks is in id order, filtered by state and host, with output on request", async ({ store }) => {
    const targets = Array.from({ length: 25 }, (_, i) => `h${String(i + 1).padStart(2, "0")}`);
    const j = jobRecord(3, { targets });
    const tasks = allOfTasks(j, 101, 1);
    await store.write((tx) => tx.insertJob(j, tasks));
    // The first five succeed; the second of them on its second attempt, after a refusal.
    await store.write((tx) => {
      tx.saveTasks(
        tasks.slice(0, 5).map((t) =>
          ended(
            running(assigned({ ...t, attempt: t.id === 102 ? 1 : 0 }, t.host!, T0 + 1), T0 + 2),
            "succeeded",
            T0 + 3,
            OK,
          )
        ),
      );
      tx.addAttempts([{
        taskId: 102,
        attempt: 1,
        player: "h02",
        state: "rejected",
        assignedAt: T0,
        startedAt: null,
        endedAt: T0,
        error: "busy",
        result: null,
      }]);
    });
    const ids = (p: { tasks: { id: number }[] } | undefined) => p?.tasks.map((t) => t.id);

    const p1 = await store.tasks(3, { page: 1, limit: 10 });
    assertEquals([p1?.job_id, p1?.total, p1?.page, p1?.limit], [3, 25, 1, 10]);
    assertEquals(ids(p1), Array.from({ length: 10 }, (_, i) => 101 + i));
    for (const t of p1!.tasks) {
      assert(!("stdout_tail" in t) && !("attempts" in t), "no output unless asked for");
    }
    assertEquals(ids(await store.tasks(3, { page: 3, limit: 10 })), [121, 122, 123, 124, 125]);
    const beyond = await store.tasks(3, { page: 4, limit: 10 });
    assertEquals([beyond?.total, beyond?.tasks], [25, []]);

    const ok = await store.tasks(3, { state: "succeeded", page: 1, limit: 3 });
    assertEquals([ok?.total, ids(ok)], [5, [101, 102, 103]]);
    const ok2 = await store.tasks(3, { state: "succeeded", page: 2, limit: 3 });
    assertEquals([ok2?.total, ids(ok2)], [5, [104, 105]]);
    const queuedPage = await store.tasks(3, { state: "queued", page: 1, limit: 100 });
    assertEquals([queuedPage?.total, ids(queuedPage)?.[0]], [20, 106]);
    const host = await store.tasks(3, { host: "h07", page: 1, limit: 10 });
    assertEquals([host?.total, ids(host)], [1, [107]]);
    const both = await store.tasks(3, { host: "h07", state: "succeeded", page: 1, limit: 10 });
    assertEquals([both?.total, both?.tasks], [0, []]);
    const none = await store.tasks(3, { state: "running", page: 1, limit: 10 });
    assertEquals([none?.total, none?.tasks], [0, []]);

    const out = await store.tasks(3, { output: true, page: 1, limit: 3 });
    assertEquals(out?.tasks, [
      await store.task(3, 101),
      await store.task(3, 102),
      await store.task(3, 103),
    ]);
    const [first, second] = out!.tasks as TaskDetail[];
    assertEquals([first.stdout_tail, first.stderr_tail, first.attempts.length], [
      "out\n",
      "err\n",
      1,
    ]);
    assertEquals(second.attempts.map((a) => a.state), ["rejected", "succeeded"]);
    assertEquals(await store.tasks(4, { page: 1, limit: 10 }), undefined);
  });

  test("a page of tasks out of bounds is refused", async ({ store }) => {
    const j = jobRecord(1);
    await store.write((tx) => tx.insertJob(j, allOfTasks(j, 1, 1)));
    for (
      const q of [
        { page: 1, limit: 0 },
        { page: 1, limit: MAX_TASK_PAGE + 1 },
        { page: 1, limit: MAX_TASK_PAGE_OUTPUT + 1, output: true },
        { page: 0, limit: 10 },
        { page: 1.5, limit: 10 },
      ]
    ) {
      const err = await assertRejects(() => store.tasks(1, q));
      assert(err instanceof RangeError, `${JSON.stringify(q)}: ${err}`);
    }
    await assertRejects(() => store.jobs({ limit: 0 }), /job list limit 0/);
  });

  test("a submit's request id finds its job; a second job with it writes nothing", async ({ store }) => {
    const j = jobRecord(1, { requestId: "req-1" });
    await store.write((tx) => tx.insertJob(j, allOfTasks(j, 1, 1)));
    assertEquals(await store.jobIdByRequest("req-1"), 1);
    assertEquals(await store.jobIdByRequest("req-2"), undefined);
    const other = jobRecord(2);
    const again = jobRecord(3, { requestId: "req-1" });
    await assertRejects(() =>
      store.write((tx) => {
        tx.insertJob(other, allOfTasks(other, 3, 3));
        tx.insertJob(again, allOfTasks(again, 5, 5));
      })
    );
    assertEquals([await store.job(2), await store.job(3)], [undefined, undefined]);
    const snap = await store.load();
    assertEquals([snap.maxJobId, snap.maxTaskId, snap.tasks.length], [1, 2, 2]);
    assertEquals(await store.jobIdByRequest("req-1"), 1);
  });

  test("ids, queue positions and the conductor id are the same after a reopen", async (s) => {
    const a = jobRecord(1, { targets: ["p1", "p2"] });
    const b = jobRecord(2, { targets: ["p3"] });
    await s.store.write((tx) => {
      tx.setConductorId("c-123");
      tx.insertJob(a, allOfTasks(a, 1, 10));
    });
    await s.store.write((tx) => tx.insertJob(b, [queuedTask(3, 2, -4, "p3")]));
    // Final tasks keep their ids and queue positions in use.
    await s.store.write((tx) => {
      tx.saveTasks(allOfTasks(a, 1, 10).map((t) => ended(t, "cancelled", T0 + 1, null)));
      tx.finishJobs([{ id: 1, at: T0 + 1 }]);
    });
    const store = await s.reopen();
    const snap = await store.load();
    assertEquals(
      [snap.conductorId, snap.maxJobId, snap.maxTaskId, snap.seqLow, snap.seqHigh],
      ["c-123", 2, 3, -4, 11],
    );
    assertEquals([snap.jobs, snap.tasks], [[b], [queuedTask(3, 2, -4, "p3")]]);
    assertEquals((await store.job(1))?.finished_at, T0 + 1);
  });

  test("a secret value is never returned: the snapshot has its key with the sealed value or null, views show [secret]", async (s) => {
    const sealed = "v1:bm90IGEgcmVhbCBzZWFsZWQgdmFsdWU=";
    const inMemory = jobRecord(1, {
      params: { A: "1", TOKEN: "s3cr3t-in-memory" },
      secrets: { TOKEN: null },
    });
    const withKey = jobRecord(2, {
      params: { PASS: "s3cr3t-sealed", B: "2" },
      secrets: { PASS: sealed },
    });
    await s.store.write((tx) => {
      tx.insertJob(inMemory, allOfTasks(inMemory, 1, 1));
      tx.insertJob(withKey, allOfTasks(withKey, 3, 3));
    });
    for (const reopen of [false, true]) {
      const store = reopen ? await s.reopen() : s.store;
      const snap = await store.load();
      assertEquals(byId(snap.jobs), [
        { ...inMemory, params: { A: "1" } },
        { ...withKey, params: { B: "2" } },
      ]);
      const v1 = await store.job(1);
      assertEquals([v1?.params, v1?.secret], [{ A: "1", TOKEN: "[secret]" }, ["TOKEN"]]);
      const v2 = await store.job(2);
      assertEquals([v2?.params, v2?.secret], [{ PASS: "[secret]", B: "2" }, ["PASS"]]);
      assertEquals(
        JSON.stringify([snap, v1, v2, await store.jobs({ limit: 10 })]).includes("s3cr3t"),
        false,
      );
    }
  });

  test("the conductor id is recorded once", async ({ store }) => {
    await store.write((tx) => tx.setConductorId("c-1"));
    await assertRejects(() => store.write((tx) => tx.setConductorId("c-2")));
    assertEquals((await store.load()).conductorId, "c-1");
  });

  test("jobs whose tasks are all final wait in unfinishedDoneJobs until finished, once", async ({ store }) => {
    const a = jobRecord(1, { targets: ["p1", "p2"] });
    const b = jobRecord(2, { targets: ["p1"] });
    await store.write((tx) => {
      tx.insertJob(a, allOfTasks(a, 1, 1));
      tx.insertJob(b, allOfTasks(b, 3, 3));
    });
    await store.write((tx) =>
      tx.saveTasks([
        ended(queuedTask(1, 1, 1, "p1"), "expired", T0 + 1, null, "deadline passed"),
        ended(queuedTask(3, 2, 3, "p1"), "cancelled", T0 + 1, null, "cancelled by local"),
      ])
    );
    assertEquals((await store.load()).unfinishedDoneJobs, [2]);
    await store.write((tx) =>
      tx.saveTasks([ended(queuedTask(2, 1, 2, "p2"), "expired", T0 + 2, null, "deadline passed")])
    );
    assertEquals((await store.load()).unfinishedDoneJobs, [1, 2]);
    await store.write((tx) => {
      tx.finishJobs([{ id: 1, at: T0 + 5 }]);
      tx.finishJobs([{ id: 1, at: T0 + 6 }, { id: 2, at: T0 + 7 }]);
    });
    await store.write((tx) => tx.finishJobs([{ id: 1, at: T0 + 9 }]));
    assertEquals((await store.load()).unfinishedDoneJobs, []);
    const v = await store.job(1);
    assertEquals([v?.finished_at, v?.aggregate], [T0 + 5, "failure"]);
    assertEquals((await store.job(2))?.finished_at, T0 + 7);
  });

  test("the snapshot counts, for each open job, its tasks already final and how many succeeded", async ({ store }) => {
    const a = jobRecord(1, { targets: ["p1", "p2", "p3", "p4"] });
    const b = jobRecord(2, { targets: ["p1"] });
    await store.write((tx) => {
      tx.insertJob(a, allOfTasks(a, 1, 1));
      tx.insertJob(b, allOfTasks(b, 5, 5));
    });
    await store.write((tx) =>
      tx.saveTasks([
        ended(assigned(queuedTask(1, 1, 1, "p1"), "p1", T0), "succeeded", T0 + 1, OK, null),
        ended(assigned(queuedTask(2, 1, 2, "p2"), "p2", T0), "failed", T0 + 1, OK, "exit 1"),
        ended(queuedTask(3, 1, 3, "p3"), "cancelled", T0 + 1, null, "cancelled by local"),
      ])
    );
    const snap = await store.load();
    assertEquals(snap.jobs.map((j) => j.id), [1, 2]);
    assertEquals(snap.finished, [{ jobId: 1, succeeded: 1, other: 2 }]);
  });

  test("a job's cancel keeps the first time, and a task's cancel request is kept", async ({ store }) => {
    const j = jobRecord(1);
    const tasks = allOfTasks(j, 1, 1);
    await store.write((tx) => tx.insertJob(j, tasks));
    await store.write((tx) => {
      tx.cancelJob(1, T0 + 2);
      tx.cancelJob(1, T0 + 3);
      tx.saveTasks([{ ...tasks[0], cancelRequested: true }]);
    });
    await store.write((tx) => tx.cancelJob(1, T0 + 4));
    assertEquals((await store.job(1))?.cancelled_at, T0 + 2);
    assertEquals((await store.load()).tasks.map((t) => t.cancelRequested), [true, false]);
    const page = await store.tasks(1, { page: 1, limit: 10 });
    assertEquals(page?.tasks.map((t) => t.cancel_requested), [true, false]);
  });

  test("players are saved, updated and touched", async ({ store }) => {
    const scores = [{
      name: "deploy",
      interface: "env" as const,
      params: { A: { type: "string" as const, required: true } },
      timeout_ms: 1000,
      max_timeout_ms: null,
      idempotent: false,
    }];
    const p2: PlayerRecord = {
      name: "p2",
      version: "0.1.0",
      slots: 4,
      scores,
      address: "10.0.0.2",
      lastSeen: T0,
    };
    const p1: PlayerRecord = {
      name: "p1",
      version: "0.1.0",
      slots: 1,
      scores: [],
      address: null,
      lastSeen: T0,
    };
    await store.write((tx) => tx.savePlayers([p2, p1]));
    assertEquals(byName((await store.load()).players), [p1, p2]);
    const p2b = {
      ...p2,
      version: "0.2.0",
      slots: 8,
      scores: [],
      address: "10.0.0.3",
      lastSeen: T0 + 5,
    };
    await store.write((tx) => {
      tx.savePlayers([p2b]);
      tx.touchPlayers([{ name: "p1", at: T0 + 8 }, { name: "p9", at: T0 + 8 }]);
      tx.touchPlayers([{ name: "p1", at: T0 + 9 }]);
    });
    assertEquals(byName((await store.load()).players), [{ ...p1, lastSeen: T0 + 9 }, p2b]);
    const p3: PlayerRecord = { ...p1, name: "p3" };
    await store.write((tx) => {
      tx.savePlayers([p3]);
      tx.touchPlayers([{ name: "p3", at: T0 + 20 }]);
    });
    assertEquals(byName((await store.load()).players).map((p) => [p.name, p.lastSeen]), [
      ["p1", T0 + 9],
      ["p2", T0 + 5],
      ["p3", T0 + 20],
    ]);
  });

  test("a write whose function throws writes nothing", async ({ store }) => {
    const j = jobRecord(1);
    const boom = new Error("boom");
    const err = await assertRejects(() =>
      store.write((tx) => {
        tx.setConductorId("c-1");
        tx.insertJob(j, allOfTasks(j, 1, 1));
        tx.savePlayers([{
          name: "p1",
          version: "1",
          slots: 1,
          scores: [],
          address: null,
          lastSeen: T0,
        }]);
        throw boom;
      })
    );
    assert(err === boom, "the write rejects with what its function threw");
    assertEquals(await store.load(), EMPTY_SNAPSHOT);
    assertEquals(await store.job(1), undefined);
    await store.write((tx) => tx.insertJob(j, allOfTasks(j, 1, 1)));
    assertEquals((await store.load()).tasks.length, 2, "the next write works");
  });

  test("a read never sees a write that has not resolved", async ({ store }) => {
    const j = jobRecord(1, { requestId: "req-1" });
    let resolved = false;
    const seen: { what: string; found: boolean; resolved: boolean }[] = [];
    const look = (what: string, p: Promise<unknown>) =>
      p.then((v) => {
        const found = Array.isArray(v) ? v.length > 0 : v !== undefined;
        seen.push({ what, found, resolved });
      });
    const reads: Promise<void>[] = [];
    const w = store.write((tx) => {
      tx.insertJob(j, allOfTasks(j, 1, 1));
      reads.push(look("job", store.job(1)), look("request", store.jobIdByRequest("req-1")));
      reads.push(look("jobs", store.jobs({ limit: 10 })), look("task", store.task(1, 1)));
    }).then(() => {
      resolved = true;
    });
    await Promise.all([w, ...reads]);
    assertEquals(seen.length, 4);
    for (const s of seen) {
      assert(!s.found || s.resolved, `${s.what} was seen before the write resolved`);
    }
    assertEquals(await store.jobIdByRequest("req-1"), 1);
  });

  test("a task saved with a new queue position or host keeps them, also after a reopen", async (s) => {
    const j = jobRecord(1, { scope: "one", targets: ["p1", "p2"] });
    const t = queuedTask(1, 1, 5, null);
    await s.store.write((tx) => tx.insertJob(j, [t]));
    const a1 = assigned(t, "p1", T0 + 1);
    await s.store.write((tx) => tx.saveTasks([a1]));
    await s.store.write((tx) => tx.saveTasks([running(a1, T0 + 2)]));
    // Back where it was before it was placed: the same queue position, no host.
    const back = { ...a1, state: "queued" as const, host: null, assignedAt: null };
    await s.store.write((tx) => tx.saveTasks([back]));
    assertEquals((await s.store.load()).tasks, [back]);
    const a2 = assigned(back, "p2", T0 + 3);
    await s.store.write((tx) => tx.saveTasks([a2]));
    assertEquals((await s.store.load()).tasks, [a2]);
    const store = await s.reopen();
    assertEquals((await store.load()).tasks, [a2]);
    const again = { ...a2, state: "queued" as const, seq: 7, host: null, assignedAt: null };
    await store.write((tx) => tx.saveTasks([again]));
    assertEquals((await store.load()).tasks, [again]);
    const page = await store.tasks(1, { host: "p2", page: 1, limit: 10 });
    assertEquals(page?.total, 0, "the host filter follows the task");
  });

  test("a task inserted and saved in the same write has its saved image", async ({ store }) => {
    const j = jobRecord(1, { targets: ["p1"] });
    const t = queuedTask(1, 1, 1, "p1");
    const a = assigned(t, "p1", T0 + 1);
    await store.write((tx) => {
      tx.insertJob(j, [t]);
      tx.saveTasks([a]);
    });
    assertEquals((await store.load()).tasks, [a]);
  });

  test("a write of thousands of tasks keeps every one", async ({ store }) => {
    const n = 3_001;
    const targets = Array.from({ length: n }, (_, i) => `h${i}`);
    const j = jobRecord(1, { targets });
    const tasks = allOfTasks(j, 1, 1);
    await store.write((tx) => tx.insertJob(j, tasks));
    const done = tasks.slice(0, 2_777).map((t) => ended(t, "cancelled", T0 + 1, null));
    await store.write((tx) => {
      tx.saveTasks(done);
      tx.addAttempts(
        done.slice(0, 1_234).map((t) => ({
          taskId: t.id,
          attempt: 1,
          player: t.host!,
          state: "rejected",
          assignedAt: T0,
          startedAt: null,
          endedAt: T0,
          error: null,
          result: null,
        })),
      );
    });
    const snap = await store.load();
    assertSameList(snap.tasks, tasks.slice(2_777));
    assertEquals((await store.job(1))?.counts, { cancelled: 2_777, queued: n - 2_777 });
    assertEquals((await store.task(1, 1_234))?.attempts.length, 1);
    assertEquals((await store.task(1, 1_235))?.attempts.length, 0);
  });

  test("jobs are listed newest first with counts per state, paged by id", async ({ store }) => {
    const a = jobRecord(1, { targets: ["p1", "p2", "p3"] });
    const b = jobRecord(2, {
      score: "other",
      scope: "one",
      targets: ["p1", "p2"],
      submittedAt: T0 + 1,
      caller: ALICE,
    });
    const c = jobRecord(3, { targets: ["p1"] });
    await store.write((tx) => {
      tx.insertJob(a, allOfTasks(a, 1, 1));
      tx.insertJob(b, [queuedTask(4, 2, 4, null)]);
      tx.insertJob(c, allOfTasks(c, 5, 5));
    });
    await store.write((tx) => {
      tx.saveTasks([
        ended(queuedTask(1, 1, 1, "p1"), "succeeded", T0, OK),
        ended(queuedTask(2, 1, 2, "p2"), "failed", T0, null),
        ended(queuedTask(5, 3, 5, "p1"), "succeeded", T0, OK),
      ]);
      tx.finishJobs([{ id: 3, at: T0 + 7 }]);
    });
    assertEquals(await store.jobs({ limit: 10 }), [
      {
        id: 3,
        score: "deploy",
        scope: "all",
        host_count: 1,
        submitted_at: T0,
        submitted_by: "local",
        finished_at: T0 + 7,
        aggregate: "success",
        counts: { succeeded: 1 },
        offline: 0,
      },
      {
        id: 2,
        score: "other",
        scope: "one",
        host_count: 2,
        submitted_at: T0 + 1,
        submitted_by: "audience:alice",
        finished_at: null,
        aggregate: "pending",
        counts: { queued: 1 },
        offline: 0,
      },
      {
        id: 1,
        score: "deploy",
        scope: "all",
        host_count: 3,
        submitted_at: T0,
        submitted_by: "local",
        finished_at: null,
        aggregate: "running",
        counts: { succeeded: 1, failed: 1, queued: 1 },
        offline: 0,
      },
    ]);
    assertEquals((await store.jobs({ limit: 1 })).map((j) => j.id), [3]);
    assertEquals((await store.jobs({ limit: 10, before: 3 })).map((j) => j.id), [2, 1]);
    assertEquals((await store.jobs({ limit: 1, before: 2 })).map((j) => j.id), [1]);
    assertEquals(await store.jobs({ limit: 10, before: 1 }), []);
  });

  test("jobs are filtered by state, score, submitter and submit time, newest first", async ({ store }) => {
    const quorum = { quorum: 1, batch: null, max_errors: null, batch_wait_ms: 0 };
    const jobs = [
      jobRecord(1, { targets: ["p1"] }), // success
      jobRecord(2, { score: "other", caller: ALICE, submittedAt: T0 + 10 }), // partial
      jobRecord(3, { targets: ["p1"], submittedAt: T0 + 20 }), // failure
      jobRecord(4, { targets: ["p1"], caller: ALICE, submittedAt: T0 + 30 }), // pending
      jobRecord(5, { targets: ["p1"], submittedAt: T0 + 40 }), // running
      jobRecord(6, { score: "other", submittedAt: T0 + 50, rollout: quorum }), // open, success
    ];
    const tasks = [
      queuedTask(1, 1, 1, "p1"),
      queuedTask(2, 2, 2, "p1"),
      queuedTask(3, 2, 3, "p2"),
      queuedTask(4, 3, 4, "p1"),
      queuedTask(5, 4, 5, "p1"),
      queuedTask(6, 5, 6, "p1"),
      queuedTask(7, 6, 7, "p1"),
      queuedTask(8, 6, 8, "p2"),
    ];
    await store.write((tx) => {
      for (const j of jobs) tx.insertJob(j, tasks.filter((t) => t.jobId === j.id));
    });
    await store.write((tx) => {
      tx.saveTasks([
        ended(tasks[0], "succeeded", T0 + 60, OK),
        ended(tasks[1], "succeeded", T0 + 60, OK),
        ended(tasks[2], "failed", T0 + 60, null),
        ended(tasks[3], "timed_out", T0 + 60, null),
        running(assigned(tasks[5], "p1", T0 + 60), T0 + 61),
        ended(tasks[6], "succeeded", T0 + 60, OK),
        running(assigned(tasks[7], "p2", T0 + 60), T0 + 61),
      ]);
      tx.finishJobs([1, 2, 3].map((id) => ({ id, at: T0 + 70 })));
    });
    const ids = async (q: Omit<JobQuery, "limit">, limit = 10) =>
      (await store.jobs({ limit, ...q })).map((j) => j.id);
    assertEquals(await ids({}), [6, 5, 4, 3, 2, 1]);
    assertEquals(await ids({ state: "success" }), [6, 1]);
    assertEquals(await ids({ state: "partial" }), [2]);
    assertEquals(await ids({ state: "failure" }), [3]);
    assertEquals(await ids({ state: "pending" }), [4]);
    assertEquals(await ids({ state: "running" }), [5]);
    assertEquals(await ids({ state: "open" }), [6, 5, 4]);
    assertEquals(await ids({ state: "finished" }), [3, 2, 1]);
    assertEquals(await ids({ score: "other" }), [6, 2]);
    assertEquals(await ids({ submittedBy: "audience:alice" }), [4, 2]);
    assertEquals(await ids({ since: T0 + 20 }), [6, 5, 4, 3]);
    assertEquals(await ids({ until: T0 + 20 }), [2, 1]);
    assertEquals(await ids({ since: T0 + 10, until: T0 + 40 }), [4, 3, 2]);
    // Combined, and paged: every filter applies, and before moves on from the last id shown.
    assertEquals(await ids({ state: "success", score: "other" }), [6]);
    assertEquals(await ids({ state: "finished", submittedBy: "local" }), [3, 1]);
    assertEquals(await ids({ state: "success" }, 1), [6]);
    assertEquals(await ids({ state: "success", before: 6 }, 1), [1]);
    assertEquals(await ids({ state: "pending", before: 4 }), []);
    assertEquals(await ids({ state: "open", score: "deploy" }, 2), [5, 4]);
    assertEquals(await ids({ score: "none" }), []);
    // The listed aggregate is the one filtered by.
    for (const state of ["success", "partial", "failure", "pending", "running"] as const) {
      for (const j of await store.jobs({ limit: 10, state })) assertEquals(j.aggregate, state);
    }
    await assertRejects(() => store.jobs({ limit: 10, since: 0.5 }), /since 0.5/);
  });

  test("a submit's request id leads to its job, its submitter and its digest", async (s) => {
    const store = s.store;
    await store.write((tx) => {
      tx.insertJob(jobRecord(1, { requestId: "r-1", requestDigest: "abc" }), []);
      tx.insertJob(jobRecord(2, { requestId: "r-2", caller: ALICE }), []);
    });
    assertEquals(await store.jobByRequest("r-1"), {
      id: 1,
      submittedBy: "local",
      digest: "abc",
    });
    assertEquals(await store.jobByRequest("r-2"), {
      id: 2,
      submittedBy: "audience:alice",
      digest: null,
    });
    assertEquals(await store.jobByRequest("r-3"), undefined);
    const reopened = await s.reopen();
    assertEquals((await reopened.jobByRequest("r-1"))?.digest, "abc");
  });

  test("jobs are listed by submitter, and a job's access facts are kept", async ({ store }) => {
    await store.write((tx) => {
      tx.insertJob(jobRecord(1), []);
      tx.insertJob(jobRecord(2, { caller: ALICE, targets: ["p1", "p2", "p3"] }), []);
      tx.insertJob(jobRecord(3), []);
      tx.insertJob(jobRecord(4, { caller: ALICE, score: "other" }), []);
    });
    assertEquals(
      (await store.jobs({ limit: 10, submittedBy: "audience:alice" })).map((j) => j.id),
      [4, 2],
    );
    assertEquals(
      (await store.jobs({ limit: 1, before: 4, submittedBy: "audience:alice" })).map((j) => j.id),
      [2],
    );
    assertEquals((await store.jobs({ limit: 10, submittedBy: "local" })).map((j) => j.id), [3, 1]);
    assertEquals(await store.jobs({ limit: 10, submittedBy: "audience:bob" }), []);
    assertEquals(await store.jobAccess(2), {
      score: "deploy",
      targets: ["p1", "p2", "p3"],
      submittedBy: "audience:alice",
    });
    assertEquals(await store.jobAccess(9), undefined);
  });

  test("audit records are appended in order, listed newest first, filtered, and kept", async (s) => {
    const rec = (at: number, who: string, outcome: "allowed" | "refused") => ({
      at,
      who,
      auth: "client_certificate",
      transport: "https",
      from: "127.0.0.1:5000",
      action: "submit" as const,
      subject: "score deploy on p1",
      job_id: outcome === "allowed" ? 1 : null,
      outcome,
      reason: outcome === "refused" ? "no grant" : null,
    });
    await s.store.write((tx) => {
      tx.addAudit([rec(T0, "audience:alice", "allowed"), rec(T0 + 1, "local:bob", "refused")]);
    });
    await s.store.write((tx) => tx.addAudit([rec(T0 + 2, "audience:alice", "refused")]));
    const all = await s.store.audit({ limit: 10 });
    assertEquals(all.map((r) => [r.id, r.who, r.outcome]), [
      [3, "audience:alice", "refused"],
      [2, "local:bob", "refused"],
      [1, "audience:alice", "allowed"],
    ]);
    assertEquals(all[2], { id: 1, ...rec(T0, "audience:alice", "allowed") });
    assertEquals((await s.store.audit({ limit: 10, who: "audience:alice" })).map((r) => r.id), [
      3,
      1,
    ]);
    assertEquals((await s.store.audit({ limit: 10, since: T0 + 1 })).map((r) => r.id), [3, 2]);
    assertEquals((await s.store.audit({ limit: 1, before: 3 })).map((r) => r.id), [2]);
    const again = await s.reopen();
    assertEquals((await again.audit({ limit: 10 })).length, 3);
  });

  test("schedules are added, marked with their last due time, listed and removed, also after a reopen", async (s) => {
    const nightly: ScheduleRecord = {
      name: "nightly",
      spec: { cron: "0 3 * * *", timezone: null },
      policy: "catch-up-once",
      job: {
        score: "deploy",
        scope: "one",
        targets: ["p1", "p2"],
        params: { A: "1" },
        timeout_ms: null,
        retries: 0,
      },
      owner: ALICE,
      ownerGroups: [],
      createdAt: T0,
      lastDue: null,
      enabled: true,
    };
    const every: ScheduleRecord = {
      ...nightly,
      name: "every-minute",
      spec: { every_ms: 60_000 },
      policy: "skip",
      ownerGroups: ["ops"],
    };
    assertEquals(await s.store.schedules(), []);
    await s.store.write((tx) => {
      tx.addSchedule(nightly);
      tx.addSchedule(every);
    });
    assertEquals(await s.store.schedules(), [every, nightly]);
    // A second schedule of the same name is refused, and the write that tried changes nothing.
    await assertRejects(() =>
      s.store.write((tx) => {
        tx.markScheduleDue("every-minute", T0 + 1);
        tx.addSchedule({ ...nightly, createdAt: T0 + 5 });
      })
    );
    assertEquals(await s.store.schedules(), [every, nightly]);
    await s.store.write((tx) => tx.markScheduleDue("nightly", T0 + 60_000));
    assertEquals((await s.store.schedules())[1].lastDue, T0 + 60_000);
    const again = await s.reopen();
    assertEquals(await again.schedules(), [every, { ...nightly, lastDue: T0 + 60_000 }]);
    await again.write((tx) => tx.removeSchedule("every-minute"));
    assertEquals((await again.schedules()).map((x) => x.name), ["nightly"]);
  });

  /** A write that prunes, resolving with what went. */
  const prune = async (store: ConductorStore, req: PruneRequest): Promise<PruneCount> => {
    let count: PruneCount | undefined;
    await store.write((tx) => tx.pruneFinished(req, (c) => (count = c)));
    assert(count !== undefined, "a prune's counts are told once its write is committed");
    return count;
  };

  /** A finished job of `n` succeeded tasks (ids from `firstTask`), each with `history` attempts before. */
  const finishedJob = (
    tx: WriteTx,
    id: number,
    firstTask: number,
    n: number,
    finishedAt: number,
    history = 0,
    extra: Partial<JobRecord> = {},
  ): void => {
    const targets = Array.from({ length: n }, (_, i) => `p${i + 1}`);
    const job = jobRecord(id, { targets, retries: history, ...extra });
    const tasks = targets.map((host, i) =>
      ended(
        {
          ...assigned(queuedTask(firstTask + i, id, firstTask + i, host), host, T0),
          attempt: 1 + history,
        },
        "succeeded",
        T0 + 1,
        OK,
      )
    );
    tx.insertJob(job, tasks);
    const attempts: AttemptRow[] = [];
    for (const t of tasks) {
      for (let a = 1; a <= history; a++) {
        attempts.push({
          taskId: t.id,
          attempt: a,
          player: t.host!,
          state: "failed",
          assignedAt: T0,
          startedAt: T0,
          endedAt: T0,
          error: null,
          result: { ...OK, exitCode: 1 },
        });
      }
    }
    if (attempts.length > 0) tx.addAttempts(attempts);
    tx.finishJobs([{ id, at: finishedAt }]);
  };

  const audited = (at: number) => ({
    at,
    who: "audience:alice",
    auth: "client_certificate",
    transport: "https",
    from: "127.0.0.1:5000",
    action: "submit" as const,
    subject: "score deploy on p1",
    job_id: 1,
    outcome: "allowed" as const,
    reason: null,
  });

  test("a prune removes only finished jobs before the cutoff, with their tasks and history, and old audit records", async (s) => {
    const cutoff = T0 + 500;
    const hourly: ScheduleRecord = {
      name: "hourly",
      spec: { every_ms: 3_600_000 },
      policy: "skip",
      job: {
        score: "deploy",
        scope: "all",
        targets: ["p1"],
        params: {},
        timeout_ms: null,
        retries: 0,
      },
      owner: ALICE,
      ownerGroups: [],
      createdAt: T0,
      lastDue: T0,
      enabled: true,
    };
    await s.store.write((tx) => {
      tx.addSchedule(hourly);
      // Old and finished, with a history attempt, a secret and a request id: it goes.
      finishedJob(tx, 1, 1, 2, T0 + 10, 1, {
        secrets: { TOKEN: "v1:sealed" },
        params: { A: "1", TOKEN: "x" },
        requestId: "r-1",
        schedule: "hourly",
      });
      // Finished at the cutoff, and after it: they stay.
      finishedJob(tx, 2, 3, 1, cutoff);
      finishedJob(tx, 3, 4, 1, T0 + 1000);
      // Old but open (a task still queued): never pruned.
      const open = jobRecord(4, { targets: ["p1", "p2"], submittedAt: T0 - 1_000_000 });
      tx.insertJob(open, [
        ended(queuedTask(5, 4, 5, "p1"), "succeeded", T0 - 999_000, OK),
        queuedTask(6, 4, 6, "p2"),
      ]);
      tx.addAudit([audited(T0), audited(T0 + 10), audited(T0 + 2000)]);
    });
    // Old, every task final, but not marked finished (a crash between the two): it stays.
    await s.store.write((tx) =>
      tx.insertJob(jobRecord(5, { targets: ["p1"], submittedAt: T0 - 1_000_000 }), [
        ended(queuedTask(7, 5, 7, "p1"), "failed", T0 - 999_000, null),
      ])
    );
    assertEquals(await s.store.prunable(cutoff), { jobs: 1, tasks: 2 });
    const before = await s.store.load();

    const count = await prune(s.store, { before: cutoff, auditBefore: T0 + 1000, maxRows: 100 });
    assertEquals(count, { jobs: 1, tasks: 2, audit: 2, more: false });
    assertEquals(await s.store.job(1), undefined);
    assertEquals(await s.store.tasks(1, { page: 1, limit: 10 }), undefined);
    assertEquals(await s.store.task(1, 1), undefined);
    assertEquals(await s.store.jobAccess(1), undefined);
    assertEquals(await s.store.jobIdByRequest("r-1"), undefined);
    assertEquals((await s.store.jobs({ limit: 10 })).map((j) => j.id), [5, 4, 3, 2]);
    assertEquals((await s.store.audit({ limit: 10 })).map((r) => r.at), [T0 + 2000]);
    assertEquals(await s.store.schedules(), [hourly]);
    assertEquals(await s.store.prunable(cutoff), { jobs: 0, tasks: 0 });
    // The open work is untouched (queue positions in use may narrow: only their order counts).
    assertEquals({ ...await s.store.load(), seqLow: 0 }, { ...before, seqLow: 0 });
    // Nothing of job 1 is left: the same ids, attempts included, can be written again.
    await s.store.write((tx) => finishedJob(tx, 1, 1, 2, T0 + 10, 1));
    assertEquals((await s.store.job(1))?.task_count, 2);

    // However old the cutoff, an open job (or one not marked finished) never goes.
    const all = await prune(s.store, { before: T0 + 1e12, auditBefore: null, maxRows: 100 });
    assertEquals(all, { jobs: 3, tasks: 4, audit: 0, more: false });
    assertEquals((await s.store.jobs({ limit: 10 })).map((j) => j.id), [5, 4]);
    assertEquals((await s.store.load()).tasks, before.tasks);
    const again = await s.reopen();
    assertEquals((await again.jobs({ limit: 10 })).map((j) => j.id), [5, 4]);
    assertEquals((await again.audit({ limit: 10 })).length, 1);
  });

  test("a prune keeps to its bound of rows: a big job goes over several prunes, hidden from views meanwhile", async (s) => {
    await s.store.write((tx) => {
      finishedJob(tx, 1, 1, 10, T0, 1); // 1 + 10 tasks + 10 attempts = 21 rows
      finishedJob(tx, 2, 11, 1, T0 + 1); // 2 rows
      finishedJob(tx, 3, 12, 1, T0 + 2); // 2 rows
      tx.addAudit([audited(T0), audited(T0 + 1)]);
    });
    const req = { before: T0 + 100, auditBefore: T0 + 100, maxRows: 5 };
    const first = await prune(s.store, req);
    // Job 1 does not fit: two of its tasks (and their attempts) go, and it is no longer shown.
    assertEquals(first, { jobs: 0, tasks: 2, audit: 0, more: true });
    assertEquals(await s.store.job(1), undefined);
    assertEquals(await s.store.tasks(1, { page: 1, limit: 10 }), undefined);
    assertEquals(await s.store.task(1, 10), undefined);
    assertEquals(await s.store.jobAccess(1), undefined);
    assertEquals((await s.store.jobs({ limit: 10 })).map((j) => j.id), [3, 2]);
    assertEquals((await s.store.job(2))?.task_count, 1);
    // A reopened store goes on with the job it started on before any other.
    const store = await s.reopen();
    const counts = [first];
    for (let i = 0; i < 20 && counts.at(-1)!.more; i++) counts.push(await prune(store, req));
    assertEquals(counts.at(-1)!.more, false);
    for (const c of counts) {
      // Rows: each task of job 1 has one attempt; the others' tasks have none.
      assert(
        c.jobs + 2 * c.tasks + c.audit <= 5 + 2,
        `a prune went over its bound: ${JSON.stringify(c)}`,
      );
    }
    const sum = (k: "jobs" | "tasks" | "audit") => counts.reduce((n, c) => n + c[k], 0);
    assertEquals([sum("jobs"), sum("tasks"), sum("audit")], [3, 12, 2]);
    // Job 1 was finished off before jobs 2 and 3 were started on.
    const firstOfJob1Done = counts.findIndex((c) => c.jobs > 0);
    assertEquals(counts[firstOfJob1Done].jobs, 1);
    assertEquals(await store.jobs({ limit: 10 }), []);
    assertEquals(await store.prunable(T0 + 100), { jobs: 0, tasks: 0 });
    assertEquals(await store.audit({ limit: 10 }), []);
    // Ids are never used again, though the jobs and tasks that had them are gone.
    const snap = await (await s.reopen()).load();
    assertEquals([snap.maxJobId, snap.maxTaskId], [3, 12]);
  });

  test("a job made by a schedule names it, in the same write as the schedule's last due time", async (s) => {
    await s.store.write((tx) => {
      tx.addSchedule({
        name: "hourly",
        spec: { every_ms: 3_600_000 },
        policy: "skip",
        job: {
          score: "deploy",
          scope: "all",
          targets: ["p1"],
          params: {},
          timeout_ms: null,
          retries: 0,
        },
        owner: ALICE,
        ownerGroups: [],
        createdAt: T0,
        lastDue: null,
        enabled: true,
      });
    });
    const j = jobRecord(1, { targets: ["p1"], schedule: "hourly", caller: ALICE });
    await s.store.write((tx) => {
      tx.insertJob(j, [queuedTask(1, 1, 1, "p1")]);
      tx.markScheduleDue("hourly", T0 + 3_600_000);
    });
    assertEquals((await s.store.job(1))?.schedule, "hourly");
    assertEquals((await s.store.load()).jobs, [j]);
    assertEquals((await s.store.schedules())[0].lastDue, T0 + 3_600_000);
    await s.store.write((tx) =>
      tx.insertJob(jobRecord(2, { targets: ["p1"] }), [queuedTask(2, 2, 2, "p1")])
    );
    assertEquals((await s.store.job(2))?.schedule, null);
  });
}
