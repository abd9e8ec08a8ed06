/**
 * Makes a SQLite conductor database for timing `orch store migrate`: JOBS
 * finished jobs (default 100,000) of one task each, every tenth with one
 * earlier attempt in history, and an audit record per job — written through
 * the store's write interface, 1,000 jobs per write.
 *
 * Run: `deno run -A tests/bench/migrate_source.ts PATH [JOBS]`, then e.g.
 * `/usr/bin/time -v orch store migrate --from sqlite:PATH --to postgres://…`.
 * Not part of `make test`.
 *
 * @module
 */

import { LOCAL_CALLER } from "../../lib/protocol/mod.ts";
import { SqliteStore } from "../../lib/store/sqlite_store.ts";
import type { AttemptRow, JobRecord, NewAuditRecord, TaskRow } from "../../lib/store/types.ts";

const path = Deno.args[0];
const jobs = Number(Deno.args[1] ?? 100_000);
if (!path || !Number.isSafeInteger(jobs) || jobs < 1 || jobs > 10_000_000) {
  console.error("usage: migrate_source.ts PATH [JOBS (1 to 10,000,000)]");
  Deno.exit(2);
}
const PER_WRITE = 1000;
const t0 = Date.UTC(2026, 0, 1);
const store = SqliteStore.open(path, { create: true });
await store.write((tx) => tx.setConductorId(crypto.randomUUID()));
const out = "x".repeat(200);
for (let first = 1; first <= jobs; first += PER_WRITE) {
  const last = Math.min(jobs, first + PER_WRITE - 1);
  await store.write((tx) => {
    const attempts: AttemptRow[] = [];
    const audit: NewAuditRecord[] = [];
    const finished: { id: number; at: number }[] = [];
    for (let id = first; id <= last; id++) {
      const at = t0 + id * 1000;
      const host = `host-${String(id % 500).padStart(3, "0")}`;
      const retried = id % 10 === 0;
      const job: JobRecord = {
        id,
        score: id % 3 === 0 ? "deploy" : "hello",
        scope: "all",
        targets: [host],
        params: { NAME: `n${id}` },
        secrets: {},
        timeoutMs: null,
        deadline: null,
        retries: retried ? 1 : 0,
        requestId: `req-${id}`,
        submittedAt: at,
        caller: LOCAL_CALLER,
        rollout: null,
      };
      const task: TaskRow = {
        id,
        jobId: id,
        seq: id,
        host,
        state: "succeeded",
        attempt: retried ? 2 : 1,
        tried: [],
        notBefore: null,
        failures: retried ? 1 : 0,
        cancelRequested: false,
        reason: null,
        updatedAt: at + 500,
        assignedAt: at + 10,
        startedAt: at + 20,
        endedAt: at + 500,
        result: {
          exitCode: 0,
          signal: null,
          response: { ok: true },
          stdoutTail: out,
          stderrTail: "",
        },
      };
      tx.insertJob(job, [task]);
      if (retried) {
        attempts.push({
          taskId: id,
          attempt: 1,
          player: host,
          state: "failed",
          assignedAt: at + 1,
          startedAt: at + 2,
          endedAt: at + 5,
          error: null,
          result: { exitCode: 1, signal: null, response: null, stdoutTail: "", stderrTail: "no" },
        });
      }
      audit.push({
        at,
        who: "local:root",
        auth: "socket_mode",
        transport: "socket",
        from: "socket",
        action: "submit",
        subject: `job ${id}`,
        job_id: id,
        outcome: "allowed",
        reason: null,
      });
      finished.push({ id, at: at + 500 });
    }
    tx.addAttempts(attempts);
    tx.addAudit(audit);
    tx.finishJobs(finished);
  });
}
await store.close();
console.log(
  `made ${path}: ${jobs} jobs, ${jobs} tasks, ${
    Math.floor(jobs / 10)
  } attempts in history, ${jobs} audit records`,
);
