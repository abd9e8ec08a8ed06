import { assert, assertEquals } from "../../_helpers/assert.ts";
import { ManualClock } from "../../_helpers/clock.ts";
import { type ConductorEvent, EventBus } from "../../../lib/conductor/events.ts";
import { LiveOutputs } from "../../../lib/conductor/live_output.ts";
import type { Output } from "../../../lib/protocol/mod.ts";

function piece(over: Partial<Output> & { data: string }): Output {
  return {
    type: "output",
    task_id: 1,
    attempt: 1,
    stream: "stdout",
    offset: 0,
    bytes: new TextEncoder().encode(over.data).length,
    ...over,
  };
}

Deno.test("each piece is published as a task.output event and kept for its running task", async () => {
  const bus = new EventBus();
  const live = new LiveOutputs(bus, new ManualClock(5));
  using sub = bus.subscribe({ job: 3 });
  live.add(3, 1, "p1", piece({ data: "a\n" }), "a\n");
  live.add(3, 1, "p1", piece({ stream: "stderr", data: "e\n" }), "e\n");
  live.add(3, 1, "p1", piece({ offset: 2, data: "b\n" }), "b\n");
  const events: ConductorEvent[] = [];
  for (let i = 0; i < 3; i++) events.push((await sub.next())!);
  assertEquals(events[0], {
    type: "task.output",
    at: 5,
    job: 3,
    task: 1,
    attempt: 1,
    player: "p1",
    stream: "stdout",
    offset: 0,
    bytes: 2,
    data: "a\n",
  });
  assertEquals(live.text(1, 1, "stdout"), "a\nb\n");
  assertEquals(live.text(1, 1, "stderr"), "e\n");
  assertEquals(live.text(1, 2, "stdout"), undefined);
  assertEquals(live.ofJob(3).map((t) => t.pieces.length), [3]);
});

Deno.test("missing bytes are marked where they are missing", () => {
  const live = new LiveOutputs(new EventBus(), new ManualClock(0));
  live.add(3, 1, "p1", piece({ offset: 10, data: "late\n" }), "late\n");
  live.add(3, 1, "p1", piece({ offset: 100, data: "later" }), "later");
  assertEquals(
    live.text(1, 1, "stdout"),
    "[… 10 bytes not shown …]\nlate\n[… 85 bytes not shown …]\nlater",
  );
});

Deno.test("a stream keeps its latest pieces within its bound, and all tasks within theirs", () => {
  const live = new LiveOutputs(new EventBus(), new ManualClock(0), { perStream: 10, total: 25 });
  for (let i = 0; i < 5; i++) {
    live.add(1, 1, "p1", piece({ offset: i * 4, data: `${i}xx\n` }), `${i}xx\n`);
  }
  assertEquals(live.text(1, 1, "stdout"), "[… 12 bytes not shown …]\n3xx\n4xx\n");
  assert(live.size <= 10);
  for (let t = 2; t < 10; t++) {
    live.add(1, t, "p1", piece({ task_id: t, data: "zzzzzzzz\n" }), "zzzzzzzz\n");
  }
  assert(live.size <= 25, `${live.size}`);
});

Deno.test("a task's output is forgotten when its attempt ends or it goes back to the queue", () => {
  const bus = new EventBus();
  const live = new LiveOutputs(bus, new ManualClock(0));
  live.add(1, 1, "p1", piece({ data: "x\n" }), "x\n");
  live.add(1, 2, "p1", piece({ task_id: 2, data: "y\n" }), "y\n");
  bus.publish({
    type: "task.finished",
    at: 0,
    job: 1,
    task: 1,
    attempt: 1,
    player: "p1",
    state: "succeeded",
  });
  bus.publish({ type: "task.queued", at: 0, job: 1, task: 2, why: "retry" });
  assertEquals([live.text(1, 1, "stdout"), live.text(2, 1, "stdout"), live.size], [
    undefined,
    undefined,
    0,
  ]);
});

Deno.test("a secret split between two pieces is masked in the text kept", () => {
  const live = new LiveOutputs(new EventBus(), new ManualClock(0));
  const secrets = ["hunter2secret"];
  live.add(1, 1, "p1", piece({ data: "token=hunter2" }), "token=hunter2", secrets);
  live.add(1, 1, "p1", piece({ offset: 13, data: "secret\n" }), "secret\n", secrets);
  assertEquals(live.text(1, 1, "stdout"), "token=[secret]\n");
});
