import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { orch } from "../_helpers/proc.ts";
import { OrchError } from "../../lib/errors.ts";
import { type AuditRecord, LOCAL_CALLER, type PruneResponse } from "../../lib/protocol/mod.ts";
import { type JobRecord, queuedTaskRow, SqliteStore, type TaskRow } from "../../lib/store/mod.ts";

const DAY = 86_400_000;

/** A job of one task on `host`. */
function job(id: number, host: string, at: number): JobRecord {
  return {
    id,
    score: "hello",
    scope: "all",
    targets: [host],
    params: { NAME: "old" },
    secrets: {},
    timeoutMs: null,
    deadline: null,
    retries: 0,
    requestId: `old-${id}`,
    submittedAt: at,
    caller: LOCAL_CALLER,
    rollout: null,
  };
}

/** A task that ran on `host` and succeeded at `at`. */
function succeeded(id: number, host: string, at: number): TaskRow {
  return {
    ...queuedTaskRow({ id, jobId: id, seq: id, host, at }),
    state: "succeeded",
    attempt: 1,
    assignedAt: at,
    startedAt: at,
    endedAt: at,
    result: {
      exitCode: 0,
      signal: null,
      response: { greeting: "hello" },
      stdoutTail: "hello\n",
      stderrTail: "",
    },
  };
}

/**
 * Writes `finished` jobs finished 60 days ago and older (job 1 the oldest,
 * job `finished` the newest), and `open` jobs submitted 90 days ago whose
 * task waits for `offline`, into a new conductor database at `path`.
 */
async function oldJobs(path: string, finished: number, open: number, offline: string) {
  const store = SqliteStore.open(path, { create: true });
  const newest = Date.now() - 60 * DAY;
  try {
    for (let start = 1; start <= finished; start += 10_000) {
      const end = Math.min(finished, start + 9_999);
      await store.write((tx) => {
        const done: { id: number; at: number }[] = [];
        for (let id = start; id <= end; id++) {
          const at = newest - (finished - id) * 1000;
          tx.insertJob(job(id, "p1", at - 5000), [succeeded(id, "p1", at)]);
          done.push({ id, at });
        }
        tx.finishJobs(done);
      });
    }
    await store.write((tx) => {
      for (let id = finished + 1; id <= finished + open; id++) {
        const at = Date.now() - 90 * DAY;
        tx.insertJob(job(id, offline, at), [
          queuedTaskRow({ id, jobId: id, seq: id, host: offline, at }),
        ]);
      }
    });
  } finally {
    await store.close();
  }
}

/** Whether job `id` is there (false once it is pruned). */
async function exists(c: Cluster, id: number): Promise<boolean> {
  try {
    await c.client.job(id);
    return true;
  } catch (err) {
    if (err instanceof OrchError && err.code === "not_found") return false;
    throw err;
  }
}

Deno.test("retention prunes 100,000 old jobs in batches while submits keep being answered, and never an open job", async () => {
  const OLD = 100_000;
  const OPEN = 5;
  await using c = await Cluster.create({ players: ["p1"], listed: ["p1", "ghost"] });
  // A first start stores what p1 announces, so that submits are admitted at once after the
  // restart, while p1 is still reconnecting.
  await c.startConductor();
  await c.startPlayer("p1");
  await c.conductor!.proc.stop();
  await oldJobs(c.db, OLD, OPEN, "ghost");
  const conductor = await c.startConductor(["--retention", "30d"]);

  // Submits go on while the pruner works through the old jobs, oldest first: the newest old job
  // (OLD) goes last, so while it is there the prune is under way.
  const submitted: number[] = [];
  let answeredWhilePruning = 0;
  for (let i = 0; i < 2000 && (await exists(c, OLD)); i++) {
    submitted.push(
      await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} }),
    );
    if (await exists(c, OLD)) answeredWhilePruning++;
  }
  // Not a timing: a conductor that stalled while pruning would answer only a few submits in all
  // the time the prune takes (the 400 batches interleave with them; about 80 are answered here).
  assert(
    answeredWhilePruning >= 10,
    `only ${answeredWhilePruning} submits were answered while the prune was under way`,
  );

  const line = await conductor.proc.waitFor(
    /pruned old jobs jobs=(\d+) tasks=(\d+).*batches=(\d+)/,
    120_000,
  );
  assertEquals([Number(line[1]), Number(line[2])], [OLD, OLD]);
  // In batches: each removes at most 500 rows (a job and its task are two).
  assert(Number(line[3]) >= (2 * OLD) / 500, `too few batches: ${line[0]}`);

  for (const id of submitted) assertEquals((await c.wait(id)).aggregate, "success");
  for (const id of [1, OLD / 2, OLD]) assertEquals(await exists(c, id), false, `job ${id}`);
  const left = await c.client.prune(Date.now() - 30 * DAY, true);
  assertEquals([left.jobs, left.tasks], [0, 0]);
  for (let id = OLD + 1; id <= OLD + OPEN; id++) {
    const open = await c.client.job(id);
    assertEquals([open.finished_at, open.counts], [null, { queued: 1 }], `open job ${id}`);
  }
  // Ids go on from the highest ever used, though the job that had it is gone.
  assert(submitted.every((id) => id > OLD + OPEN), `ids reused: ${submitted.slice(0, 5)}`);
});

Deno.test("orch prune --before prunes the jobs finished before then, never an open one, and is audited", async () => {
  await using c = await Cluster.create({ players: ["p1"], listed: ["p1", "ghost"] });
  await c.startConductor();
  await c.startPlayer("p1");
  const done: number[] = [];
  for (let i = 0; i < 3; i++) {
    const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
    await c.wait(id);
    done.push(id);
  }
  const open = await c.client.submit({
    score: "hello",
    scope: "all",
    targets: ["ghost"],
    params: {},
  });

  // Nothing finished an hour ago.
  const none = await c.cli(["prune", "--before", "1h", "--json"]);
  assertEquals(none.code, 0, none.stderr);
  assertEquals((JSON.parse(none.stdout) as PruneResponse).jobs, 0);
  const dry = await c.cli(["prune", "--before", "0s", "--dry-run"]);
  assertEquals(dry.code, 0, dry.stderr);
  assertMatch(dry.stdout, /^would prune 3 jobs and 3 tasks finished before \d{4}-/);
  for (const id of done) assertEquals(await exists(c, id), true);

  const r = await c.cli(["prune", "--before", "0s"]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /^pruned 3 jobs and 3 tasks finished before \d{4}-/);
  for (const id of done) assertEquals(await exists(c, id), false, `job ${id}`);
  const status = await c.cli(["status", String(done[0])]);
  assertEquals(status.code, 2, status.stderr);
  assertMatch(status.stderr, new RegExp(`no job ${done[0]}`));
  assertEquals((await c.client.job(open)).finished_at, null);

  const audit = await c.cli(["audit", "--json"]);
  assertEquals(audit.code, 0, audit.stderr);
  const prunes = (JSON.parse(audit.stdout) as { records: AuditRecord[] }).records
    .filter((a) => a.action === "prune");
  assertEquals(prunes.map((a) => a.outcome), ["allowed", "allowed", "allowed"]);
  assertMatch(prunes[0].subject, /^jobs finished before \d{4}-.*: 3 jobs, 3 tasks$/);
  assertMatch(prunes[1].subject, /^dry run: jobs finished before .*: 3 jobs, 3 tasks$/);
});

Deno.test("orch prune refuses a bad or missing --before, a time later than now, and a caller without the grant", async () => {
  await using c = await Cluster.create({
    players: ["p1"],
    grants: `grants:
  - who: [local:root]
    may: [all]
  - who: [audience:bob]
    may: [read_all, audit]
`,
  });
  await c.issueAudience("bob");
  await c.startConductor();

  for (
    const [args, pattern] of [
      [[], /--before is needed/],
      [["--before", "yesterday"], /--before "yesterday" is neither a duration/],
      [["--before", "2999-01-01T00:00:00Z"], /--before "2999-01-01T00:00:00Z" is later than now/],
    ] as const
  ) {
    const r = await c.cli(["prune", ...args]);
    assertEquals(r.code, 2, `${args}: ${r.stderr}`);
    assertMatch(r.stderr, pattern);
    assert(!r.stderr.includes("    at "), `a stack trace: ${r.stderr}`);
  }
  // The API refuses a cutoff later than now too, naming the field.
  const res = await c.socketFetch("/v1/prune", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ before: Date.now() + DAY }),
  });
  assertEquals(res.status, 400);
  assertMatch(await res.text(), /before: .* is later than now/);

  const bob = await orch(["prune", "--before", "1d", ...c.httpsFlags("bob")]);
  assertEquals(bob.code, 2, bob.stderr);
  assertMatch(bob.stderr, /audience:bob may not prune jobs/);
  const audit = await c.cli(["audit", "--json"]);
  const refused = (JSON.parse(audit.stdout) as { records: AuditRecord[] }).records
    .filter((a) => a.action === "prune" && a.outcome === "refused");
  assertEquals(refused.map((a) => a.who).sort(), ["audience:bob", "local:root"]);
});
