/**
 * Nothing is acted on before it is committed; a failed commit stops the
 * conductor in order; a returning player's journal is reconciled. In-process,
 * with a store whose commits the test holds back or makes fail.
 */

import { assert, assertEquals, assertMatch, assertRejects } from "../../_helpers/assert.ts";
import { inProcessConductor, settle } from "../../_helpers/in_process.ts";
import { ControlledStore } from "../../_helpers/store.ts";
import { TestPlayer } from "../../_helpers/test_player.ts";
import { LOCAL_CALLER } from "../../../lib/protocol/mod.ts";
import { submitRequest } from "../../_helpers/requests.ts";
import { OrchError } from "../../../lib/errors.ts";

const HELLO_ON_P1 = submitRequest("all", ["p1"]);

Deno.test("a result is acknowledged strictly after the commit that holds it", async () => {
  const store = new ControlledStore();
  await using h = await inProcessConductor({ players: ["p1"], store });
  const p1 = new TestPlayer(h.conductor, "p1");
  await p1.join();
  await h.conductor.service.submit(HELLO_ON_P1, LOCAL_CALLER);
  const a = await p1.next("assign");
  const release = store.hold();
  p1.run(a);
  await settle();
  assertEquals(p1.received("result_ack").length, 0, "no ack while the commit is held");
  const commitsBefore = store.log.length;
  release();
  await p1.next("result_ack");
  assert(store.log.length > commitsBefore, "the ack came after a commit");
});

Deno.test("an assignment is sent and a submit answered only after their commit", async () => {
  const store = new ControlledStore();
  await using h = await inProcessConductor({ players: ["p1"], store });
  const p1 = new TestPlayer(h.conductor, "p1");
  await p1.join();
  const release = store.hold();
  let answered = false;
  const submitted = h.conductor.service.submit(HELLO_ON_P1, LOCAL_CALLER).then((id) => {
    answered = true;
    return id;
  });
  await settle();
  assertEquals(answered, false, "the submit waits for its commit");
  assertEquals(p1.received("assign").length, 0, "the assignment waits for its commit");
  release();
  const id = await submitted;
  assertEquals((await p1.next("assign")).job_id, id);
});

Deno.test("a failed commit stops the conductor in order: waiters and submits get an error, nothing is acknowledged", async () => {
  const store = new ControlledStore();
  await using h = await inProcessConductor({ players: ["p1"], store });
  const p1 = new TestPlayer(h.conductor, "p1");
  await p1.join();
  const id = await h.conductor.service.submit(HELLO_ON_P1, LOCAL_CALLER);
  const a = await p1.next("assign");
  const waiting = h.conductor.service.waitJob(id, 60_000);
  store.failWrites(new Error("disk I/O error"));
  p1.run(a);
  const stopped = await h.conductor.done;
  assertMatch(String(stopped.error), /disk I\/O error/);
  await assertRejects(() => waiting, /database failed/);
  assertEquals(p1.received("result_ack").length, 0, "nothing acknowledged that was not committed");
  assert(p1.closedBecause !== null, "players are disconnected");
  const refused = await assertRejects(
    () => h.conductor.service.submit(HELLO_ON_P1, LOCAL_CALLER),
    /database failed/,
  );
  assert(refused instanceof OrchError && refused.code === "unavailable");
});

Deno.test("reconciliation: a task sent and never accepted goes back to the queue and runs", async () => {
  await using h = await inProcessConductor({ players: ["p1"] });
  let p1 = new TestPlayer(h.conductor, "p1");
  await p1.join();
  await h.conductor.service.submit(HELLO_ON_P1, LOCAL_CALLER);
  const first = await p1.next("assign");
  // The player goes away before accepting; it comes back with an empty journal.
  p1.disconnect();
  await settle();
  p1 = new TestPlayer(h.conductor, "p1");
  await p1.join({ journal: [] });
  const again = await p1.next("assign");
  assertEquals(again.task_id, first.task_id);
  assertEquals(again.attempt, first.attempt + 1);
});

Deno.test("reconciliation: a task accepted that the player lost track of ends interrupted, not run again", async () => {
  await using h = await inProcessConductor({ players: ["p1"] });
  let p1 = new TestPlayer(h.conductor, "p1");
  await p1.join();
  const id = await h.conductor.service.submit(HELLO_ON_P1, LOCAL_CALLER);
  const a = await p1.next("assign");
  p1.send({ type: "accept", task_id: a.task_id, attempt: a.attempt, started_at: Date.now() });
  await settle();
  p1.disconnect();
  await settle();
  const sub = h.conductor.events.subscribe({ job: id });
  p1 = new TestPlayer(h.conductor, "p1");
  await p1.join({ journal: [] });
  const e = await sub.next();
  assert(e?.type === "task.finished");
  assertEquals(e.state, "interrupted");
  await settle();
  assertEquals(p1.received("assign").length, 0);
  sub.close();
});

Deno.test("reconciliation: a task in the journal is taken as started; a run not expected is cancelled", async () => {
  await using h = await inProcessConductor({ players: ["p1"] });
  let p1 = new TestPlayer(h.conductor, "p1");
  await p1.join();
  await h.conductor.service.submit(HELLO_ON_P1, LOCAL_CALLER);
  const a = await p1.next("assign");
  p1.disconnect();
  await settle();
  const cid = h.conductor.conductorId;
  p1 = new TestPlayer(h.conductor, "p1");
  await p1.join({
    journal: [
      { task_id: a.task_id, attempt: a.attempt, conductor_id: cid, state: "running" },
      { task_id: 999, attempt: 1, conductor_id: cid, state: "running" },
      { task_id: 5, attempt: 1, conductor_id: "another-database", state: "running" },
    ],
  });
  assertEquals(await p1.next("cancel"), { type: "cancel", task_id: 999, attempt: 1 });
  assertEquals(p1.received("cancel").length, 1);
  // Its result is then taken like any other.
  p1.run(a);
  await p1.next("result_ack");
});

Deno.test("a subscriber that falls behind is cut off; the conductor goes on", async () => {
  await using h = await inProcessConductor({ players: ["p1"] });
  const slow = h.conductor.events.subscribe({ maxQueue: 2 });
  const p1 = new TestPlayer(h.conductor, "p1");
  await p1.join({ slots: 4 });
  for (let i = 0; i < 3; i++) await h.conductor.service.submit(HELLO_ON_P1, LOCAL_CALLER);
  for (let i = 0; i < 3; i++) p1.run(await p1.next("assign"));
  await settle();
  assertMatch(slow.closedReason ?? "", /too slow/);
  assertEquals(p1.received("result_ack").length, 3);
});

Deno.test("an abandoned conductor acts on nothing more: a result whose commit goes through afterwards is never acknowledged", async () => {
  const store = new ControlledStore();
  await using h = await inProcessConductor({ players: ["p1"], store });
  const p1 = new TestPlayer(h.conductor, "p1");
  await p1.join();
  await h.conductor.service.submit(HELLO_ON_P1, LOCAL_CALLER);
  const a = await p1.next("assign");
  const release = store.hold();
  p1.run(a);
  await settle();
  const stopped = h.conductor.abandon("this conductor lost the leadership");
  const commitsBefore = store.log.length;
  release();
  await stopped;
  await settle();
  assert(store.log.length > commitsBefore, "the held commit went through");
  assertEquals(p1.received("result_ack").length, 0, "no ack after the abandon");
});
