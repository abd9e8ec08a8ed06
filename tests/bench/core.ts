/**
 * The conductor's core alone, in-process: K test players over the link seam
 * (no TLS, no processes), the real SQLite store, every commit fsync'd. An
 * all-of job on all K, submit to all results committed; then sustained
 * completions per second. Prints figures; never fails on them.
 *
 * deno run -A tests/bench/core.ts [K] [windowSeconds]
 */

import { join } from "node:path";
import { systemClock } from "../../lib/conductor/mod.ts";
import { SqliteStore } from "../../lib/store/mod.ts";
import { inProcessConductor } from "../_helpers/in_process.ts";
import { LOCAL_CALLER, type SubmitRequest } from "../../lib/protocol/mod.ts";
import { TestPlayer } from "../_helpers/test_player.ts";

const K = Number(Deno.args[0] ?? 10_000);
const WINDOW_S = Number(Deno.args[1] ?? 5);
const names = Array.from({ length: K }, (_, i) => `p${i + 1}`);
const dbDir = await Deno.makeTempDir({ prefix: "orch-core-bench-" });
const h = await inProcessConductor({
  players: names,
  clock: systemClock,
  store: SqliteStore.open(join(dbDir, "conductor.db"), { create: true }),
});
const conductor = h.conductor;
let completed = 0;
const players = names.map((n) => new TestPlayer(conductor, n));
const t0 = performance.now();
await Promise.all(players.map((p) => p.join({ slots: 4 })));
console.log(`connect ${K}: ${(performance.now() - t0).toFixed(0)} ms`);
for (const p of players) {
  // Answer each assignment at once, as the bench's simulated players do.
  const loop = async () => {
    for (;;) {
      const a = await p.next("assign").catch(() => null);
      if (!a) return;
      p.run(a);
      completed++;
    }
  };
  loop();
}
const job: SubmitRequest = {
  score: "hello",
  scope: "all",
  targets: names,
  params: {},
  timeout_ms: null,
  deadline: null,
  retries: 0,
  request_id: null,
};
const t1 = performance.now();
const id = await conductor.service.submit(job, LOCAL_CALLER);
const t2 = performance.now();
await conductor.service.waitJob(id, 120_000);
const t3 = performance.now();
console.log(
  `all-of on ${K}: submit answered ${(t2 - t1).toFixed(0)} ms, all results committed ${
    (t3 - t1).toFixed(0)
  } ms`,
);
const start = completed;
const until = performance.now() + WINDOW_S * 1000;
const inflight: Promise<unknown>[] = [];
while (performance.now() < until) {
  while (inflight.length < 3) {
    const p = conductor.service.submit(job, LOCAL_CALLER).then((id) =>
      conductor.service.waitJob(id, 120_000)
    );
    inflight.push(p);
    p.then(() => inflight.splice(inflight.indexOf(p), 1));
  }
  await Promise.race(inflight);
}
const done = completed - start;
console.log(`sustained: ${(done / WINDOW_S).toFixed(0)} completions/s over ${WINDOW_S}s`);
await Promise.all(inflight);
for (const p of players) p.disconnect();
await h[Symbol.asyncDispose]();
await Deno.remove(dbDir, { recursive: true });
