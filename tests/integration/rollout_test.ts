/**
 * Rollouts with real processes: a batch's limit read from the scores' own
 * start and end records, and an error budget stopping a rollout.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { ROOT } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");
const HOSTS = ["p1", "p2", "p3", "p4", "p5", "p6"];

async function sixPlayers(): Promise<Cluster> {
  const c = await Cluster.create({ players: HOSTS, scoresDir: TESTDATA });
  await c.startConductor();
  for (const p of HOSTS) await c.startPlayer(p);
  return c;
}

/** The most runs open at once, from "start"/"end" lines ordered by their times. */
function mostAtOnce(text: string): number {
  const marks = text.trim().split("\n").map((l) => l.split(" ")).map(([kind, , ns]) => ({
    kind,
    ns: BigInt(ns),
  }));
  // At equal times an end comes first: the runs did not overlap.
  marks.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : a.kind === "end" ? -1 : 1));
  let open = 0;
  let most = 0;
  for (const m of marks) {
    open += m.kind === "start" ? 1 : -1;
    most = Math.max(most, open);
  }
  return most;
}

Deno.test("a batch of 2 on 6 hosts never runs more than 2 at once, and runs all 6", async () => {
  await using c = await sixPlayers();
  const log = join(c.dir, "spans.log");
  const id = await c.client.submit({
    score: "spans",
    scope: "all",
    targets: HOSTS,
    params: { LOG: log },
    batch: { count: 2 },
  });
  const job = await c.wait(id);
  assertEquals(job.aggregate, "success");
  assertEquals(job.rollout, { batch: 3, batches: 3, errors: 0, errors_allowed: null });
  const text = await Deno.readTextFile(log);
  assertEquals(text.trim().split("\n").length, 12);
  assertEquals(mostAtOnce(text), 2);
});

Deno.test("max-errors stops a rollout: after 2 failures nothing more starts, the rest end skipped", async () => {
  await using c = await sixPlayers();
  const log = join(c.dir, "spans.log");
  const id = await c.client.submit({
    score: "spans",
    scope: "all",
    targets: HOSTS,
    params: { LOG: log, FAIL: "p1,p2" },
    batch: { count: 2 },
    max_errors: { count: 2 },
  });
  const job = await c.wait(id);
  assertEquals(job.counts, { failed: 2, skipped: 4 });
  assertEquals(job.aggregate, "failure");
  const ran = (await Deno.readTextFile(log)).trim().split("\n").filter((l) => l.startsWith("start"))
    .map((l) => l.split(" ")[1]).sort();
  assertEquals(ran, ["p1", "p2"]);
  assert(
    job.tasks.filter((t) => t.state === "skipped").every((t) => /error budget/.test(t.reason!)),
  );
});
