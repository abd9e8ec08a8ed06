import { assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { tempDir, until } from "../_helpers/proc.ts";
import { FAULT_SCORES, report } from "./_fault.ts";

Deno.test("fault 5: a player removed from the players file on SIGHUP: its tasks end player_removed, nothing dangles", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2", "p3"], scoresDir: FAULT_SCORES });
  const conductor = await c.startConductor();
  await c.startPlayer("p1");
  const p3 = await c.startPlayer("p3", { extra: ["--slots", "1"] });
  const mark = crypto.randomUUID();
  // p3 runs one task and has another queued; p2 is offline with work pending; one-of jobs name them.
  const running = await c.client.submit({
    score: "stubborn",
    scope: "all",
    targets: ["p3"],
    params: { MARK: mark },
  });
  await until(
    "running on p3",
    async () => (await c.job(running)).tasks[0].state === "running",
  );
  const mixed = await c.client.submit({
    score: "stubborn",
    scope: "all",
    targets: ["p1", "p2", "p3"],
    params: { MARK: mark },
    timeout_ms: 500,
  });
  const oneOf = await c.client.submit({
    score: "stubborn",
    scope: "one",
    targets: ["p2", "p3"],
    params: { MARK: mark },
  });
  await until(
    "p1's part done",
    async () => (await c.job(mixed)).tasks.find((t) => t.host === "p1")?.state === "timed_out",
  );

  await c.writePlayersFile(["p1"]);
  const t0 = Date.now();
  conductor.proc.signal("SIGHUP");
  await conductor.proc.waitFor(/players file reloaded .*removed=p2,p3/);
  for (const id of [running, mixed, oneOf]) await c.wait(id, 5000);
  const finalMs = Date.now() - t0;

  const j1 = await c.job(running);
  assertEquals(j1.tasks[0].state, "player_removed");
  assertEquals(j1.aggregate, "failure");
  const j2 = await c.job(mixed);
  assertEquals(Object.fromEntries(j2.tasks.map((t) => [t.host, t.state])), {
    p1: "timed_out",
    p2: "player_removed",
    p3: "player_removed",
  });
  const j3 = await c.job(oneOf);
  assertEquals(j3.tasks[0].state, "player_removed");
  assertMatch(j3.tasks[0].reason ?? "", /none of its targets is in the players file/);
  assertEquals((await c.client.health()).open_tasks, 0);
  await p3.waitFor(/the conductor refused this player .*p3 was removed from the players file/);
  const players = await c.client.players();
  assertEquals(players.find((p) => p.name === "p3")?.authorised, false);
  assertEquals(players.find((p) => p.name === "p3")?.connected, false);
  report("fault 5 (players file reload)", {
    jobs: 3,
    tasks_ended_player_removed: 4,
    open_tasks_after: 0,
    sighup_to_final_ms: finalMs,
  });
});

Deno.test("fault 5b: the players file edited while the conductor is down: at start, the removed players' tasks end player_removed", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"], scoresDir: FAULT_SCORES });
  const first = await c.startConductor();
  await c.startPlayer("p1");
  await using outDir = await tempDir();
  const out = outDir.path;
  const allOf = await c.client.submit({
    score: "append",
    scope: "all",
    targets: ["p1", "p2"],
    params: { OUT: out },
  });
  const oneOf = await c.client.submit({
    score: "append",
    scope: "one",
    targets: ["p2"],
    params: { OUT: out },
  });
  await until(
    "p1's part done",
    async () => (await c.job(allOf)).tasks.find((t) => t.host === "p1")?.state === "succeeded",
  );
  await first.proc.stop();
  await c.writePlayersFile(["p1"]);
  const back = await c.startConductor();
  await back.proc.waitFor(/tasks of players no longer listed ended player_removed .*tasks=2/);
  const j1 = await c.wait(allOf, 5000);
  assertEquals(Object.fromEntries(j1.tasks.map((t) => [t.host, t.state])), {
    p1: "succeeded",
    p2: "player_removed",
  });
  assertEquals((await c.wait(oneOf, 5000)).tasks[0].state, "player_removed");
  assertEquals((await c.client.health()).open_tasks, 0);
});
