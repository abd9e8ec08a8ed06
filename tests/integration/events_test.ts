import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { submitTicker } from "../_helpers/ticker.ts";
import { makeLocalProof } from "../../lib/client/mod.ts";
import { ROOT, tempDir, until } from "../_helpers/proc.ts";
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
  await using job = await submitTicker(c, ["p1", "p2"], { EVERY: "0.1" });
  const { id } = job;
  using s = await SseReader.socket(c, `/v1/jobs/${id}/events`);
  assertEquals(s.status, 200);
  const first = await s.next();
  assertEquals(first?.event, "snapshot");
  assertEquals(first?.data.job.id, id);
  await s.until(() => {
    const t = ticks(s.seen);
    return (t.get("p1")?.length ?? 0) >= 3 && (t.get("p2")?.length ?? 0) >= 3;
  });
  await job.stop();
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

/** The events up to and including the last one with an id, and that id. */
function upToLastId(events: SseEvent[]): { events: SseEvent[]; id: string } {
  const i = events.findLastIndex((e) => e.id !== undefined);
  return { events: events.slice(0, i + 1), id: events[i].id! };
}

Deno.test("a stream resumed with Last-Event-ID after a dropped connection loses and doubles no output", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.startPlayer("p2");
  await using dir = await tempDir();
  const log = join(dir.path, "log");
  await using job = await submitTicker(c, ["p1", "p2"], { EVERY: "0.1", LOG: log });
  const { id } = job;
  const s1 = await SseReader.socket(c, `/v1/jobs/${id}/events`);
  await s1.until(() => {
    const t = ticks(s1.seen);
    return (t.get("p1")?.length ?? 0) >= 3 && (t.get("p2")?.length ?? 0) >= 3;
  });
  s1.close();
  const before = upToLastId(s1.seen);
  const seenTicks = Math.max(...[...ticks(before.events).values()].map((t) => t.length));
  // More ticks are printed while no one watches.
  await until("ticks while disconnected", async () => {
    const text = await Deno.readTextFile(log).catch(() => "");
    return text.includes(`tick ${seenTicks + 5}\n`);
  });
  using s2 = await SseReader.socket(c, `/v1/jobs/${id}/events`, { "last-event-id": before.id });
  assertEquals(s2.status, 200);
  const first = await s2.next();
  assert(first?.event !== "snapshot", "a usable id resumes without a snapshot");
  await s2.until(() => {
    const t = ticks([...before.events, ...s2.seen]);
    return [...t.values()].every((x) => x.length >= seenTicks + 8);
  });
  await job.stop();
  await s2.rest();
  assertEquals(s2.seen.at(-1)?.event, "end");
  const all = ticks([...before.events, ...s2.seen]);
  assertEquals([...all.keys()].sort(), ["p1", "p2"]);
  for (const [host, got] of all) assertEquals(got, countTo(got.length), host);
  // The query parameter works like the header.
  using s3 = await SseReader.socket(c, `/v1/jobs/${id}/events?last_event_id=${before.id}`);
  const again = await s3.rest();
  assertEquals(again.at(-1)?.event, "end");
  assertEquals(ticks([...before.events, ...again]), all);
});

Deno.test("an id from before a conductor restart gets a snapshot; a stop ends streams with a cutoff", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await using job = await submitTicker(c, ["p1"], { EVERY: "0.2" });
  const { id } = job;
  const s1 = await SseReader.socket(c, `/v1/jobs/${id}/events`);
  await s1.until(() => (ticks(s1.seen).get("p1")?.length ?? 0) >= 2);
  await c.conductor!.proc.stop();
  const rest = await s1.rest();
  assertEquals(rest.at(-1)?.event, "cutoff");
  assertEquals(rest.at(-1)?.data, { reason: "the conductor is shutting down" });
  const last = upToLastId(s1.seen).id;
  await c.startConductor();
  await c.waitConnected("p1");
  using s2 = await SseReader.socket(c, `/v1/jobs/${id}/events`, { "last-event-id": last });
  const first = await s2.next();
  assertEquals(first?.event, "snapshot");
  assert(first?.id !== undefined && first.id.split(".")[0] !== last.split(".")[0], first?.id);
  await job.stop();
  const end = await s2.rest();
  assertEquals(end.at(-1)?.event, "end");
  // A job already finished: its snapshot, then its end at once.
  using s3 = await SseReader.socket(c, `/v1/jobs/${id}/events`);
  assertEquals((await s3.rest()).map((e) => e.event), ["snapshot", "progress", "end"]);
});

Deno.test("a client that does not read is cut off while the conductor goes on answering others", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  const conductor = await c.startConductor();
  await c.startPlayer("p1", { extra: ["--live-output-rate", "8MiB"] });
  await using dir = await tempDir();
  const stop = join(dir.path, "stop");
  const id = await c.client.submit({
    score: "flood",
    scope: "all",
    targets: ["p1"],
    params: { UNTIL: stop },
  });
  // A raw connection that sends its request and then reads nothing.
  const proof = (await makeLocalProof(c.socket))!;
  const conn = await Deno.connect({ transport: "unix", path: c.socket });
  await conn.write(
    new TextEncoder().encode(
      `GET /v1/jobs/${id}/events HTTP/1.1\r\nhost: orch\r\nauthorization: ${proof.header}\r\n\r\n`,
    ),
  );
  const from = conductor.proc.lines.length;
  await conductor.proc.waitFor(/event stream cut off .*too slow/, 30_000, from);
  await proof.discard();
  // Meanwhile the conductor answers: health, and a submit waited for to its end.
  assertEquals((await c.socketFetch("/v1/health")).status, 200);
  await Deno.writeTextFile(stop, "");
  assertEquals((await c.wait(id)).aggregate, "success");
  const quick = await c.client.submit({
    score: "ticker",
    scope: "all",
    targets: ["p1"],
    params: { UNTIL: stop },
  });
  assertEquals((await c.wait(quick)).aggregate, "success");
  // Read at last, the slow connection ends with the cutoff event.
  const text = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
  const events = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
  assertEquals(events.at(-1), "cutoff");
  assertMatch(text, /event: cutoff\r?\ndata: \{"reason":"too slow: [^"]*"\}/);
});

Deno.test("over HTTPS, /v1/events shows only the jobs the caller may read; refusals are 403 and 404", async () => {
  await using c = await Cluster.create({
    players: ["p1", "p2"],
    scoresDir: TESTDATA,
    grants: `grants:
  - who: [audience:alice, local:root]
    may: [all]
  - who: audience:bob
    may: [read, read_all]
    targets: [p1]
`,
  });
  await c.issueAudience("bob");
  await c.issueAudience("carol");
  await c.startConductor();
  await c.startPlayer("p1");
  await c.startPlayer("p2");
  using alice = await SseReader.https(c, "alice", "/v1/events");
  using bob = await SseReader.https(c, "bob", "/v1/events");
  assertEquals([alice.status, bob.status], [200, 200]);
  assertEquals((await bob.next())?.event, "snapshot");
  await using dir = await tempDir();
  const stop = join(dir.path, "stop");
  await Deno.writeTextFile(stop, "");
  const submit = (host: string) =>
    c.client.submit({ score: "ticker", scope: "all", targets: [host], params: { UNTIL: stop } });
  const hidden = await submit("p2");
  await c.wait(hidden);
  const shown = await submit("p1");
  await c.wait(shown);
  await alice.until((e) => e.event === "end" && e.data.job === shown);
  await bob.until((e) => e.event === "end" && e.data.job === shown);
  assert(alice.seen.some((e) => e.data.job === hidden), "alice sees every job");
  assert(bob.seen.some((e) => e.event === "task" && e.data.job === shown));
  assert(!bob.seen.some((e) => e.data.job === hidden), "bob never sees a job he may not read");
  // A job's own stream: the grant of reading it, or 403; no such job, 404.
  using mine = await SseReader.https(c, "bob", `/v1/jobs/${shown}/events`);
  assertEquals((await mine.rest()).map((e) => e.event), ["snapshot", "progress", "end"]);
  using other = await SseReader.https(c, "bob", `/v1/jobs/${hidden}/events`);
  assertEquals(other.status, 403);
  assertMatch(await other.text(), /may not read job/);
  using none = await SseReader.https(c, "alice", "/v1/jobs/999999/events");
  assertEquals(none.status, 404);
  using carol = await SseReader.https(c, "carol", "/v1/events");
  assertEquals(carol.status, 403);
  using bad = await SseReader.https(c, "alice", "/v1/events", { "last-event-id": "yesterday" });
  assertEquals(bad.status, 400);
  assertMatch(await bad.text(), /Last-Event-ID: expected an event id BOOT\.SEQ/);
});
