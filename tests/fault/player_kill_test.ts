import { assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { processesWithEnv, tempDir, until } from "../_helpers/proc.ts";
import { appendedRuns, FAULT_SCORES, report } from "./_fault.ts";

Deno.test("fault 2: a player killed with -9 mid-score: the task ends interrupted when it returns, and never runs again", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: FAULT_SCORES });
  await c.startConductor();
  const p1 = await c.startPlayer("p1");
  await using outDir = await tempDir();
  const out = outDir.path;
  const id = await c.submitRunning({
    score: "append",
    scope: "all",
    targets: ["p1"],
    params: { OUT: out, SLEEP: "30" },
  });
  // Found by its OUT parameter, this test's own temp dir: job ids start at 1 in every cluster.
  await until("the score's process", () => processesWithEnv("ORC_OUT", out).length > 0);
  await p1.kill9();
  // The score outlives its player, in its own process group.
  const orphans = processesWithEnv("ORC_OUT", out).length;

  const t0 = Date.now();
  const back = await c.startPlayer("p1");
  await back.waitFor(/task interrupted by a player restart .*stopped=true/);
  const job = await c.wait(id);
  const ms = Date.now() - t0;
  assertEquals(job.tasks[0].state, "interrupted");
  assertMatch(
    job.tasks[0].reason ?? "",
    /the player stopped while the score ran; its leftover processes were stopped/,
  );
  assertEquals(job.tasks[0].attempts.length, 1);
  assertEquals(processesWithEnv("ORC_OUT", out), []);
  // It does not run again: no line was ever appended, and the player holds nothing.
  assertEquals((await appendedRuns(out)).get("p1") ?? [], []);
  assertEquals((await c.client.players())[0].running, 0);
  report("fault 2 (player kill -9)", {
    orphaned_processes: orphans,
    left_after_restart: 0,
    restart_to_interrupted_ms: ms,
    runs: 0,
  });
});

Deno.test("fault 2b: a player killed with -9 that stays away is declared lost; its task ends interrupted and runs once only", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: FAULT_SCORES });
  const conductor = await c.startConductor(["--lost-after", "2s"]);
  const p1 = await c.startPlayer("p1");
  await using outDir = await tempDir();
  const out = outDir.path;
  const id = await c.submitRunning({
    score: "append",
    scope: "all",
    targets: ["p1"],
    params: { OUT: out, SLEEP: "3" },
  });
  await p1.kill9();
  const t0 = Date.now();
  const job = await c.wait(id);
  const declaredMs = Date.now() - t0;
  assertEquals(job.tasks[0].state, "interrupted");
  assertMatch(job.tasks[0].reason ?? "", /p1 was gone for more than 2s/);
  await conductor.proc.waitFor(/player lost: ending its tasks player=p1 tasks=1/);

  // The orphaned score finishes its one run; the player comes back and reports; nothing runs again.
  await until(
    "the orphan's run",
    async () => ((await appendedRuns(out)).get("p1") ?? []).length === 1,
  );
  const back = await c.startPlayer("p1");
  await back.waitFor(/result acknowledged/);
  const after = await c.job(id);
  assertEquals(after.tasks[0].state, "interrupted");
  assertEquals(after.tasks[0].attempts.length, 1);
  assertEquals((await appendedRuns(out)).get("p1"), [`${id} ${job.tasks[0].id} 1`]);
  report("fault 2b (player declared lost)", {
    lost_after_ms: 2000,
    kill_to_interrupted_ms: declaredMs,
    runs: 1,
  });
});
