/**
 * Quorums with real processes: an all-of job on three players, one of them
 * offline so that its task is still queued when the quorum is decided —
 * reached (two succeeded) or made impossible (two failed) — and that task
 * ends `skipped` with the reason, as `orch status` shows.
 */

import { join } from "node:path";
import { assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { ROOT } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");

/** p1, p2 and p3 listed, p3 never started: its all-of task stays queued. */
async function twoOfThree(): Promise<Cluster> {
  const c = await Cluster.create({ players: ["p1", "p2", "p3"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.startPlayer("p2");
  return c;
}

async function submit(c: Cluster, args: string[]): Promise<number> {
  const r = await c.cli(["submit", "spans", "--all", "-t", "p1,p2,p3", ...args, "--json"]);
  assertEquals(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { id: number }).id;
}

Deno.test("a quorum reached: the job succeeds once 2 of 3 succeeded, and the task still queued ends skipped", async () => {
  await using c = await twoOfThree();
  const id = await submit(c, ["--quorum", "2", `LOG=${join(c.dir, "spans.log")}`]);
  const job = await c.wait(id);
  assertEquals(job.aggregate, "success");
  assertEquals(job.counts, { succeeded: 2, skipped: 1 });
  assertEquals(job.tasks.map((t) => [t.host, t.state]), [
    ["p1", "succeeded"],
    ["p2", "succeeded"],
    ["p3", "skipped"],
  ]);
  assertEquals(job.tasks[2].reason, "its quorum was reached: 2 of 2 needed succeeded");
  assertEquals(job.tasks[2].attempts.length, 0, "the skipped task never started");

  const status = await c.cli(["status", String(id)]);
  assertEquals(status.code, 0, status.stderr);
  assertMatch(status.stdout, /^aggregate: success \(2 succeeded, 1 skipped\)$/m);
  assertMatch(status.stdout, /^rollout: quorum 2 of 3$/m);
  assertMatch(status.stdout, /^p3 +skipped\b.*\n +reason: its quorum was reached: 2 of 2 needed/m);
});

Deno.test("a quorum made impossible: the job fails as soon as 2 of 3 can no longer succeed, and the task still queued ends skipped", async () => {
  await using c = await twoOfThree();
  const log = join(c.dir, "spans.log");
  const id = await submit(c, ["--quorum", "2", `LOG=${log}`, "FAIL=p1,p2"]);
  const job = await c.wait(id);
  assertEquals(job.aggregate, "failure");
  assertEquals(job.counts, { failed: 2, skipped: 1 });
  assertEquals(job.tasks.map((t) => [t.host, t.state]), [
    ["p1", "failed"],
    ["p2", "failed"],
    ["p3", "skipped"],
  ]);
  assertMatch(
    job.tasks[2].reason ?? "",
    /^its quorum of 2 can no longer be reached: 0 succeeded, \d+ left$/,
  );
  // Only the two players that were there ran it.
  const ran = (await Deno.readTextFile(log)).trim().split("\n").filter((l) => l.startsWith("start"))
    .map((l) => l.split(" ")[1]).sort();
  assertEquals(ran, ["p1", "p2"]);

  const status = await c.cli(["status", String(id)]);
  assertEquals(status.code, 0, status.stderr);
  assertMatch(status.stdout, /^aggregate: failure \(2 failed, 1 skipped\)$/m);
  assertMatch(
    status.stdout,
    /^p3 +skipped\b.*\n +reason: its quorum of 2 can no longer be reached/m,
  );
});
