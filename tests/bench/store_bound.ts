/**
 * What the conductor's SQLite store can take on this machine: the raw bound
 * (multi-row inserts, every commit fsync'd), whole task lives per second
 * through the store in batches shaped like the conductor's, and how long a
 * start-up takes to load 100,000 open tasks of 10 jobs.
 *
 * Run: `deno run -A tests/bench/store_bound.ts [task lives]`. Prints
 * figures; never fails on timing.
 *
 * @module
 */

import { join } from "node:path";
import { LOCAL_CALLER } from "../../lib/protocol/mod.ts";
import { SqliteStore } from "../../lib/store/sqlite_store.ts";
import type { TaskRow } from "../../lib/store/types.ts";
import { measureWriteBound } from "../../lib/store/write_bound.ts";
import { tempDir } from "../_helpers/proc.ts";

const tasks = Number(Deno.args[0] ?? 100_000);
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

await using dir = await tempDir();

const bound = await measureWriteBound(dir.path, { tasks });
console.log(
  `raw bound:   ${fmt(bound.rows_per_s)} rows/s (2,000 task-like rows per fsync'd commit)`,
);
console.log(
  `store:       ${
    fmt(bound.store_tasks_per_s)
  } task lives/s (${tasks} tasks; jobs of 1,000; per write ` +
    `1,000 assigned + 1,000 finished + a job inserted)`,
);

// Start-up: 10 jobs of 10,000 targets each, every task open.
const path = join(dir.path, "load.db");
const jobs = 10;
const perJob = 10_000;
let store = SqliteStore.open(path, { create: true });
const hosts = Array.from({ length: perJob }, (_, i) => `host-${String(i).padStart(5, "0")}`);
for (let j = 1; j <= jobs; j++) {
  const first = (j - 1) * perJob + 1;
  const rows = hosts.map((host, i): TaskRow => ({
    id: first + i,
    jobId: j,
    seq: first + i,
    host,
    state: i % 10 === 0 ? "running" : "queued",
    attempt: i % 10 === 0 ? 1 : 0,
    tried: [],
    notBefore: null,
    failures: 0,
    cancelRequested: false,
    reason: null,
    updatedAt: 1,
    assignedAt: i % 10 === 0 ? 1 : null,
    startedAt: i % 10 === 0 ? 1 : null,
    endedAt: null,
    result: null,
  }));
  await store.write((tx) =>
    tx.insertJob({
      id: j,
      score: "bench",
      scope: "all",
      secrets: {},
      targets: hosts,
      params: { A: "1" },
      timeoutMs: null,
      deadline: null,
      retries: 0,
      requestId: null,
      submittedAt: 1,
      caller: LOCAL_CALLER,
      rollout: null,
    }, rows)
  );
}
await store.close();
store = SqliteStore.open(path);
const heapBefore = Deno.memoryUsage().heapUsed;
const start = performance.now();
const snap = await store.load();
const ms = performance.now() - start;
const heapMiB = (Deno.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
console.log(
  `load:        ${fmt(snap.tasks.length)} open tasks of ${snap.jobs.length} jobs in ${
    ms.toFixed(0)
  } ms (heap +${heapMiB.toFixed(0)} MiB)`,
);
await store.close();
