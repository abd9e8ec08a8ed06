/**
 * Drain with real processes: a drained player finishes the score it runs
 * but is given no new work — its queued all-of task waits, one-of tasks go
 * to their other target — through a conductor restart, until it is
 * undrained. Every "did not run" is read after a later job has gone
 * elsewhere, so the conductor had its chance to place the waiting task.
 */

import { join } from "node:path";
import { assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { ROOT } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");

/** `orch players` as rows of words, by name. */
async function playerRows(c: Cluster): Promise<Map<string, string>> {
  const r = await c.cli(["players"]);
  assertEquals(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split("\n").slice(1);
  return new Map(rows.map((l) => [l.split(/\s+/)[0], l]));
}

/** Runs a one-of job on p1 then p2 (p1 first in order, with free slots) and says where it ran. */
async function oneOfRanOn(c: Cluster, log: string): Promise<string | null> {
  const id = await c.client.submit({
    score: "spans",
    scope: "one",
    targets: ["p1", "p2"],
    params: { LOG: log },
  });
  const job = await c.wait(id);
  assertEquals(job.aggregate, "success");
  return job.tasks[0].host;
}

async function stateOf(c: Cluster, id: number): Promise<[string | null, string]> {
  const [t] = (await c.job(id)).tasks;
  return [t.host, t.state];
}

Deno.test("a drained player finishes its running score but takes no new work, through a conductor restart, until undrained", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.startPlayer("p2");
  const release = join(c.dir, "release");
  const log = join(c.dir, "spans.log");
  const holdon = { score: "holdon", scope: "all" as const, targets: ["p1"] };

  const running = await c.submitRunning({ ...holdon, params: { UNTIL: release } });
  const drained = await c.cli(["drain", "p1"]);
  assertEquals(drained.code, 0, drained.stderr);
  assertEquals(drained.stdout, "p1: draining, 1 task still there\n");
  let rows = await playerRows(c);
  assertMatch(rows.get("p1")!, /\bconnected, draining\b/);
  assertMatch(rows.get("p2")!, /\bconnected\b/);
  assertEquals(/draining/.test(rows.get("p2")!), false);

  // A new all-of task for p1 waits; a one-of job goes to p2 although p1 comes first and has free
  // slots; the score p1 was running goes on.
  const waiting = await c.client.submit({ ...holdon, params: { UNTIL: release } });
  assertEquals(await oneOfRanOn(c, log), "p2");
  assertEquals(await stateOf(c, waiting), ["p1", "queued"]);
  assertEquals(await stateOf(c, running), ["p1", "running"]);

  // The running score finishes; p1 is all free now, and still gets nothing.
  await Deno.writeTextFile(release, "");
  const done = await c.wait(running);
  assertEquals([done.aggregate, done.tasks[0].host], ["success", "p1"]);
  assertEquals(await oneOfRanOn(c, log), "p2");
  assertEquals(await stateOf(c, waiting), ["p1", "queued"]);

  // The drain is kept across a conductor restart.
  await c.conductor!.proc.stop();
  await c.startConductor();
  await c.waitConnected("p1");
  await c.waitConnected("p2");
  rows = await playerRows(c);
  assertMatch(rows.get("p1")!, /\bconnected, draining\b/);
  assertEquals(await oneOfRanOn(c, log), "p2");
  assertEquals(await stateOf(c, waiting), ["p1", "queued"]);

  // Undrained, p1 runs the task that waited.
  const undrained = await c.cli(["undrain", "p1"]);
  assertEquals(undrained.code, 0, undrained.stderr);
  assertEquals(undrained.stdout, "p1: takes new work\n");
  const ran = await c.wait(waiting);
  assertEquals([ran.aggregate, ran.tasks[0].host], ["success", "p1"]);
  rows = await playerRows(c);
  assertEquals(/draining/.test(rows.get("p1")!), false);
});
