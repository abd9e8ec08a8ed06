/**
 * Prometheus metrics: a real conductor and a real player serve them on
 * loopback, a job runs, and both expositions are parsed with a text-format
 * parser and checked by name, type, labels and value.
 */

import type { OrchError } from "../../lib/errors.ts";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { parseExposition, type PromFamily, promtoolCheck } from "../_helpers/prom_text.ts";
import { join } from "node:path";
import { orch, ROOT, tempDir, until } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");

type Scraped = Map<string, PromFamily>;

async function scrapeText(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assertEquals(res.status, 200);
  assertMatch(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return await res.text();
}

async function scrape(port: number): Promise<Scraped> {
  return parseExposition(await scrapeText(port));
}

/**
 * The value of the sample `sample` (the family's own name unless given, e.g.
 * `x_count`) of family `name` whose labels include `labels`.
 */
function value(
  m: Scraped,
  name: string,
  labels: Record<string, string> = {},
  sample = name,
): number {
  const f = m.get(name);
  assert(f, `no metric ${name}`);
  const s = f.samples.find((x) =>
    x.name === sample && Object.entries(labels).every(([k, v]) => x.labels[k] === v)
  );
  assert(s, `no sample ${sample} of ${name} with ${JSON.stringify(labels)}`);
  return s.value;
}

/** The `_count` of histogram `name` for `labels`. */
function histogramCount(m: Scraped, name: string, labels: Record<string, string> = {}): number {
  assertEquals(m.get(name)?.type, "histogram");
  return value(m, name, labels, `${name}_count`);
}

/** Fails unless family `name` has type `type` and its samples carry exactly `labels`. */
function assertShape(m: Scraped, name: string, type: string, labels: string[] = []): void {
  const f = m.get(name);
  assert(f, `no metric ${name}`);
  assertEquals(f.type, type, `type of ${name}`);
  for (const s of f.samples) {
    const keys = Object.keys(s.labels).filter((k) => !(k === "le" && s.name.endsWith("_bucket")));
    assertEquals(keys.sort(), [...labels].sort(), `labels of ${s.name}`);
  }
}

Deno.test("conductor and player serve Prometheus metrics that count a job run", async () => {
  await using c = await Cluster.create({ players: ["m1"] });
  const cond = await c.startConductor(["--metrics-listen", "127.0.0.1:0"]);
  const cPort = Number(
    (await cond.proc.waitFor(/conductor ready .*metrics=127\.0\.0\.1:(\d+)/))[1],
  );
  const player = await c.startPlayer("m1", { extra: ["--metrics-listen", "127.0.0.1:0"] });
  const pPort = Number((await player.waitFor(/metrics listening .*metrics=127\.0\.0\.1:(\d+)/))[1]);

  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["m1"], params: {} });
  assertEquals((await c.wait(id)).aggregate, "success");
  // The player counts the run once its result is sent; the conductor once it is committed.
  await until(
    "player metrics count the run",
    async () => (await scrape(pPort)).get("orch_player_tasks_finished_total")?.samples.length === 1,
  );

  // Two requests the API refuses: a submit of a score no player has (400), a job that is not (404).
  const refused = await c.client.submit({
    score: "nosuch",
    scope: "all",
    targets: ["m1"],
    params: {},
  }).then(
    () => null,
    (err: unknown) => (err as OrchError).code,
  );
  assertEquals(refused, "invalid");
  const missing = await c.client.job(9999).then(
    () => null,
    (err: unknown) => (err as OrchError).code,
  );
  assertEquals(missing, "not_found");

  // Prometheus's own parser and linter take both expositions as they are.
  await promtoolCheck(await scrapeText(cPort), "the conductor's metrics");
  await promtoolCheck(await scrapeText(pPort), "the player's metrics");

  const m = await scrape(cPort);
  assertEquals(value(m, "orch_submits_total", { result: "refused" }), 1);
  assertEquals(value(m, "orch_api_refusals_total", { status: "400", reason: "invalid" }), 1);
  assertEquals(value(m, "orch_api_refusals_total", { status: "404", reason: "not_found" }), 1);
  assertEquals(m.get("orch_players_connected")?.type, "gauge");
  assertEquals(value(m, "orch_players_connected"), 1);
  assertEquals(value(m, "orch_players_listed"), 1);
  assertEquals(m.get("orch_player_connections_total")?.type, "counter");
  assertEquals(value(m, "orch_player_connections_total"), 1);
  assertEquals(value(m, "orch_jobs_finished_total", { aggregate: "success" }), 1);
  assertEquals(value(m, "orch_jobs_open", { aggregate: "pending" }), 0);
  assertEquals(value(m, "orch_jobs_open", { aggregate: "running" }), 0);
  assertEquals(value(m, "orch_tasks_finished_total", { score: "hello", outcome: "succeeded" }), 1);
  assertEquals(
    histogramCount(m, "orch_task_duration_seconds", { score: "hello", outcome: "succeeded" }),
    1,
  );
  for (const state of ["queued", "assigned", "running"]) {
    assertEquals(value(m, "orch_tasks", { state }), 0);
  }
  assertEquals(value(m, "orch_queue_depth"), 0);
  assertEquals(value(m, "orch_queue_oldest_age_seconds"), 0);
  assertEquals(value(m, "orch_submits_total", { result: "accepted" }), 1);
  assert(histogramCount(m, "orch_store_commit_seconds") > 0);
  assert(histogramCount(m, "orch_store_commit_batch_size") > 0);
  assert(value(m, "orch_frames_received_total") > 0);
  assert(value(m, "orch_frames_sent_total") > 0);
  assertEquals(value(m, "orch_heartbeat_misses_total"), 0);
  assert(value(m, "process_resident_memory_bytes") > 0);
  assert(m.has("nodejs_eventloop_lag_seconds"));
  // Every conductor metric the README lists, with its type and labels.
  const conductorShapes: [string, string, string[]?][] = [
    ["orch_players_connected", "gauge"],
    ["orch_players_listed", "gauge"],
    ["orch_tasks", "gauge", ["state"]],
    ["orch_jobs_open", "gauge", ["aggregate"]],
    ["orch_jobs_finished_total", "counter", ["aggregate"]],
    ["orch_tasks_finished_total", "counter", ["score", "outcome"]],
    ["orch_task_duration_seconds", "histogram", ["score", "outcome"]],
    ["orch_queue_depth", "gauge"],
    ["orch_queue_oldest_age_seconds", "gauge"],
    ["orch_queue_worst_player_depth", "gauge"],
    ["orch_queue_worst_player_oldest_age_seconds", "gauge"],
    ["orch_submits_total", "counter", ["result"]],
    ["orch_api_refusals_total", "counter", ["status", "reason"]],
    ["orch_store_commit_seconds", "histogram"],
    ["orch_store_commit_batch_size", "histogram"],
    ["orch_frames_received_total", "counter"],
    ["orch_frames_sent_total", "counter"],
    ["orch_player_connections_total", "counter"],
    ["orch_player_disconnections_total", "counter"],
    ["orch_heartbeat_misses_total", "counter"],
    ["process_resident_memory_bytes", "gauge"],
    ["process_cpu_seconds_total", "counter"],
    ["process_open_fds", "gauge"],
    ["nodejs_heap_size_used_bytes", "gauge"],
    ["nodejs_eventloop_lag_seconds", "gauge"],
    ["nodejs_eventloop_lag_p99_seconds", "gauge"],
  ];
  for (const [name, type, labels] of conductorShapes) assertShape(m, name, type, labels);
  // No job ids or host names as labels: each player's queue only when asked.
  assert(!m.has("orch_queue_player_depth"));
  for (const f of m.values()) {
    for (const s of f.samples) {
      for (const k of Object.keys(s.labels)) {
        assert(!["job", "job_id", "host", "player", "task"].includes(k), `${f.name} has ${k}`);
      }
    }
  }

  const p = await scrape(pPort);
  assertEquals(value(p, "orch_player_connected"), 1);
  assertEquals(value(p, "orch_player_connections_total"), 1);
  assertEquals(value(p, "orch_player_tasks_running"), 0);
  assertEquals(
    value(p, "orch_player_tasks_finished_total", { score: "hello", outcome: "succeeded" }),
    1,
  );
  assertEquals(
    histogramCount(p, "orch_player_task_duration_seconds", {
      score: "hello",
      outcome: "succeeded",
    }),
    1,
  );
  assert(value(p, "orch_frames_sent_total") > 0);
  assert(p.has("orch_player_live_output_sent_bytes_total"));
  assert(p.has("orch_player_live_output_dropped_bytes_total"));
  const playerShapes: [string, string, string[]?][] = [
    ["orch_player_tasks_running", "gauge"],
    ["orch_player_tasks_finished_total", "counter", ["score", "outcome"]],
    ["orch_player_task_duration_seconds", "histogram", ["score", "outcome"]],
    ["orch_player_connected", "gauge"],
    ["orch_player_connections_total", "counter"],
    ["orch_frames_received_total", "counter"],
    ["orch_frames_sent_total", "counter"],
    ["orch_heartbeat_misses_total", "counter"],
    ["orch_player_live_output_sent_bytes_total", "counter"],
    ["orch_player_live_output_dropped_bytes_total", "counter"],
    ["process_resident_memory_bytes", "gauge"],
    ["nodejs_eventloop_lag_seconds", "gauge"],
  ];
  for (const [name, type, labels] of playerShapes) assertShape(p, name, type, labels);
  assert(value(p, "process_resident_memory_bytes") > 0);

  // Only GET /metrics is served.
  const other = await fetch(`http://127.0.0.1:${cPort}/v1/jobs`);
  assertEquals(other.status, 404);
  await other.body?.cancel();
  const refusal = await fetch(`http://127.0.0.1:${cPort}/metrics`, { method: "POST" });
  assertEquals(refusal.status, 405);
  await refusal.body?.cancel();
});

Deno.test("metrics_per_player gives each listed player's queue, labelled by its name", async () => {
  await using c = await Cluster.create({ players: ["m1", "m2"] });
  const cPort = await conductorMetricsPort(c, ["--metrics-per-player", "true"]);
  await c.startPlayer("m1");
  await c.waitConnected("m1");
  // m2 is offline: its task waits in the queue.
  await c.client.submit({ score: "hello", scope: "all", targets: ["m2"], params: {} });
  const text = await until("m2's queued task is counted", async () => {
    const text = await scrapeText(cPort);
    const m = parseExposition(text);
    return value(m, "orch_queue_player_depth", { player: "m2" }) === 1 &&
      value(m, "orch_queue_player_oldest_age_seconds", { player: "m2" }) > 0 && text;
  });
  await promtoolCheck(text, "the conductor's metrics with metrics_per_player");
  const m = parseExposition(text);
  assertShape(m, "orch_queue_player_depth", "gauge", ["player"]);
  assertShape(m, "orch_queue_player_oldest_age_seconds", "gauge", ["player"]);
  // A listed player with nothing queued has its series, at 0.
  assertEquals(value(m, "orch_queue_player_depth", { player: "m1" }), 0);
  assertEquals(value(m, "orch_queue_player_oldest_age_seconds", { player: "m1" }), 0);
  assertEquals(m.get("orch_queue_player_depth")?.samples.length, 2);
  assertEquals(value(m, "orch_queue_worst_player_depth"), 1);
  // The job waiting for m2 is open and pending.
  assertEquals(value(m, "orch_jobs_open", { aggregate: "pending" }), 1);
  assertEquals(value(m, "orch_jobs_open", { aggregate: "running" }), 0);

  // A job with a score running on m1 is open and running.
  const running = await c.client.submit({
    score: "sleep",
    scope: "all",
    targets: ["m1"],
    params: { SECONDS: "600" },
  });
  await until("the sleep runs", async () => (await c.job(running)).tasks[0].state === "running");
  const r = await scrape(cPort);
  assertEquals(value(r, "orch_jobs_open", { aggregate: "running" }), 1);
  assertEquals(value(r, "orch_jobs_open", { aggregate: "pending" }), 1);
  assertEquals(value(r, "orch_tasks", { state: "running" }), 1);
  await c.client.cancel(running);
});

Deno.test("metrics_listen on an address that is not loopback is refused without metrics_listen_public", async () => {
  for (const role of ["conductor", "player"]) {
    const r = await orch([role, "--metrics-listen", "0.0.0.0:0"]);
    assertEquals(r.code, 2, r.stderr);
    assertMatch(r.stderr, /metrics_listen 0\.0\.0\.0:0 is not a loopback address/);
    assertMatch(r.stderr, /metrics_listen_public: true/);
    assert(!r.stderr.includes("    at "), r.stderr);
  }
});

/** The port the conductor's metrics listener bound, from its ready line. */
async function conductorMetricsPort(c: Cluster, extra: string[] = []): Promise<number> {
  const cond = await c.startConductor(["--metrics-listen", "127.0.0.1:0", ...extra]);
  return Number((await cond.proc.waitFor(/conductor ready .*metrics=127\.0\.0\.1:(\d+)/))[1]);
}

Deno.test("metrics count heartbeat misses on both sides and the player's reconnects", async () => {
  await using c = await Cluster.create({ players: ["m1"], heartbeat: "1s" });
  let cPort = await conductorMetricsPort(c);
  const player = await c.startPlayer("m1", { extra: ["--metrics-listen", "127.0.0.1:0"] });
  const pPort = Number((await player.waitFor(/metrics listening .*metrics=127\.0\.0\.1:(\d+)/))[1]);
  assertEquals(value(await scrape(cPort), "orch_heartbeat_misses_total"), 0);

  // The player stops answering: the conductor's heartbeat closes its connection.
  player.signal("SIGSTOP");
  try {
    await until(
      "the conductor counts a heartbeat miss",
      async () => value(await scrape(cPort), "orch_heartbeat_misses_total") >= 1,
    );
  } finally {
    player.signal("SIGCONT");
  }
  await until(
    "the player is back",
    async () => value(await scrape(cPort), "orch_player_connections_total") === 2,
  );
  const m = await scrape(cPort);
  assert(value(m, "orch_player_disconnections_total") >= 1);
  assertEquals(value(m, "orch_players_connected"), 1);
  await until(
    "the player counts its reconnect",
    async () => value(await scrape(pPort), "orch_player_connections_total") === 2,
  );

  // The conductor stops answering: the player's heartbeat closes its side.
  const misses = value(await scrape(pPort), "orch_heartbeat_misses_total");
  c.conductor!.proc.signal("SIGSTOP");
  try {
    await until(
      "the player counts a heartbeat miss",
      async () => value(await scrape(pPort), "orch_heartbeat_misses_total") > misses,
    );
  } finally {
    c.conductor!.proc.signal("SIGCONT");
  }

  // The conductor restarts: the player reconnects once more and says so.
  const before = value(await scrape(pPort), "orch_player_connections_total");
  await c.conductor!.proc.stop();
  await until(
    "the player sees the conductor gone",
    async () => value(await scrape(pPort), "orch_player_connected") === 0,
  );
  cPort = await conductorMetricsPort(c);
  await until(
    "the player reconnects to the restarted conductor",
    async () => {
      const p = await scrape(pPort);
      return value(p, "orch_player_connected") === 1 &&
        value(p, "orch_player_connections_total") > before;
    },
  );
  assert(value(await scrape(pPort), "orch_player_connections_total") > 1);
  // The restarted conductor counts from its start (its counter moves when the welcome is
  // committed, which may be after the player is listed as connected).
  await c.waitConnected("m1");
  await until(
    "the restarted conductor counts the connection",
    async () => value(await scrape(cPort), "orch_player_connections_total") === 1,
  );
  assertEquals(value(await scrape(cPort), "orch_player_connections_total"), 1);
});

Deno.test("a player's metrics count the live output it could not stream in time", async () => {
  await using c = await Cluster.create({ players: ["m1"], scoresDir: TESTDATA });
  await conductorMetricsPort(c);
  const player = await c.startPlayer("m1", {
    extra: ["--metrics-listen", "127.0.0.1:0", "--live-output-rate", "1KiB"],
  });
  const pPort = Number((await player.waitFor(/metrics listening .*metrics=127\.0\.0\.1:(\d+)/))[1]);
  await using dir = await tempDir();
  const stop = join(dir.path, "stop");
  const id = await c.client.submit({
    score: "flood",
    scope: "all",
    targets: ["m1"],
    params: { UNTIL: stop },
  });
  await until("live output streams", async () => (await c.job(id)).tasks[0].stdout_tail !== "");
  await Deno.writeTextFile(stop, "");
  assertEquals((await c.wait(id)).aggregate, "success");
  // The run's dropped bytes are counted when it ends.
  const p = await until("the run is counted", async () => {
    const p = await scrape(pPort);
    return value(p, "orch_player_tasks_finished_total", { score: "flood" }) === 1 && p;
  });
  assert(value(p, "orch_player_live_output_sent_bytes_total") > 0);
  assert(value(p, "orch_player_live_output_dropped_bytes_total") > 0);
});

Deno.test("the metrics listener holds a bounded number of connections", async () => {
  await using c = await Cluster.create({ players: [] });
  const cPort = await conductorMetricsPort(c);
  // Connections that never send a request fill the listener.
  const held: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 16; i++) {
      held.push(await Deno.connect({ hostname: "127.0.0.1", port: cPort }));
    }
    const extra = await Deno.connect({ hostname: "127.0.0.1", port: cPort });
    await extra.write(new TextEncoder().encode("GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n"));
    // Past the cap the connection is closed unanswered.
    const buf = new Uint8Array(64);
    const n = await extra.read(buf).catch(() => null);
    assertEquals(n, null);
    extra.close();
  } finally {
    for (const h of held) h.close();
  }
  // With them gone it answers again.
  await until("the listener answers", async () => (await scrape(cPort)).has("orch_players_listed"));
});
