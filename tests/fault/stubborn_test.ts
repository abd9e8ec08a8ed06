import { assert, assertEquals } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { processesWithEnv, until } from "../_helpers/proc.ts";
import { FAULT_SCORES, report } from "./_fault.ts";

Deno.test("fault 6: a score that ignores SIGTERM and forks leaves no process behind on timeout or cancel", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: FAULT_SCORES });
  await c.startConductor();
  await c.startPlayer("p1", { extra: ["--slots", "1"] });

  // Timeout.
  const mark1 = crypto.randomUUID();
  const t0 = Date.now();
  const timedOut = await c.client.submit({
    score: "stubborn",
    scope: "all",
    targets: ["p1"],
    params: { MARK: mark1 },
    timeout_ms: 1000,
  });
  const seen1 = await until("the score and its child running", () => {
    const pids = processesWithEnv("ORC_MARK", mark1);
    return pids.length >= 3 ? pids.length : undefined;
  });
  const job1 = await c.wait(timedOut);
  const timeoutMs = Date.now() - t0;
  assertEquals(job1.tasks[0].state, "timed_out");
  assertEquals(job1.tasks[0].signal, "SIGKILL");
  assertEquals(processesWithEnv("ORC_MARK", mark1), []);

  // Cancel: one running, one queued behind it (one slot).
  const mark2 = crypto.randomUUID();
  const running = await c.client.submit({
    score: "stubborn",
    scope: "all",
    targets: ["p1"],
    params: { MARK: mark2 },
  });
  const queued = await c.client.submit({
    score: "stubborn",
    scope: "all",
    targets: ["p1"],
    params: { MARK: mark2 },
  });
  const seen2 = await until("the score and its child running", () => {
    const pids = processesWithEnv("ORC_MARK", mark2);
    return pids.length >= 3 ? pids.length : undefined;
  });
  let r = await c.cli(["cancel", String(queued)]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout, `job ${queued}: 1 queued task cancelled, 0 running being stopped\n`);
  const t1 = Date.now();
  r = await c.cli(["cancel", String(running), "--wait"]);
  const cancelMs = Date.now() - t1;
  assertEquals(r.code, 3, r.stdout);
  const job2 = await c.job(running);
  assertEquals(job2.tasks[0].state, "cancelled");
  assert(job2.cancelled_at !== null);
  assertEquals((await c.job(queued)).tasks[0].state, "cancelled");
  assertEquals((await c.job(queued)).tasks[0].attempts, []);
  assertEquals(processesWithEnv("ORC_MARK", mark2), []);
  report("fault 6 (stubborn score)", {
    processes_seen_running: `${seen1},${seen2}`,
    left_after_timeout: 0,
    left_after_cancel: 0,
    timeout_1s_to_final_ms: timeoutMs,
    cancel_to_final_ms: cancelMs,
  });
});
