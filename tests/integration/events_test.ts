import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { ROOT, tempDir } from "../_helpers/proc.ts";
import { type SseEvent, SseReader } from "../_helpers/sse.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");

/** The output pieces among `events` (the snapshot's included), as `host stream offset bytes data`. */
function pieces(events: SseEvent[]) {
  const out: { host: string; stream: string; offset: number; bytes: number; data: string }[] = [];
  for (const e of events) {
    if (e.event === "snapshot" && e.data.live) {
      for (const t of e.data.live) for (const p of t.pieces) out.push({ host: t.host, ...p });
    }
    if (e.event === "output") out.push(e.data);
  }
  return out;
}

/** The tick numbers each host printed on stdout, in the order received. */
function ticks(events: SseEvent[]): Map<string, number[]> {
  const by = new Map<string, number[]>();
  for (const p of pieces(events)) {
    if (p.stream !== "stdout") continue;
    for (const m of p.data.matchAll(/^tick (\d+) /gm)) {
      by.set(p.host, [...(by.get(p.host) ?? []), Number(m[1])]);
    }
  }
  return by;
}

function countTo(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

Deno.test("a job's events arrive in order: snapshot, task states, contiguous output from each host, progress, end", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.startPlayer("p2");
  await using dir = await tempDir();
  const stop = join(dir.path, "stop");
  const id = await c.client.submit({
    score: "ticker",
    scope: "all",
    targets: ["p1", "p2"],
    params: { UNTIL: stop, EVERY: "0.1" },
  });
  using s = await SseReader.socket(c, `/v1/jobs/${id}/events`);
  assertEquals(s.status, 200);
  const first = await s.next();
  assertEquals(first?.event, "snapshot");
  assertEquals(first?.data.job.id, id);
  await s.until(() => {
    const t = ticks(s.seen);
    return (t.get("p1")?.length ?? 0) >= 3 && (t.get("p2")?.length ?? 0) >= 3;
  });
  await Deno.writeTextFile(stop, "");
  const rest = await s.rest();
  const all = s.seen;
  assertEquals(rest.at(-1)?.event, "end");
  assertEquals(rest.at(-1)?.data, {
    job: id,
    aggregate: "success",
    finished_at: rest.at(-1)?.data.finished_at,
  });
  // Ids go up; the stream shows this job only.
  const seqs = all.filter((e) => e.id).map((e) => Number(e.id!.split(".")[1]));
  assertEquals(seqs, [...seqs].sort((a, b) => a - b));
  for (const e of all) if (e.data.job !== undefined) assertEquals(e.data.job?.id ?? e.data.job, id);
  // Each task went through running to succeeded, in that order.
  for (const host of ["p1", "p2"]) {
    const states = all.filter((e) => e.event === "task" && e.data.host === host).map((e) =>
      e.data.state
    );
    assertEquals(states.slice(-1), ["succeeded"], `${host}: ${states}`);
    if (states.includes("running")) assert(states.indexOf("running") < states.indexOf("succeeded"));
  }
  // Each host's output is contiguous per stream, from byte 0, and its ticks are 1..N once each.
  const t = ticks(all);
  for (const host of ["p1", "p2"]) {
    for (const stream of ["stdout", "stderr"]) {
      const ps = pieces(all).filter((p) => p.host === host && p.stream === stream);
      let next = 0;
      for (const p of ps) {
        assertEquals(p.offset, next, `${host} ${stream} offsets`);
        next = p.offset + p.bytes;
      }
    }
    const got = t.get(host)!;
    assertEquals(got, countTo(got.length));
  }
  const progress = all.filter((e) => e.event === "progress");
  assert(progress.length >= 1);
  assertEquals(progress[0].data.total, 2);
  const tail = await c.wait(id);
  for (const task of tail.tasks) assertMatch(task.stdout_tail, /done after \d+\n$/);
});
