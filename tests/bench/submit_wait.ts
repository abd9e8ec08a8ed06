/**
 * Wall time of `orch submit hello --all --wait` on 3 players on loopback:
 * the whole command as a user runs it (process start included), and the
 * same round trip inside one process through the client library.
 *
 * Run: `make bench` (or `deno run -A tests/bench/submit_wait.ts [runs]`).
 * Prints figures; never fails on timing.
 *
 * @module
 */

import { join } from "node:path";
import { Cluster } from "../_helpers/cluster.ts";
import { orch, ROOT } from "../_helpers/proc.ts";

const runs = Number(Deno.args[0] ?? 10);
const players = ["p1", "p2", "p3"];

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return `median ${median.toFixed(1)} ms  (min ${s[0].toFixed(1)}, max ${
    s[s.length - 1].toFixed(1)
  }, n=${s.length})`;
}

await using c = await Cluster.create({ players });
await c.startConductor(["--log-level", "info"]);
for (const p of players) await c.startPlayer(p, { extra: ["--log-level", "info"] });
const args = [
  "submit",
  "hello",
  "--all",
  "--target",
  players.join(","),
  "--wait",
  "--socket",
  c.socket,
];

// Warm up: compile caches, SQLite pages, first TLS sessions.
for (let i = 0; i < 3; i++) await orch(args);

const bundle = join(ROOT, "dist/orch.js");
const haveBundle = await Deno.stat(bundle).then(() => true, () => false);
const rows: [string, number[]][] = [];
for (
  const [label, entry] of [["source (deno run main.ts)", undefined], [
    "bundle (deno run dist/orch.js)",
    haveBundle ? bundle : null,
  ]] as const
) {
  if (entry === null) continue;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await orch(args, { entry });
    times.push(performance.now() - t0);
    if (r.code !== 0) throw new Error(`orch ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  }
  rows.push([`orch submit --wait, ${label}`, times]);
}

const client = c.client;
const inproc: number[] = [];
for (let i = 0; i < runs * 5; i++) {
  const t0 = performance.now();
  const id = await client.submit({ score: "hello", scope: "all", targets: players, params: {} });
  const job = await client.waitJob(id, { timeoutMs: 10_000 });
  inproc.push(performance.now() - t0);
  if (job.aggregate !== "success") throw new Error(`job ${id}: ${job.aggregate}`);
}
rows.push(["submit + wait through the client library (no process start)", inproc]);

const start = performance.now();
const noop = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  await orch(["--version"]);
  noop.push(performance.now() - t0);
}
rows.push(["orch --version (process start alone, source)", noop]);

console.log(`hello on all of ${players.length} players, loopback, ${Deno.build.target}`);
for (const [label, times] of rows) console.log(`${label.padEnd(64)} ${stats(times)}`);
console.log(
  `(measured in ${
    ((performance.now() - start) / 1000).toFixed(1)
  } s; command: deno run -A tests/bench/submit_wait.ts ${runs})`,
);
