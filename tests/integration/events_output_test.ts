import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { submitTicker } from "../_helpers/ticker.ts";
import { ROOT } from "../_helpers/proc.ts";
import { type SseEvent, SseReader } from "../_helpers/sse.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");

/** The output pieces among `events` (the snapshot's live output included), with their task. */
function pieces(events: SseEvent[]): { task: number; host: string; data: string }[] {
  const out: { task: number; host: string; data: string }[] = [];
  for (const e of events) {
    if (e.event === "snapshot" && e.data.live) {
      for (const t of e.data.live) {
        for (const p of t.pieces) out.push({ task: t.task, host: t.host, data: p.data });
      }
    }
    if (e.event === "output") out.push({ task: e.data.task, host: e.data.host, data: e.data.data });
  }
  return out;
}

/** Ticks printed on stdout by `host` among `events`. */
function tickCount(events: SseEvent[], host: string): number {
  let n = 0;
  for (const p of pieces(events)) {
    if (p.host === host) n += p.data.match(/^tick \d+ /gm)?.length ?? 0;
  }
  return n;
}

Deno.test("the output query parameter: one task's output, none, or every task's; bad values are 400", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.startPlayer("p2");
  await using job = await submitTicker(c, ["p1", "p2"], { EVERY: "0.1" });
  const { id } = job;
  // An unfiltered stream tells the tasks apart, and shows that both hosts print.
  using every = await SseReader.socket(c, `/v1/jobs/${id}/events`);
  await every.until(() => tickCount(every.seen, "p1") >= 1 && tickCount(every.seen, "p2") >= 1);
  const p1Task = pieces(every.seen).find((p) => p.host === "p1")!.task;
  const p2Task = pieces(every.seen).find((p) => p.host === "p2")!.task;
  assert(p1Task !== p2Task);

  using one = await SseReader.socket(c, `/v1/jobs/${id}/events?output=${p1Task}`);
  using none = await SseReader.socket(c, `/v1/jobs/${id}/events?output=none`);
  using all = await SseReader.socket(c, `/v1/events?output=none`);
  assertEquals([one.status, none.status, all.status], [200, 200, 200]);
  for (const s of [one, none, all]) assertEquals((await s.next())?.event, "snapshot");
  // p2 goes on printing while the filtered streams are open; p1 too.
  const p2Before = tickCount(every.seen, "p2");
  await every.until(() => tickCount(every.seen, "p2") >= p2Before + 3);
  await one.until(() => tickCount(one.seen, "p1") >= 3);
  await job.stop();
  await every.rest();
  const oneRest = await one.rest();
  const noneRest = await none.rest();
  await all.until((e) => e.event === "end" && e.data.job === id);

  assertEquals(oneRest.at(-1)?.event, "end");
  assertEquals(noneRest.at(-1)?.event, "end");
  // One task's stream: its output only, yet every task's state changes.
  const onePieces = pieces(one.seen);
  assert(onePieces.length > 0);
  assertEquals(onePieces.filter((p) => p.task !== p1Task), []);
  const taskEvents = one.seen.filter((e) => e.event === "task").map((e) => e.data.task);
  assert(taskEvents.includes(p2Task), `task events: ${taskEvents}`);
  // None: no output, and no live output in the snapshot; the rest as ever.
  assertEquals(pieces(none.seen), []);
  assertEquals(none.seen[0].data.live, []);
  assert(none.seen.some((e) => e.event === "task" && e.data.task === p2Task));
  assertEquals(pieces(all.seen), []);
  assert(all.seen.some((e) => e.event === "task" && e.data.job === id));
  // Without the parameter, both tasks' output came.
  assert(pieces(every.seen).some((p) => p.task === p2Task));

  // A resumed stream keeps to its choice.
  using resumed = await SseReader.socket(c, `/v1/jobs/${id}/events?output=none`, {
    "last-event-id": every.seen.find((e) => e.event === "snapshot")!.id!,
  });
  const replay = await resumed.rest();
  assertEquals(replay.filter((e) => e.event === "output"), []);
  assertEquals(replay.at(-1)?.event, "end");

  for (
    const [path, what] of [
      [
        `/v1/jobs/${id}/events?output=abc`,
        /query parameter output: "abc" is not none or a task id/,
      ],
      [`/v1/jobs/${id}/events?output=0`, /query parameter output/],
      [`/v1/jobs/${id}/events?output=-1`, /query parameter output/],
      [`/v1/jobs/${id}/events?output=all`, /query parameter output/],
      [`/v1/jobs/${id}/events?output=none&output=1`, /output is given twice/],
      [`/v1/events?output=${p1Task}`, /query parameter output: .* is not none/],
      [`/v1/events?output=`, /query parameter output/],
    ] as const
  ) {
    const res = await c.socketFetch(path, { headers: { accept: "text/event-stream" } });
    const body = await res.json();
    assertEquals(res.status, 400, path);
    assertMatch(body.error.message, what, path);
  }
});
