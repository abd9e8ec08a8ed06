import { assertEquals } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { tempDir, until } from "../_helpers/proc.ts";
import { appendedRuns, FAULT_SCORES, report } from "./_fault.ts";

Deno.test("fault 3: the conductor is down for 30 s while players finish tasks; every result arrives once after it returns", async () => {
  const players = ["p1", "p2", "p3"];
  await using c = await Cluster.create({ players, scoresDir: FAULT_SCORES });
  const first = await c.startConductor();
  for (const p of players) await c.startPlayer(p, { extra: ["--slots", "2"] });
  await using outDir = await tempDir();
  const out = outDir.path;
  // 6 jobs × 3 players: 6 tasks run at once (2 slots each), 12 wait in the conductor.
  const ids: number[] = [];
  for (let i = 0; i < 6; i++) {
    ids.push(
      await c.client.submit({
        score: "append",
        scope: "all",
        targets: players,
        params: { OUT: out, SLEEP: "2" },
      }),
    );
  }
  await until("6 tasks running", async () => {
    let running = 0;
    for (const id of ids) {
      running += (await c.job(id)).tasks.filter((t) => t.state === "running").length;
    }
    return running === 6;
  });
  await first.proc.kill9();
  const down = Date.now();

  // While it is away the running scores finish; their results wait in the players' journals.
  await until(
    "the 6 runs done",
    async () => [...(await appendedRuns(out)).values()].flat().length === 6,
    10_000,
  );
  for (const p of players) await c.players.get(p)!.waitFor(/task finished .*outcome=succeeded/);
  await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - down))));

  const back = await c.startConductor();
  const upAt = Date.now();
  for (const p of players) await c.waitConnected(p);
  const reconnectMs = Date.now() - upAt;
  for (const id of ids) assertEquals((await c.wait(id, 30_000)).aggregate, "success");

  // Every (job, host) ran exactly once: one line each, one attempt each.
  const runs = await appendedRuns(out);
  let lines = 0;
  for (const p of players) {
    const mine = runs.get(p) ?? [];
    lines += mine.length;
    assertEquals(mine.map((l) => l.split(" ")[0]).sort(), ids.map(String).sort(), p);
  }
  for (const id of ids) {
    for (const t of (await c.job(id)).tasks) assertEquals(t.attempts.length, 1);
  }
  const recorded = back.proc.lines.filter((l) => /task finished/.test(l)).length;
  const resent = players.reduce(
    (n, p) =>
      n +
      Number(
        c.players.get(p)!.log.match(/connected to the conductor .*resent=(\d+)/g)?.pop()?.match(
          /resent=(\d+)/,
        )?.[1] ?? 0,
      ),
    0,
  );
  assertEquals(resent, 6);
  report("fault 3 (conductor down 30s)", {
    down_s: Math.round((upAt - down) / 1000),
    tasks: 18,
    finished_while_down: 6,
    results_resent: resent,
    results_recorded_after_restart: recorded,
    lines: lines,
    duplicated: lines - 18,
    lost: 18 - lines,
    all_players_back_ms: reconnectMs,
  });
});
