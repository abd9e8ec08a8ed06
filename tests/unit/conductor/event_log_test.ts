import { assertEquals, assertThrows } from "../../_helpers/assert.ts";
import { ManualClock } from "../../_helpers/clock.ts";
import { EventLog, parseEventId } from "../../../lib/conductor/event_log.ts";
import { EventBus } from "../../../lib/conductor/events.ts";
import { LiveOutputs } from "../../../lib/conductor/live_output.ts";
import { DEFAULT_STREAM_LIMITS, EventStreams } from "../../../lib/conductor/sse.ts";
import { silentLogger } from "../../../lib/log.ts";
import type { JobView } from "../../../lib/protocol/mod.ts";

Deno.test("the event log numbers events and gives those after an id, of one job or all", () => {
  const log = new EventLog("b1");
  log.append(1, "task", { n: 1 });
  log.append(2, "task", { n: 2 });
  log.append(null, "player", { n: 3 });
  log.append(1, "output", { n: 4 });
  assertEquals(log.seq, 4);
  assertEquals(log.after({ boot: "b1", seq: 1 })!.map((e) => e.seq), [2, 3, 4]);
  assertEquals(log.after({ boot: "b1", seq: 0 }, 1)!.map((e) => e.seq), [1, 4]);
  assertEquals(log.after({ boot: "b1", seq: 4 }), []);
  assertEquals(log.idOf(4), "b1.4");
});

Deno.test("the event log cannot reach back past what it keeps, nor to another run, nor ahead", () => {
  const log = new EventLog("b1", { maxEvents: 3, maxBytes: 1 << 20 });
  for (let i = 1; i <= 5; i++) log.append(1, "task", { i });
  assertEquals(log.length, 3);
  assertEquals(log.after({ boot: "b1", seq: 2 })!.map((e) => e.seq), [3, 4, 5]);
  assertEquals(log.after({ boot: "b1", seq: 1 }), null);
  assertEquals(log.after({ boot: "b0", seq: 4 }), null);
  assertEquals(log.after({ boot: "b1", seq: 6 }), null);
});

Deno.test("the event log is bounded by bytes as well as by count", () => {
  const log = new EventLog("b1", { maxEvents: 1000, maxBytes: 100 });
  for (let i = 0; i < 10; i++) log.append(1, "output", { data: "x".repeat(30) });
  assertEquals(log.length, 2);
  assertEquals(log.bytes <= 100, true);
  assertEquals(log.after({ boot: "b1", seq: 7 }), null);
  assertEquals(log.after({ boot: "b1", seq: 8 })!.length, 2);
});

Deno.test("an event id is BOOT.SEQ; anything else is refused naming it", () => {
  assertEquals(parseEventId("ab12.34"), { boot: "ab12", seq: 34 });
  assertThrows(() => parseEventId("yesterday"), /"yesterday"/);
  assertThrows(() => parseEventId("a.1.2"), /BOOT.SEQ/);
});

function view(id: number, finished = false): JobView {
  return {
    id,
    counts: finished ? { succeeded: 1 } : { running: 1 },
    task_count: 1,
    aggregate: finished ? "success" : "running",
    submitted_at: 1,
    finished_at: finished ? 5 : null,
    cancelled_at: null,
    deadline: null,
  } as unknown as JobView;
}

function streams(limits = {}) {
  const clock = new ManualClock();
  const bus = new EventBus();
  const log = new EventLog("b1");
  const views = new Map<number, JobView>([[1, view(1)]]);
  let reads = 0;
  const s = new EventStreams({
    bus,
    log,
    live: new LiveOutputs(bus, clock),
    clock,
    logger: silentLogger,
    job: (id) => {
      reads++;
      return Promise.resolve(views.get(id));
    },
    connected: () => 0,
  }, { ...DEFAULT_STREAM_LIMITS, ...limits });
  return { clock, bus, log, s, reads: () => reads };
}

async function read(r: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const x = await r.read();
  return x.done ? "<end>" : new TextDecoder().decode(x.value);
}

Deno.test("a job's progress goes out at most once per interval, only while someone watches", async () => {
  const { clock, bus, log, s, reads } = streams();
  const started = {
    type: "task.started",
    at: 1,
    job: 1,
    task: 1,
    attempt: 1,
    player: "p",
  } as const;
  bus.publish(started);
  clock.advance(1000);
  assertEquals(reads(), 0); // No one watches: no progress is read.
  const res = await s.job(1, null, "local:alice");
  const r = res.body!.getReader();
  assertEquals((await read(r)).startsWith("id: b1.1\nevent: snapshot\n"), true);
  assertEquals((await read(r)).startsWith("event: progress\n"), true);
  const before = reads();
  for (let i = 0; i < 10; i++) bus.publish(started);
  clock.advance(DEFAULT_STREAM_LIMITS.progressMs);
  await Promise.resolve();
  await Promise.resolve();
  assertEquals(reads() - before, 1);
  assertEquals(log.after({ boot: "b1", seq: 0 })!.filter((e) => e.type === "progress").length, 1);
  r.cancel();
});

Deno.test("a stream whose client does not take its events is cut off past its buffer, with a cutoff", async () => {
  const { bus, s } = streams({ bufferEvents: 5 });
  const res = await s.job(1, null, "local:alice");
  assertEquals(s.open, 1);
  for (let i = 0; i < 10; i++) {
    bus.publish({ type: "task.started", at: 1, job: 1, task: 1, attempt: i, player: "p" });
  }
  assertEquals(s.open, 0);
  const text = await new Response(res.body).text();
  assertEquals(text.trimEnd().split("\n\n").at(-1)?.startsWith("event: cutoff\n"), true);
  assertEquals(text.includes('"too slow: more than'), true);
});

Deno.test("a quiet stream gets a keep-alive comment; a stream over the limit is refused", async () => {
  const { clock, s } = streams({ maxStreams: 1 });
  const r = (await s.job(1, null, "local:alice")).body!.getReader();
  await read(r);
  await read(r);
  clock.advance(DEFAULT_STREAM_LIMITS.keepAliveMs);
  assertEquals(await read(r), ": keep-alive\n\n");
  await s.job(1, null, "local:alice").then(
    () => {
      throw new Error("a second stream was let in");
    },
    (err) => assertEquals(err.code, "unavailable"),
  );
  r.cancel();
});

Deno.test("a resume whose replay would not fit half a stream's buffer starts from a snapshot instead", async () => {
  const { bus, s } = streams({ bufferEvents: 10 });
  for (let i = 0; i < 20; i++) {
    bus.publish({ type: "task.started", at: 1, job: 1, task: 1, attempt: i + 1, player: "p" });
  }
  // From event 15 on: 5 events, which fit; from event 5 on: 15, which do not.
  const near = (await s.job(1, { boot: "b1", seq: 15 }, "local:alice")).body!.getReader();
  assertEquals((await read(near)).startsWith("id: b1.16\nevent: task\n"), true);
  near.cancel();
  const far = (await s.job(1, { boot: "b1", seq: 5 }, "local:alice")).body!.getReader();
  assertEquals((await read(far)).startsWith("id: b1.20\nevent: snapshot\n"), true);
  far.cancel();
});

Deno.test("one caller holds at most its share of the streams; others still get theirs", async () => {
  const { s } = streams({ maxStreams: 10, maxPerCaller: 2 });
  const mine = [await s.job(1, null, "local:alice"), await s.job(1, null, "local:alice")];
  await s.job(1, null, "local:alice").then(
    () => {
      throw new Error("a third stream was let in");
    },
    (err) => {
      assertEquals(err.code, "too_many");
      assertEquals(
        err.message,
        "local:alice has 2 event streams open, the most one caller may hold",
      );
    },
  );
  const other = await s.job(1, null, "audience:bob");
  // A stream that ends makes room for its caller again.
  await mine[0].body!.cancel();
  const again = await s.job(1, null, "local:alice");
  for (const r of [mine[1], other, again]) await r.body!.cancel();
  assertEquals(s.open, 0);
});
