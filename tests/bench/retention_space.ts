/**
 * Retention and the size of the conductor's database: cycles of M finished
 * jobs written then pruned (in batches of the pruner's size), with the file
 * size after each cycle, for a new database (made with `auto_vacuum =
 * INCREMENTAL`: pruned pages go back to the file system a little at a time)
 * and for one made before retention existed (no auto_vacuum: pruned pages are
 * reused by new jobs, so the file stays at its high-water mark); and how long
 * one prune batch takes with 100,000 old jobs.
 *
 * Run: `deno run -A tests/bench/retention_space.ts [cycles] [jobs a cycle]`.
 * Prints figures; never fails on timing.
 *
 * @module
 */

import { join } from "node:path";
import { LOCAL_CALLER } from "../../lib/protocol/mod.ts";
import { CONDUCTOR_MIGRATIONS } from "../../lib/store/conductor_schema.ts";
import { openDatabase } from "../../lib/store/db.ts";
import { queuedTaskRow } from "../../lib/store/rows.ts";
import { SqliteStore } from "../../lib/store/sqlite_store.ts";
import type { JobRecord, TaskRow } from "../../lib/store/types.ts";
import { PRUNE_BATCH_ROWS } from "../../lib/conductor/retention.ts";
import { tempDir } from "../_helpers/proc.ts";

const cycles = Number(Deno.args[0] ?? 10);
const perCycle = Number(Deno.args[1] ?? 10_000);
const OUTPUT = "a line of output from the score, as a task keeps it\n".repeat(30); // ~1.5 KiB
const MiB = (n: number) => (n / (1 << 20)).toFixed(1);

await using dir = await tempDir();

/** Writes `n` jobs of one task each, from id `first`, finished at `at`. */
async function finishedJobs(store: SqliteStore, first: number, n: number, at: number) {
  for (let start = first; start < first + n; start += 5000) {
    const end = Math.min(first + n, start + 5000);
    await store.write((tx) => {
      const done: { id: number; at: number }[] = [];
      for (let id = start; id < end; id++) {
        const job: JobRecord = {
          id,
          score: "hello",
          scope: "all",
          targets: ["p1"],
          params: { NAME: "x" },
          secrets: {},
          timeoutMs: null,
          deadline: null,
          retries: 0,
          requestId: `r-${id}`,
          submittedAt: at,
          caller: LOCAL_CALLER,
          rollout: null,
        };
        const task: TaskRow = {
          ...queuedTaskRow({ id, jobId: id, seq: id, host: "p1", at }),
          state: "succeeded",
          attempt: 1,
          assignedAt: at,
          startedAt: at,
          endedAt: at,
          result: {
            exitCode: 0,
            signal: null,
            response: { K: "v" },
            stdoutTail: OUTPUT,
            stderrTail: "",
          },
        };
        tx.insertJob(job, [task]);
        done.push({ id, at });
      }
      tx.finishJobs(done);
    });
  }
}

/** Prunes everything finished before `before`, as the pruner does; returns the batch times (ms). */
async function pruneAll(store: SqliteStore, before: number): Promise<number[]> {
  const times: number[] = [];
  for (let more = true; more;) {
    const t = performance.now();
    await store.write((tx) =>
      tx.pruneFinished({ before, auditBefore: null, maxRows: PRUNE_BATCH_ROWS }, (c) => {
        more = c.more;
      })
    );
    times.push(performance.now() - t);
  }
  return times;
}

function size(path: string): number {
  return Deno.statSync(path).size;
}

async function cyclesOn(what: string, path: string, store: SqliteStore): Promise<void> {
  const sizes: string[] = [];
  let id = 1;
  for (let c = 1; c <= cycles; c++) {
    await finishedJobs(store, id, perCycle, c * 1000);
    id += perCycle;
    const full = size(path);
    await pruneAll(store, c * 1000 + 1);
    sizes.push(`${MiB(full)}→${MiB(size(path))}`);
  }
  console.log(
    `${what}: file MiB after writing ${
      perCycle.toLocaleString("en-US")
    } jobs → after pruning them, ` +
      `cycle by cycle: ${sizes.join(", ")}`,
  );
}

// A new database: auto_vacuum = INCREMENTAL.
{
  const path = join(dir.path, "new.db");
  const store = SqliteStore.open(path, { create: true });
  await cyclesOn("new database (incremental auto_vacuum)", path, store);
  await store.close();
  console.log(
    `  once closed (WAL checkpointed): ${MiB(size(path))} MiB`,
  );
}

// A database made before retention (version 8, no auto_vacuum), migrated on open.
{
  const path = join(dir.path, "old.db");
  openDatabase(path, {
    what: "conductor database",
    migrations: CONDUCTOR_MIGRATIONS.filter((m) => m.version <= 8),
    exclusive: false,
    create: true,
  }).close();
  const store = SqliteStore.open(path);
  await cyclesOn("database made before retention (no auto_vacuum)", path, store);
  await store.close();
  console.log(
    `  once closed (WAL checkpointed): ${MiB(size(path))} MiB`,
  );
}

// One batch with 100,000 old jobs waiting.
{
  const path = join(dir.path, "batch.db");
  const store = SqliteStore.open(path, { create: true });
  await finishedJobs(store, 1, 100_000, 1000);
  const times = (await pruneAll(store, 1001)).sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  console.log(
    `prune of 100,000 old jobs: ${times.length} batches of ≤${PRUNE_BATCH_ROWS} rows, each an ` +
      `fsync'd commit: median ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms, ` +
      `max ${at(1).toFixed(1)} ms, ${
        (times.reduce((a, b) => a + b, 0) / 1000).toFixed(1)
      } s in all`,
  );
  await store.close();
}
