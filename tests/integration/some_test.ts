/**
 * N-of with real processes: one target offline, the job finishes on others.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { ROOT } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");

Deno.test("orch submit --some 2 with one target offline runs on the two others and succeeds", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2", "p3"], scoresDir: TESTDATA });
  await c.startConductor();
  // p1, first in the list, is never started.
  await c.startPlayer("p2");
  await c.startPlayer("p3");
  const log = join(c.dir, "spans.log");
  const r = await c.cli([
    "submit",
    "spans",
    "--some",
    "2",
    "--offline-wait",
    "1h",
    "--target",
    "p1,p2,p3",
    `LOG=${log}`,
    "--json",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const id = (JSON.parse(r.stdout) as { id: number }).id;
  const job = await c.wait(id);
  assertEquals(job.aggregate, "success");
  assertEquals(job.counts, { succeeded: 2 });
  assertEquals(job.tasks.map((t) => t.host).sort(), ["p2", "p3"]);
  const ran = (await Deno.readTextFile(log)).trim().split("\n").filter((l) => l.startsWith("start"))
    .map((l) => l.split(" ")[1]).sort();
  assertEquals(ran, ["p2", "p3"]);
  const status = await c.cli(["status", String(id)]);
  assert(status.stdout.includes("2 of"), status.stdout);
});

Deno.test("orch submit refuses --some with --all, and --offline-wait without --some", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  const both = await c.cli(["submit", "spans", "--all", "--some", "1", "--target", "p1"]);
  assertEquals(both.code !== 0, true);
  assert(both.stderr.includes("exactly one of them"), both.stderr);
  const wait = await c.cli(["submit", "spans", "--all", "--offline-wait", "1m", "--target", "p1"]);
  assert(wait.stderr.includes("--offline-wait is for --some jobs"), wait.stderr);
});
