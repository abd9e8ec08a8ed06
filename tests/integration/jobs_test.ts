import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { until } from "../_helpers/proc.ts";

Deno.test("an all-of job runs the hello score on every player and returns each response", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2", "p3"] });
  await c.startConductor();
  await Promise.all(["p1", "p2", "p3"].map((p) => c.startPlayer(p)));

  const id = await c.client.submit({
    score: "hello",
    scope: "all",
    targets: ["p1", "p2", "p3"],
    params: { NAME: "ops" },
  });
  const job = await c.wait(id);

  assertEquals(job.aggregate, "success");
  assertEquals(job.tasks.map((t) => t.host).sort(), ["p1", "p2", "p3"]);
  for (const t of job.tasks) {
    assertEquals(t.state, "succeeded");
    assertEquals(t.exit_code, 0);
    assertEquals(t.response, { greeting: `hello, ops from ${t.host}`, job: String(id) });
    assert(t.started_at !== null && t.ended_at !== null && t.ended_at >= t.started_at);
  }
});

Deno.test("a one-of job runs once, on the first free target in the order given", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"] });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.startPlayer("p2");

  const id = await c.client.submit({
    score: "hello",
    scope: "one",
    targets: ["p2", "p1"],
    params: {},
  });
  const job = await c.wait(id);

  assertEquals(job.aggregate, "success");
  assertEquals(job.tasks.length, 1);
  assertEquals(job.tasks[0].host, "p2");
  assertEquals(job.tasks[0].response?.greeting, "hello, world from p2");
});

Deno.test("a one-of job goes to another target while the first is busy", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"] });
  await c.startConductor();
  await c.startPlayer("p1", { extra: ["--slots", "1"] });
  await c.startPlayer("p2");

  await c.submitRunning({
    score: "sleep",
    scope: "all",
    targets: ["p1"],
    params: { SECONDS: "3" },
  });
  const id = await c.client.submit({
    score: "hello",
    scope: "one",
    targets: ["p1", "p2"],
    params: {},
  });
  const job = await c.wait(id);
  assertEquals(job.tasks[0].host, "p2");
});

Deno.test("aggregate: failure when no task succeeds, partial when some do", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"] });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.startPlayer("p2");

  const failed = await c.wait(
    await c.client.submit({
      score: "fail",
      scope: "all",
      targets: ["p1", "p2"],
      params: { CODE: "7" },
    }),
  );
  assertEquals(failed.aggregate, "failure");
  for (const t of failed.tasks) {
    assertEquals(t.state, "failed");
    assertEquals(t.exit_code, 7);
    assertMatch(t.stderr_tail, /about to fail/);
    assertEquals(t.reason, "the score exited with status 7");
  }

  // A score missing on one player: that task is rejected, the other succeeds.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(new URL("../../scores/hello", import.meta.url), `${dir}/other`);
    await Deno.chmod(`${dir}/other`, 0o755);
    await c.players.get("p1")!.stop();
    await c.startPlayer("p1", { extra: ["--scores-dir", dir] });
    const partial = await c.wait(
      await c.client.submit({ score: "hello", scope: "all", targets: ["p1", "p2"], params: {} }),
    );
    assertEquals(partial.aggregate, "partial");
    const byHost = Object.fromEntries(partial.tasks.map((t) => [t.host, t]));
    assertEquals(byHost.p2.state, "succeeded");
    assertEquals(byHost.p1.state, "rejected");
    assertMatch(
      byHost.p1.reason ?? "",
      /p1 refused it: unknown_score: score hello is not installed there/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a target that is offline at submit time runs its task when it connects", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"] });
  await c.startConductor();
  await c.startPlayer("p1");

  const id = await c.client.submit({
    score: "hello",
    scope: "all",
    targets: ["p1", "p2"],
    params: {},
  });
  await until("p1 done", async () => {
    const j = await c.job(id);
    return j.tasks.find((t) => t.host === "p1")?.state === "succeeded" ? j : undefined;
  });
  // Read again: the summary and the tasks come from two requests, and the first may predate p1's end.
  const early = await c.job(id);
  assertEquals(early.aggregate, "running");
  assertEquals(early.tasks.find((t) => t.host === "p2")?.state, "queued");

  await c.startPlayer("p2");
  const job = await c.wait(id);
  assertEquals(job.aggregate, "success");
  assertEquals(job.tasks.find((t) => t.host === "p2")?.response?.greeting, "hello, world from p2");
});

Deno.test("a job submitted before any target is up stays pending, then completes", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"] });
  await c.startConductor();
  // p1 connects once so the conductor knows the score, then goes away.
  const p1 = await c.startPlayer("p1");
  await p1.stop();

  const id = await c.client.submit({
    score: "hello",
    scope: "one",
    targets: ["p2", "p1"],
    params: {},
  });
  assertEquals((await c.client.job(id)).aggregate, "pending");
  await c.startPlayer("p1");
  const job = await c.wait(id);
  assertEquals(job.aggregate, "success");
  assertEquals(job.tasks[0].host, "p1");
});
