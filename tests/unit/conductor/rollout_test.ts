/**
 * Rollout rules in-process: quorums, batches, error budgets and the wait
 * between batches, with test players over the link seam and time on a
 * manual clock.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { inProcessConductor, settle } from "../../_helpers/in_process.ts";
import { tempDir } from "../../_helpers/proc.ts";
import { TestPlayer } from "../../_helpers/test_player.ts";
import { submitRequest } from "../../_helpers/requests.ts";
import { aggregateOfCounts, LOCAL_CALLER, rolloutOf } from "../../../lib/protocol/mod.ts";
import { SqliteStore } from "../../../lib/store/mod.ts";

const job = submitRequest;

async function cluster(names: string[], slots = 1) {
  const dir = await tempDir();
  const h = await inProcessConductor({
    players: names,
    store: SqliteStore.open(join(dir.path, "conductor.db"), { create: true }),
  });
  const players = names.map((n) => new TestPlayer(h.conductor, n));
  for (const p of players) await p.join({ slots });
  return {
    h,
    players,
    async [Symbol.asyncDispose]() {
      await h[Symbol.asyncDispose]();
      await dir[Symbol.asyncDispose]();
    },
  };
}

Deno.test("quorum arithmetic: success at M succeeded, failure once M cannot be reached", () => {
  assertEquals(aggregateOfCounts({ succeeded: 2, running: 1 }, 2), "success");
  assertEquals(aggregateOfCounts({ succeeded: 1, failed: 2, queued: 1 }, 3), "failure");
  assertEquals(aggregateOfCounts({ succeeded: 1, failed: 1, queued: 1 }, 2), "running");
  assertEquals(aggregateOfCounts({ queued: 3 }, 2), "pending");
  assertEquals(aggregateOfCounts({ succeeded: 2, skipped: 2 }, 2), "success");
  assertEquals(aggregateOfCounts({ succeeded: 1, failed: 1, skipped: 2 }, 2), "failure");
  // Without a quorum, skipped tasks count as not succeeded.
  assertEquals(aggregateOfCounts({ succeeded: 2, skipped: 2 }), "partial");
});

Deno.test("amounts resolve against the task count; a quorum above it is refused", () => {
  const r = rolloutOf(
    job("all", ["a", "b", "c", "d", "e", "f"], {
      batch: { percent: 34 },
      max_errors: { percent: 10 },
    }),
    6,
  );
  assertEquals(r, { quorum: null, batch: 3, max_errors: 1, batch_wait_ms: 0 });
  let refused = "";
  try {
    rolloutOf(job("all", ["a", "b"], { quorum: 3 }), 2);
  } catch (e) {
    refused = (e as Error).message;
  }
  assertEquals(refused, "quorum: 3 is more than the job's 2 tasks");
});

Deno.test("a quorum reached ends the job's queued tasks skipped; the aggregate is success", async () => {
  await using c = await cluster(["p1", "p2", "p3", "p4"]);
  const [p1, p2, p3, p4] = c.players;
  // p3 and p4 are kept busy, so that their tasks of the job stay queued.
  const busy = await c.h.conductor.service.submit(job("all", ["p3", "p4"]), LOCAL_CALLER);
  const b3 = await p3.next("assign");
  const b4 = await p4.next("assign");
  assertEquals(b3.job_id, busy);
  const id = await c.h.conductor.service.submit(
    job("all", ["p1", "p2", "p3", "p4"], { quorum: 2 }),
    LOCAL_CALLER,
  );
  p1.run(await p1.next("assign"));
  await settle();
  assertEquals((await c.h.conductor.service.job(id))?.aggregate, "running");
  p2.run(await p2.next("assign"));
  await settle();
  await settle();
  const view = await c.h.conductor.service.job(id);
  assertEquals(view?.counts, { succeeded: 2, skipped: 2 });
  assertEquals(view?.aggregate, "success");
  assert(view?.finished_at !== null);
  p3.run(b3);
  p4.run(b4);
  await settle();
  assertEquals(p3.received("assign").length, 1, "nothing of the job went to p3");
});

Deno.test("a quorum made impossible ends the queued tasks skipped; the aggregate is failure", async () => {
  await using c = await cluster(["p1", "p2", "p3"]);
  const [p1, p2, p3] = c.players;
  const busy = await c.h.conductor.service.submit(job("all", ["p3"]), LOCAL_CALLER);
  const b3 = await p3.next("assign");
  assertEquals(b3.job_id, busy);
  const id = await c.h.conductor.service.submit(
    job("all", ["p1", "p2", "p3"], { quorum: 3 }),
    LOCAL_CALLER,
  );
  p1.run(await p1.next("assign"), "failed");
  await settle();
  await settle();
  const view = await c.h.conductor.service.job(id);
  // p2's task had been sent already: it runs to its end; p3's, still queued, is skipped.
  assertEquals(view?.counts, { failed: 1, assigned: 1, skipped: 1 });
  assertEquals(view?.aggregate, "failure");
  p2.run(await p2.next("assign"));
  await settle();
  await settle();
  const done = await c.h.conductor.service.job(id);
  assertEquals(done?.aggregate, "failure");
  assertEquals(done?.counts, { failed: 1, succeeded: 1, skipped: 1 });
});

Deno.test("a batch of 2 never has more than 2 tasks of the job out at once, batch after batch", async () => {
  const names = ["p1", "p2", "p3", "p4", "p5", "p6"];
  await using c = await cluster(names);
  const id = await c.h.conductor.service.submit(
    job("all", names, { batch: { count: 2 } }),
    LOCAL_CALLER,
  );
  const sent = () => c.players.flatMap((p) => p.received("assign"));
  for (let batch = 1; batch <= 3; batch++) {
    await settle();
    const out = sent().slice((batch - 1) * 2);
    assertEquals(out.length, 2, `batch ${batch} sends two tasks`);
    await settle();
    assertEquals((await c.h.conductor.service.job(id))?.rollout?.batch, batch);
    // One of the two ends: the next batch waits for the other.
    const [first, second] = out;
    c.players.find((p) => p.received("assign").includes(first))!.run(first);
    await settle();
    assertEquals(sent().length, batch * 2, "nothing more while the batch runs");
    c.players.find((p) => p.received("assign").includes(second))!.run(second);
  }
  await settle();
  await settle();
  const view = await c.h.conductor.service.job(id);
  assertEquals(view?.aggregate, "success");
  assertEquals(view?.rollout, { batch: 3, batches: 3, errors: 0, errors_allowed: null });
});

Deno.test("the wait between batches runs on the conductor's clock", async () => {
  await using c = await cluster(["p1", "p2"]);
  const [p1, p2] = c.players;
  await c.h.conductor.service.submit(
    job("all", ["p1", "p2"], { batch: { count: 1 }, batch_wait_ms: 60_000 }),
    LOCAL_CALLER,
  );
  p1.run(await p1.next("assign"));
  await settle();
  c.h.clock.advance(59_999);
  await settle();
  assertEquals(p2.received("assign").length, 0, "not before the wait is over");
  c.h.clock.advance(1);
  await p2.next("assign");
});

Deno.test("max-errors stops a rollout: no new task starts, the rest end skipped", async () => {
  const names = ["p1", "p2", "p3", "p4", "p5"];
  await using c = await cluster(names);
  const id = await c.h.conductor.service.submit(
    job("all", names, { batch: { count: 2 }, max_errors: { count: 2 } }),
    LOCAL_CALLER,
  );
  const [p1, p2, p3, p4, p5] = c.players;
  p1.run(await p1.next("assign"), "failed");
  p2.run(await p2.next("assign"));
  const a3 = await p3.next("assign");
  const a4 = await p4.next("assign");
  a3 && p3.run(a3, "failed");
  await settle();
  await settle();
  let view = await c.h.conductor.service.job(id);
  // p4's task was started with its batch and runs to its end; p5's never starts.
  assertEquals(view?.counts, { failed: 2, succeeded: 1, assigned: 1, skipped: 1 });
  assertEquals(view?.rollout, { batch: 2, batches: 3, errors: 2, errors_allowed: 2 });
  p4.run(a4);
  await settle();
  await settle();
  view = await c.h.conductor.service.job(id);
  assertEquals(view?.aggregate, "partial");
  assertEquals(p5.received("assign").length, 0);
});

Deno.test("a cancel that makes a quorum unreachable ends each queued task once", async () => {
  // Targets listed but never connected: every task stays queued until the cancel.
  await using c = await cluster(["p0"]);
  await Deno.writeTextFile(join(c.h.dir, "players"), "p0\nq1\nq2\nq3\n");
  await c.h.conductor.reload();
  const sub = c.h.conductor.events.subscribe({ types: ["task.finished"] });
  const id = await c.h.conductor.service.submit(
    job("all", ["q1", "q2", "q3"], { quorum: 2 }),
    LOCAL_CALLER,
  );
  await c.h.conductor.service.cancel(id, LOCAL_CALLER);
  await settle();
  sub.close();
  const events: string[] = [];
  for (let e = await sub.next(); e !== undefined; e = await sub.next()) {
    if (e.type === "task.finished") events.push(`${e.task}:${e.state}`);
  }
  // Each task ended once, and what was published is what was stored.
  assertEquals(events.length, 3, events.join(" "));
  assertEquals(new Set(events.map((e) => e.split(":")[0])).size, 3);
  const v = await c.h.conductor.service.job(id);
  const stored = Object.entries(v?.counts ?? {}).flatMap(([k, n]) => Array(n).fill(k)).sort();
  assertEquals(stored, events.map((e) => e.split(":")[1]).sort());
});
