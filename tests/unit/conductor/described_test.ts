/**
 * What the conductor sends is what the API's description says: every
 * event its streams carry (the data of each type, on each stream), and a
 * standby's answer to every operation. The integration tests check what
 * they read too; these reach every event type and every route at once.
 */

import { assert, assertEquals } from "../../_helpers/assert.ts";
import { ManualClock } from "../../_helpers/clock.ts";
import { OpenApiChecker } from "../../_helpers/openapi.ts";
import { EventLog } from "../../../lib/conductor/event_log.ts";
import { type ConductorEvent, EventBus, type TaskQueued } from "../../../lib/conductor/events.ts";
import { standbyHandler } from "../../../lib/conductor/leadership.ts";
import { LiveOutputs } from "../../../lib/conductor/live_output.ts";
import { EventStreams } from "../../../lib/conductor/sse.ts";
import { SseParser } from "../../../lib/client/sse.ts";
import { silentLogger } from "../../../lib/log.ts";
import type { JobView } from "../../../lib/protocol/mod.ts";
import { OPENAPI, QUEUED_WHY } from "../../../lib/protocol/openapi.ts";

const checker = new OpenApiChecker();
const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);

/** A job as the store would give it, every field set. */
function jobView(finished: boolean): JobView {
  return {
    id: 1,
    score: "hello",
    scope: "all",
    targets: ["role=web"],
    hosts: ["p1", "p2"],
    host_count: 2,
    params: { NAME: "api", TOKEN: "[secret]" },
    secret: ["TOKEN"],
    submitted_at: T0,
    submitted_by: "local:alice",
    caller: { transport: "socket", name: "alice", auth: "file_ownership" },
    finished_at: finished ? T0 + 5000 : null,
    timeout_ms: null,
    deadline: T0 + 60_000,
    retries: 1,
    cancelled_at: null,
    schedule: null,
    aggregate: finished ? "partial" : "running",
    counts: finished ? { succeeded: 1, failed: 1 } : { running: 1, queued: 1 },
    task_count: 2,
    rollout_settings: { quorum: null, batch: 1, max_errors: null, batch_wait_ms: 0 },
    rollout: { batch: 1, batches: 2, errors: 0, errors_allowed: null },
    offline: finished ? 0 : 1,
  };
}

/** One of each event the bus carries, in an order a job could have them. */
const EVENTS: ConductorEvent[] = [
  { type: "player.connected", at: T0, player: "p1" },
  { type: "task.queued", at: T0, job: 1, task: 1 },
  { type: "task.assigned", at: T0, job: 1, task: 1, attempt: 1, player: "p1" },
  { type: "task.started", at: T0, job: 1, task: 1, attempt: 1, player: "p1" },
  {
    type: "task.output",
    at: T0,
    job: 1,
    task: 1,
    attempt: 1,
    player: "p1",
    stream: "stderr",
    offset: 0,
    bytes: 6,
    data: "héllo",
  },
  {
    type: "task.output",
    at: T0,
    job: 1,
    task: 1,
    attempt: 1,
    player: "p1",
    stream: "stdout",
    offset: 0,
    bytes: 3,
    data: "ok\n",
  },
  ...QUEUED_WHY.map((why): ConductorEvent => ({
    type: "task.queued",
    at: T0,
    job: 1,
    task: 2,
    why,
    not_before: T0 + 1000,
  })),
  { type: "task.finished", at: T0, job: 1, task: 1, attempt: 1, player: "p1", state: "succeeded" },
  { type: "task.finished", at: T0, job: 1, task: 2, attempt: 0, player: null, state: "expired" },
  { type: "job.finished", at: T0 + 5000, job: 1, aggregate: "partial" },
  { type: "player.disconnected", at: T0, player: "p1", reason: "the connection closed" },
];

/** Every event of `body` until it ends, parsed as a client would. */
async function eventsOf(
  body: ReadableStream<Uint8Array>,
): Promise<{ type: string; data: unknown }[]> {
  const parser = new SseParser();
  const out: { type: string; data: unknown }[] = [];
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
    for (const e of parser.push(chunk)) out.push({ type: e.event, data: JSON.parse(e.data) });
  }
  return out;
}

Deno.test("every event the streams carry is described, on a job's stream and on the stream of all", async () => {
  const clock = new ManualClock(T0);
  const bus = new EventBus();
  const live = new LiveOutputs(bus, clock);
  let view = jobView(false);
  const s = new EventStreams({
    bus,
    log: new EventLog("b1"),
    live,
    clock,
    logger: silentLogger,
    job: () => Promise.resolve(view),
    connected: () => 1,
  });
  // A running task with output: the job's snapshot carries it; more output follows.
  // Output comes in from a player and goes on the bus from there; the rest is published.
  const send = (e: ConductorEvent) =>
    e.type === "task.output"
      ? live.add(e.job, e.task, e.player, { ...e, type: "output", task_id: e.task }, e.data)
      : bus.publish(e);
  for (const e of EVENTS.slice(0, 5)) send(e);
  const jobStream = await s.job(1, null, "local:alice");
  const allStream = s.all(null, () => Promise.resolve(true), "local:alice");
  const job = eventsOf(jobStream.body!);
  const all = eventsOf(allStream.body!);
  for (const e of EVENTS.slice(5)) {
    send(e);
    clock.advance(1000);
    await new Promise((r) => setTimeout(r, 0));
  }
  view = jobView(true);
  s.closeAll("the conductor is stopping");

  const snapshot = (await job)[0] as { type: string; data: { live: { pieces: unknown[] }[] } };
  assertEquals([snapshot.type, snapshot.data.live[0].pieces.length], ["snapshot", 1]);
  const seen = new Map<string, Set<string>>();
  for (
    const [path, events] of [["/v1/jobs/1/events", await job], ["/v1/events", await all]] as const
  ) {
    for (const e of events) {
      checker.checkEvent(path, e.type, e.data);
      seen.set(path, (seen.get(path) ?? new Set()).add(e.type));
    }
  }
  // Each stream carried every type the description lists for it, so each was checked.
  const paths = OPENAPI.paths as Record<string, { get: { responses: Record<string, unknown> } }>;
  for (
    const [path, template] of [["/v1/jobs/1/events", "/jobs/{id}/events"], [
      "/v1/events",
      "/events",
    ]]
  ) {
    const ok = paths[template].get.responses["200"] as {
      content: { "text/event-stream": { "x-events": Record<string, unknown> } };
    };
    const described = Object.keys(ok.content["text/event-stream"]["x-events"]).sort();
    // A job's stream ends with its `end`: the cutoff is for a stream still open.
    const expected = described.filter((t) => !(path !== "/v1/events" && t === "cutoff"));
    assertEquals([...seen.get(path)!].sort(), expected, path);
  }
});

Deno.test("the reasons a queued task went back are those the conductor has", () => {
  // Does not compile when the two lists differ.
  type Described = typeof QUEUED_WHY[number];
  type Conductor = NonNullable<TaskQueued["why"]>;
  const same: [Described] extends [Conductor] ? [Conductor] extends [Described] ? true : false
    : false = true;
  assert(same);
});

Deno.test("a standby's answer to every operation, and off them, is described", async () => {
  const handler = standbyHandler(() => ({
    epoch: 3,
    name: "c1",
    player: "10.0.0.5:2258",
    audience: "10.0.0.5:2259",
    since: T0,
  }));
  const ctx = { caller: { transport: "socket", name: "alice", auth: "file_ownership" } as const };
  const paths = OPENAPI.paths as Record<string, Record<string, unknown>>;
  const asked: string[] = [];
  const requests: [string, string][] = [["GET", "/"], ["GET", "/v1/nothing"], ["PUT", "/v1/jobs"]];
  for (const [template, ops] of Object.entries(paths)) {
    const path = "/v1" + template.replace(/\{[^}]+\}/g, (p) => (p === "{name}" ? "p1" : "7"));
    for (const method of Object.keys(ops)) requests.push([method.toUpperCase(), path]);
  }
  for (const [method, path] of requests) {
    const res = await handler(new Request(`http://orch${path}`, { method }), ctx);
    const body = await res.json();
    checker.check({
      method,
      path,
      status: res.status,
      contentType: res.headers.get("content-type") ?? "",
      body,
    });
    if (res.status === 503 && body.error) {
      assertEquals(body.error.code, "not_leader", `${method} ${path}`);
      assertEquals(body.error.leader, "10.0.0.5:2259");
    } else asked.push(`${method} ${path} ${res.status}`);
  }
  // Only health and ready are the standby's own to answer.
  assertEquals(asked, ["GET /v1/health 200", "GET /v1/ready 503"]);
});
