import { assertEquals, assertNotMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { tempDir } from "../_helpers/proc.ts";
import { appendedRuns, FAULT_SCORES, report } from "./_fault.ts";

Deno.test("a conductor stopped (SIGSTOP) for 3 s, three times its heartbeat, drops no player when it goes on", async () => {
  const players = ["p1", "p2"];
  // Players wait 10 s for the conductor; the conductor waits only 1 s for them.
  await using c = await Cluster.create({ players, scoresDir: FAULT_SCORES, heartbeat: "10s" });
  const conductor = await c.startConductor(["--heartbeat", "1s"]);
  for (const p of players) await c.startPlayer(p);
  await using out = await tempDir();

  conductor.proc.signal("SIGSTOP");
  const stoppedAt = Date.now();
  let stoppedMs = 0;
  try {
    // The stall itself: longer than the conductor's heartbeat, shorter than the players'.
    await new Promise((r) => setTimeout(r, 3000));
  } finally {
    conductor.proc.signal("SIGCONT");
    stoppedMs = Date.now() - stoppedAt;
  }

  const id = await c.client.submit({
    score: "append",
    scope: "all",
    targets: players,
    params: { OUT: out.path },
  });
  const job = await c.wait(id);
  assertEquals(job.aggregate, "success");
  for (const t of job.tasks) assertEquals(t.attempts.length, 1, `${t.host}: ${t.attempts}`);
  const runs = await appendedRuns(out.path);
  for (const p of players) assertEquals(runs.get(p)?.length, 1, `${p} ran it ${runs.get(p)}`);

  for (const p of players) {
    assertEquals((await c.client.players()).find((x) => x.name === p)?.connected, true);
  }
  assertNotMatch(conductor.proc.log, /player disconnected/);
  for (const p of players) assertNotMatch(c.players.get(p)!.log, /disconnected from the conductor/);
  report("stall (conductor stopped)", {
    stopped_ms: stoppedMs,
    conductor_heartbeat_ms: 1000,
    players_dropped: 0,
    runs: [...runs.values()].flat().length,
  });
});
