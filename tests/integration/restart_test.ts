/**
 * A conductor restarted with 100,000 queued tasks comes back: its memory is
 * sized by the open work, not by the work times the size of each job's
 * target list. The database is built directly through the store, as a
 * conductor killed with that much queued would have left it.
 */

import { assert, assertEquals } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { queuedTaskRow, SqliteStore } from "../../lib/store/mod.ts";
import { LOCAL_CALLER } from "../../lib/protocol/mod.ts";

/** Resident memory of a process, in MiB (Linux). */
function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

const JOBS = 10;
const TARGETS = 10_000;

Deno.test("a conductor restarted with 100,000 queued tasks of 10 jobs × 10,000 targets is ready with bounded memory", async () => {
  const names = Array.from({ length: TARGETS }, (_, i) => `node${String(i + 1).padStart(5, "0")}`);
  await using c = await Cluster.create({ players: [], listed: names });
  const store = SqliteStore.open(c.db, { create: true });
  const now = Date.now();
  let task = 0;
  await store.write((tx) => {
    tx.setConductorId(crypto.randomUUID());
    for (let j = 1; j <= JOBS; j++) {
      const rows = names.map((host) => {
        ++task;
        return queuedTaskRow({ id: task, jobId: j, seq: task, host, at: now });
      });
      tx.insertJob({
        id: j,
        score: "hello",
        secrets: {},
        scope: "all",
        targets: names,
        params: { NAME: "restart" },
        timeoutMs: null,
        deadline: null,
        retries: 0,
        requestId: null,
        submittedAt: now,
        caller: LOCAL_CALLER,
        rollout: null,
      }, rows);
    }
  });
  await store.close();

  const conductor = await c.startConductor(["--log-level", "info"]);
  const health = await c.client.health();
  assertEquals(health.open_tasks, JOBS * TARGETS);
  const rss = rssMiB(conductor.proc.child.pid);
  // Before, each task held its own parse of its job's 10,000 targets: 3.5 GiB, then out of memory.
  assert(rss < 600, `conductor RSS after loading 100,000 tasks: ${rss.toFixed(0)} MiB`);
  console.log(`FIGURES restart 10x10000: rss_mib=${rss.toFixed(0)}`);
});
