import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { submitTicker } from "../_helpers/ticker.ts";
import { ROOT, tempDir, until } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");

Deno.test("a running score's output reaches the conductor while it runs, masked, from each host", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.startPlayer("p2");
  await using job = await submitTicker(c, ["p1", "p2"], { EVERY: "0.2", TOKEN: "opensesame42" });
  const { id } = job;
  // Both tasks show their third tick while they still run: the output came before the end.
  const running = await until("three ticks from both hosts while running", async () => {
    const job = await c.job(id);
    const ok = job.tasks.every((t) =>
      t.state === "running" && t.stdout_tail.includes("tick 3 ") &&
      t.stderr_tail.includes("tock 3\n")
    );
    return ok && job;
  });
  for (const t of running.tasks) {
    assert(!t.stdout_tail.includes("opensesame42"), t.stdout_tail);
    assertMatch(t.stdout_tail, /^tick 1 token=\[secret\]\ntick 2 token=\[secret\]\n/);
    assertEquals(t.ended_at, null);
  }
  const one = await c.client.task(id, running.tasks[0].id);
  assertMatch(one.stdout_tail, /tick 3 token=\[secret\]/);

  await job.stop();
  const done = await c.wait(id);
  assertEquals(done.aggregate, "success");
  for (const t of done.tasks) assertMatch(t.stdout_tail, /done after \d+\n$/);
});

Deno.test("a player with live output off streams nothing; the result still carries the output", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1", { extra: ["--live-output-rate", "0"] });
  await using dir = await tempDir();
  const log = join(dir.path, "log");
  await using job = await submitTicker(c, ["p1"], { EVERY: "0.3", LOG: log });
  const { id } = job;
  // Tick 1 was printed two ticks before tick 3 was logged: streamed, it would be here by now.
  await until("three ticks logged", async () => {
    return (await Deno.readTextFile(log).catch(() => "")).includes("tick 3\n");
  });
  const t = (await c.job(id)).tasks[0];
  assertEquals([t.state, t.stdout_tail, t.stderr_tail], ["running", "", ""]);
  await job.stop();
  const done = await c.wait(id);
  assertMatch(done.tasks[0].stdout_tail, /^tick 1 token=\n/);
});
