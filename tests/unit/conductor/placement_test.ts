/**
 * The conductor's placement order, retries and deadlines, in-process: test
 * players over the link seam, time on a manual clock.
 */

import { assert, assertEquals } from "../../_helpers/assert.ts";
import { inProcessConductor, settle } from "../../_helpers/in_process.ts";
import { TestPlayer } from "../../_helpers/test_player.ts";
import { LOCAL_CALLER } from "../../../lib/protocol/mod.ts";
import { scoreInfo, submitRequest } from "../../_helpers/requests.ts";
import type { ConductorEvent } from "../../../lib/conductor/mod.ts";

const job = submitRequest;

Deno.test("a player runs its tasks in submission order, one per free slot", async () => {
  await using h = await inProcessConductor({ players: ["p1"] });
  const p1 = new TestPlayer(h.conductor, "p1");
  await p1.join({ slots: 1 });
  const ids = [];
  for (let i = 0; i < 3; i++) {
    ids.push(await h.conductor.service.submit(job("all", ["p1"]), LOCAL_CALLER));
  }
  for (const id of ids) {
    const a = await p1.next("assign");
    assertEquals(a.job_id, id);
    await settle();
    // One slot: nothing else is sent until this one is done.
    assertEquals(p1.received("assign").length, ids.indexOf(id) + 1);
    p1.run(a);
  }
});

Deno.test("a one-of task goes to the first free target in the order given", async () => {
  await using h = await inProcessConductor({ players: ["p1", "p2", "p3"] });
  const players = ["p1", "p2", "p3"].map((n) => new TestPlayer(h.conductor, n));
  for (const p of players) await p.join({ slots: 1 });
  const [p1, p2, p3] = players;
  await h.conductor.service.submit(job("one", ["p3", "p2", "p1"]), LOCAL_CALLER);
  const first = await p3.next("assign");
  // p3 is now full: the next one-of job with the same order goes to p2.
  await h.conductor.service.submit(job("one", ["p3", "p2", "p1"]), LOCAL_CALLER);
  await p2.next("assign");
  assertEquals(p1.received("assign").length, 0);
  p3.run(first);
  await settle();
  assertEquals(p1.received("assign").length, 0);
});

Deno.test("a refused one-of task goes back to the head of the queue, ahead of later work", async () => {
  await using h = await inProcessConductor({ players: ["p1", "p2"] });
  const p1 = new TestPlayer(h.conductor, "p1");
  const p2 = new TestPlayer(h.conductor, "p2");
  await p1.join({ slots: 1 });
  await p2.join({ slots: 1 });
  // p2 is kept busy, so that work queues up behind it.
  const busy = await h.conductor.service.submit(job("all", ["p2"]), LOCAL_CALLER);
  const busyTask = await p2.next("assign");
  assertEquals(busyTask.job_id, busy);
  const oneOf = await h.conductor.service.submit(job("one", ["p1", "p2"]), LOCAL_CALLER);
  const later = await h.conductor.service.submit(job("all", ["p2"]), LOCAL_CALLER);
  const refused = await p1.next("assign");
  assertEquals(refused.job_id, oneOf);
  p1.send({
    type: "reject",
    task_id: refused.task_id,
    attempt: refused.attempt,
    code: "unknown_score",
    message: "no score hello here",
  });
  await settle();
  p2.run(busyTask);
  // The refused one-of task, though submitted after nothing, now goes first on p2.
  const next = await p2.next("assign");
  assertEquals(next.job_id, oneOf);
  assertEquals(next.attempt, 2);
  p2.run(next);
  assertEquals((await p2.next("assign")).job_id, later);
});

Deno.test("a task of a player that did not announce the score is refused there without sending it", async () => {
  await using h = await inProcessConductor({ players: ["p1", "p2"] });
  const p1 = new TestPlayer(h.conductor, "p1");
  const p2 = new TestPlayer(h.conductor, "p2");
  await p1.join({ slots: 1, scores: [scoreInfo("other")] });
  await p2.join({ slots: 1 });
  await h.conductor.service.submit(job("one", ["p1", "p2"]), LOCAL_CALLER);
  await p2.next("assign");
  assertEquals(p1.received("assign").length, 0);
});

Deno.test("retry waits double with each failure, on the conductor's clock", async () => {
  await using h = await inProcessConductor({ players: ["p1"], retryBackoffMs: 1000 });
  const p1 = new TestPlayer(h.conductor, "p1");
  await p1.join({ slots: 1, scores: [scoreInfo("hello", { idempotent: true })] });
  await h.conductor.service.submit(job("all", ["p1"], { retries: 3 }), LOCAL_CALLER);
  let a = await p1.next("assign");
  for (const wait of [1000, 2000, 4000]) {
    p1.run(a, "failed");
    await settle();
    h.clock.advance(wait - 1);
    await settle();
    assertEquals(p1.received("assign").length, a.attempt, `no retry before ${wait}ms`);
    h.clock.advance(1);
    a = await p1.next("assign");
  }
  assertEquals(a.attempt, 4);
});

Deno.test("a queued task whose deadline passes ends expired, on the conductor's clock", async () => {
  await using h = await inProcessConductor({ players: ["p1", "p2"] });
  // p2 makes the score known; p1, the target, is away.
  await new TestPlayer(h.conductor, "p2").join();
  const events: ConductorEvent[] = [];
  const sub = h.conductor.events.subscribe({ types: ["task.finished", "job.finished"] });
  (async () => {
    for (let e = await sub.next(); e; e = await sub.next()) events.push(e);
  })();
  const deadline = h.clock.now() + 60_000;
  const id = await h.conductor.service.submit(job("all", ["p1"], { deadline }), LOCAL_CALLER);
  h.clock.advance(60_000);
  await settle();
  assertEquals(events.length, 0, "not before the deadline");
  h.clock.advance(1);
  await settle();
  assertEquals(events.map((e) => e.type), ["task.finished", "job.finished"]);
  assert(events[0].type === "task.finished" && events[0].state === "expired");
  assert(events[1].type === "job.finished" && events[1].job === id);
  sub.close();
  // A player that comes later is given nothing.
  const p1 = new TestPlayer(h.conductor, "p1");
  await p1.join();
  await settle();
  assertEquals(p1.received("assign").length, 0);
});

Deno.test("a player gone longer than lost_after has its tasks ended interrupted, on the clock", async () => {
  await using h = await inProcessConductor({ players: ["p1"], lostAfterMs: 30_000 });
  const p1 = new TestPlayer(h.conductor, "p1");
  await p1.join();
  await h.conductor.service.submit(job("all", ["p1"]), LOCAL_CALLER);
  const a = await p1.next("assign");
  p1.send({ type: "accept", task_id: a.task_id, attempt: a.attempt, started_at: Date.now() });
  await settle();
  const sub = h.conductor.events.subscribe({ types: ["task.finished"] });
  p1.disconnect();
  h.clock.advance(29_999);
  await settle();
  h.clock.advance(1);
  const e = await sub.next();
  assert(e?.type === "task.finished");
  assertEquals(e.state, "interrupted");
  sub.close();
});

Deno.test("an all-of job wider than one turn's placements reaches every player, each once", async () => {
  const names = Array.from({ length: 2500 }, (_, i) => `p${i}`);
  await using h = await inProcessConductor({ players: names });
  const players = names.map((n) => new TestPlayer(h.conductor, n));
  await Promise.all(players.map((p) => p.join()));
  const id = await h.conductor.service.submit(job("all", names), LOCAL_CALLER);
  const assigns = await Promise.all(players.map((p) => p.next("assign")));
  assertEquals(new Set(assigns.map((a) => a.task_id)).size, names.length);
  assert(assigns.every((a) => a.job_id === id && a.attempt === 1));
  await settle();
  assertEquals(players.reduce((n, p) => n + p.received("assign").length, 0), names.length);
});

Deno.test("a player that refused a one-of task as busy takes work again after its ready, and can reconnect", async () => {
  await using h = await inProcessConductor({ players: ["p1", "p2"] });
  let p1 = new TestPlayer(h.conductor, "p1");
  const p2 = new TestPlayer(h.conductor, "p2");
  await p1.join({ slots: 1 });
  await p2.join({ slots: 1 });
  await h.conductor.service.submit(job("one", ["p1", "p2"]), LOCAL_CALLER);
  const a = await p1.next("assign");
  p1.send({
    type: "reject",
    task_id: a.task_id,
    attempt: a.attempt,
    code: "busy",
    message: "full",
  });
  // Back at the head; p1 holds back until its next ready, so p2 runs it.
  p2.run(await p2.next("assign"));
  await p2.next("result_ack");
  p1.send({ type: "ready", slots: 1 });
  const later = await h.conductor.service.submit(job("all", ["p1"]), LOCAL_CALLER);
  assertEquals((await p1.next("assign")).job_id, later);
  p1.disconnect();
  await settle();
  p1 = new TestPlayer(h.conductor, "p1");
  await p1.join({ slots: 1 });
  assertEquals(p1.closedBecause, null);
});

Deno.test("a player taken off the players file and listed again finds the one-of task still waiting for it", async () => {
  await using h = await inProcessConductor({ players: ["x", "y", "z"] });
  const file = `${h.dir}/players`;
  await new TestPlayer(h.conductor, "z").join({ slots: 0 });
  const id = await h.conductor.service.submit(job("one", ["x", "y"]), LOCAL_CALLER);
  await Deno.writeTextFile(file, "y\nz\n");
  await h.conductor.reload();
  await Deno.writeTextFile(file, "x\ny\nz\n");
  await h.conductor.reload();
  const x = new TestPlayer(h.conductor, "x");
  await x.join();
  assertEquals((await x.next("assign")).job_id, id);
});
