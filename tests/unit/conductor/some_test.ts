/**
 * N-of jobs in-process: N tasks on distinct targets, free ones first; a
 * target that refuses replaced by an unused one; the offline wait on the
 * driven clock.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { inProcessConductor, settle } from "../../_helpers/in_process.ts";
import { tempDir } from "../../_helpers/proc.ts";
import { TestPlayer } from "../../_helpers/test_player.ts";
import { scoreInfo, submitRequest } from "../../_helpers/requests.ts";
import { decodeSubmit, LOCAL_CALLER, type TaskView } from "../../../lib/protocol/mod.ts";
import { SqliteStore } from "../../../lib/store/mod.ts";

const job = submitRequest;

/** A conductor listing `names`; the players of `online` join with `slots` each. */
async function cluster(names: string[], online: string[], slots = 1) {
  const dir = await tempDir();
  const h = await inProcessConductor({
    players: names,
    store: SqliteStore.open(join(dir.path, "conductor.db"), { create: true }),
  });
  const players = new Map<string, TestPlayer>();
  for (const n of online) {
    const p = new TestPlayer(h.conductor, n);
    await p.join({ slots });
    players.set(n, p);
  }
  return {
    h,
    p: (n: string) => players.get(n)!,
    async tasks(id: number): Promise<TaskView[]> {
      return (await h.conductor.service.tasks(id, { page: 1, limit: 100 }))!.tasks;
    },
    async [Symbol.asyncDispose]() {
      await h[Symbol.asyncDispose]();
      await dir[Symbol.asyncDispose]();
    },
  };
}

Deno.test("some: decoded with scope all only; an offline wait needs it; a count above the targets is refused", async () => {
  const base = { score: "hello", targets: ["a", "b", "c"] };
  const d = decodeSubmit({ ...base, scope: "all", some: { count: 2 } });
  assertEquals(d.some, { count: 2 });
  assertEquals(d.offline_wait_ms, 300_000);
  const refusal = (v: unknown) => {
    try {
      decodeSubmit(v);
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };
  assert(refusal({ ...base, scope: "one", some: { count: 2 } }).startsWith("some: "));
  assert(refusal({ ...base, scope: "all", offline_wait_ms: 5 }).startsWith("offline_wait_ms: "));
  await using c = await cluster(["a", "b", "c"], ["a"]);
  let refused = "";
  try {
    await c.h.conductor.service.submit(
      job("all", ["a", "b", "c"], { some: { count: 4 } }),
      LOCAL_CALLER,
    );
  } catch (e) {
    refused = (e as Error).message;
  }
  assertEquals(refused, "some: 4 is more than the 3 targets chosen");
});

Deno.test("N-of places its tasks on distinct targets, free ones first, in the order given", async () => {
  // Each player could take two tasks: only the rule of distinct targets keeps them apart.
  await using c = await cluster(["p1", "p2", "p3", "p4"], ["p1", "p2", "p3", "p4"], 2);
  const id = await c.h.conductor.service.submit(
    job("all", ["p1", "p2", "p3", "p4"], { some: { count: 3 } }),
    LOCAL_CALLER,
  );
  await settle();
  const counts = ["p1", "p2", "p3", "p4"].map((n) => c.p(n).received("assign").length);
  assertEquals(counts, [1, 1, 1, 0]);
  for (const n of ["p1", "p2", "p3"]) c.p(n).run(c.p(n).received("assign")[0]);
  await settle();
  await settle();
  const view = await c.h.conductor.service.job(id);
  assertEquals(view?.counts, { succeeded: 3 });
  assertEquals(view?.aggregate, "success");
  assertEquals(c.p("p4").received("assign").length, 0);
});

Deno.test("N-of: a busy target is passed over for a free one", async () => {
  await using c = await cluster(["p1", "p2", "p3"], ["p1", "p2", "p3"]);
  await c.h.conductor.service.submit(job("all", ["p1"]), LOCAL_CALLER);
  const busy = await c.p("p1").next("assign");
  const id = await c.h.conductor.service.submit(
    job("all", ["p1", "p2", "p3"], { some: { count: 2 } }),
    LOCAL_CALLER,
  );
  await settle();
  assertEquals((await c.p("p2").next("assign")).job_id, id);
  assertEquals((await c.p("p3").next("assign")).job_id, id);
  c.p("p1").run(busy);
  await settle();
  assertEquals(c.p("p1").received("assign").length, 1, "p1 never gets a task of the N-of job");
});

Deno.test("N-of: a task refused moves to an unused target; none left fails it naming each tried", async () => {
  await using c = await cluster(["p1", "p2", "p3"], ["p1", "p2", "p3"]);
  const id = await c.h.conductor.service.submit(
    job("all", ["p1", "p2", "p3"], { some: { count: 2 } }),
    LOCAL_CALLER,
  );
  const a1 = await c.p("p1").next("assign");
  const a2 = await c.p("p2").next("assign");
  assertEquals(c.p("p3").received("assign").length, 0);
  c.p("p1").send({
    type: "reject",
    task_id: a1.task_id,
    attempt: a1.attempt,
    code: "cannot_start",
    message: "no room",
  });
  const a3 = await c.p("p3").next("assign");
  assertEquals(a3.task_id, a1.task_id, "the refused task moved to the unused target");
  // p3 refuses too: p2 is the job's other task's, so nothing is left.
  c.p("p3").send({
    type: "reject",
    task_id: a3.task_id,
    attempt: a3.attempt,
    code: "cannot_start",
    message: "no room either",
  });
  await settle();
  c.p("p2").run(a2);
  await settle();
  await settle();
  assertEquals(c.p("p2").received("assign").length, 1);
  assertEquals(c.p("p1").received("assign").length, 1);
  const tasks = await c.tasks(id);
  const failed = tasks.find((t) => t.id === a1.task_id)!;
  assertEquals(failed.state, "rejected");
  assert(failed.reason!.includes("p1 (cannot_start: no room)"), failed.reason!);
  assert(failed.reason!.includes("p3 (cannot_start: no room either)"), failed.reason!);
  assertEquals((await c.h.conductor.service.job(id))?.aggregate, "partial");
});

Deno.test("N-of with a quorum: one task failing still reaches a quorum of the others", async () => {
  await using c = await cluster(["p1", "p2", "p3"], ["p1", "p2", "p3"]);
  const id = await c.h.conductor.service.submit(
    job("all", ["p1", "p2", "p3"], { some: { count: 3 }, quorum: 2 }),
    LOCAL_CALLER,
  );
  c.p("p1").run(await c.p("p1").next("assign"), "failed");
  c.p("p2").run(await c.p("p2").next("assign"));
  c.p("p3").run(await c.p("p3").next("assign"));
  await settle();
  await settle();
  assertEquals((await c.h.conductor.service.job(id))?.aggregate, "success");
});

Deno.test("N-of: a task waiting for offline targets moves on after the job's offline wait", async () => {
  // p1 is online; p2 and p3 are listed but never connect.
  await using c = await cluster(["p1", "p2", "p3"], ["p1"]);
  const id = await c.h.conductor.service.submit(
    job("all", ["p2", "p1", "p3"], { some: { count: 2 }, offline_wait_ms: 60_000 }),
    LOCAL_CALLER,
  );
  const a1 = await c.p("p1").next("assign");
  await settle();
  c.h.clock.advance(59_999);
  await settle();
  let waiting = (await c.tasks(id)).find((t) => t.id !== a1.task_id)!;
  assertEquals(waiting.state, "queued", "not before the wait is over");
  // p2 comes back in time: the waiting task goes there.
  const p2 = new TestPlayer(c.h.conductor, "p2");
  await p2.join();
  const a2 = await p2.next("assign");
  assertEquals(a2.task_id, waiting.id);
  // It refuses: only p3 is left, offline since the start, so after the wait the task fails.
  p2.send({
    type: "reject",
    task_id: a2.task_id,
    attempt: a2.attempt,
    code: "cannot_start",
    message: "no room",
  });
  await settle();
  c.h.clock.advance(59_999);
  await settle();
  waiting = (await c.tasks(id)).find((t) => t.id === a2.task_id)!;
  assertEquals(waiting.state, "queued", "the wait counts from its return to the queue");
  c.h.clock.advance(1);
  await settle();
  waiting = (await c.tasks(id)).find((t) => t.id === a2.task_id)!;
  assertEquals(waiting.state, "rejected");
  assert(waiting.reason!.includes("p2 (cannot_start: no room)"), waiting.reason!);
  assert(waiting.reason!.includes("p3 (offline: offline for longer"), waiting.reason!);
  c.p("p1").run(a1);
  await settle();
  await settle();
  assertEquals((await c.h.conductor.service.job(id))?.counts, { succeeded: 1, rejected: 1 });
});

Deno.test("N-of with offline wait 0 waits for an offline target for ever", async () => {
  await using c = await cluster(["p1", "p2"], ["p1"]);
  const id = await c.h.conductor.service.submit(
    job("all", ["p1", "p2"], { some: { count: 2 }, offline_wait_ms: 0 }),
    LOCAL_CALLER,
  );
  c.p("p1").run(await c.p("p1").next("assign"));
  await settle();
  c.h.clock.advance(30 * 86_400_000);
  await settle();
  const p2 = new TestPlayer(c.h.conductor, "p2");
  await p2.join();
  p2.run(await p2.next("assign"));
  await settle();
  await settle();
  assertEquals((await c.h.conductor.service.job(id))?.aggregate, "success");
});

Deno.test("N-of: a target a finished slot ran on stays taken across a restart", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "conductor.db");
  const names = ["p1", "p2", "p3"];
  let id: number;
  {
    await using h = await inProcessConductor({
      players: names,
      store: SqliteStore.open(db, { create: true }),
    });
    const p1 = new TestPlayer(h.conductor, "p1");
    await p1.join({ slots: 1 });
    id = await h.conductor.service.submit(
      job("all", names, { some: { count: 2 }, offline_wait_ms: 0 }),
      LOCAL_CALLER,
    );
    p1.run(await p1.next("assign"));
    await settle();
  }
  await using h = await inProcessConductor({ players: names, store: SqliteStore.open(db) });
  const p1 = new TestPlayer(h.conductor, "p1");
  await p1.join({ slots: 1 });
  await settle();
  // p1 is free, but it ran one of the job's slots: the other waits for p2 or p3.
  assertEquals(p1.received("assign").length, 0);
  const p2 = new TestPlayer(h.conductor, "p2");
  await p2.join({ slots: 1 });
  const a = await p2.next("assign");
  assertEquals(a.job_id, id);
});

Deno.test("N-of: a slot that failed runs again (its retry) where it ran, and the job finishes", async () => {
  await using dir = await tempDir();
  const names = ["p1", "p2"];
  await using h = await inProcessConductor({
    players: names,
    store: SqliteStore.open(join(dir.path, "conductor.db"), { create: true }),
    retryBackoffMs: 1000,
  });
  const ps = names.map((n) => new TestPlayer(h.conductor, n));
  for (const p of ps) {
    await p.join({ slots: 1, scores: [scoreInfo("hello", { idempotent: true })] });
  }
  const id = await h.conductor.service.submit(
    job("all", names, { some: { count: 2 }, retries: 1 }),
    LOCAL_CALLER,
  );
  const [a1, a2] = [await ps[0].next("assign"), await ps[1].next("assign")];
  ps[1].run(a2);
  ps[0].run(a1, "failed");
  await settle();
  h.clock.advance(1000);
  await settle();
  // Every target is used by one of the job's slots: the retry may only go back where it ran.
  const again = await ps[0].next("assign");
  assertEquals([again.task_id, again.attempt], [a1.task_id, 2]);
  ps[0].run(again);
  await settle();
  assertEquals((await h.conductor.service.job(id))?.aggregate, "success");
});
