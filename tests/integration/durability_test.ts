import { join } from "node:path";
import { assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { orch, Proc, ROOT } from "../_helpers/proc.ts";

Deno.test("a job acknowledged just before the conductor is killed with -9 runs after a restart", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"] });
  const first = await c.startConductor();
  await c.startPlayer("p1");
  await c.startPlayer("p2", { wait: false });

  const ids: number[] = [];
  for (let i = 0; i < 5; i++) {
    ids.push(
      await c.client.submit({
        score: "hello",
        scope: "all",
        targets: ["p1", "p2"],
        params: { NAME: `n${i}` },
      }),
    );
  }
  await first.proc.kill9();

  await c.startConductor();
  for (const id of ids) {
    const job = await c.wait(id);
    assertEquals(job.aggregate, "success", JSON.stringify(job));
    for (const t of job.tasks) {
      assertEquals(t.response?.greeting, `hello, n${ids.indexOf(id)} from ${t.host}`);
    }
  }
});

Deno.test("a restarted conductor keeps its database identity and its finished jobs", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const first = await c.startConductor();
  await c.startPlayer("p1");
  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  const before = await c.wait(id);
  const health = await c.client.health();
  await first.proc.stop();

  await c.startConductor();
  assertEquals(await c.job(id), before);
  assertEquals((await c.client.health()).conductor_id, health.conductor_id);
});

Deno.test("a second conductor on the same database refuses to start", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  const r = await orch(
    c.conductorArgs([
      "--listen",
      "127.0.0.1:0",
      "--audience-listen",
      "off",
      "--audience-socket",
      "",
    ]),
  );
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /conductor database .* is in use by another process/);
});

Deno.test("the one-file bundle, as make bundle makes it, runs a player from an empty folder", async () => {
  const empty = await Deno.makeTempDir({ prefix: "orch-bundle-" });
  const bundle = join(empty, "orch.js");
  try {
    for (
      const args of [
        ["bundle", "--quiet", "--output", bundle, join(ROOT, "main.ts")],
        ["run", "--quiet", "--allow-read", "--allow-write", "packaging/lazy_require.ts", bundle],
      ]
    ) {
      const made = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT }).output();
      assertEquals(made.code, 0, new TextDecoder().decode(made.stderr));
    }
    await using c = await Cluster.create({ players: ["p1"] });
    await c.startConductor();
    const player = c.track(
      new Proc("p1-bundle", c.playerArgs("p1"), {
        entry: join(empty, "orch.js"),
        cwd: empty,
        env: { DENO_DIR: join(empty, ".deno") },
      }),
    );
    await player.waitFor(/connected to the conductor/);
    await c.waitConnected("p1");
    const job = await c.wait(
      await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} }),
    );
    assertEquals(job.aggregate, "success");
    assertEquals(job.tasks[0].response?.greeting, "hello, world from p1");
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("a conductor database replaced under a running player: the old run is stopped and never answers for the new job", async () => {
  await using c = await Cluster.create({
    players: ["p1"],
    scoresDir: join(ROOT, "tests/testdata/scores"),
  });
  const first = await c.startConductor();
  const p1 = await c.startPlayer("p1", { extra: ["--slots", "2"] });
  const old = await c.submitRunning({
    score: "sayafter",
    scope: "all",
    targets: ["p1"],
    params: { SLEEP: "3", WHO: "old" },
  });
  await first.proc.kill9();
  await Deno.remove(c.db);
  await Deno.remove(`${c.db}-wal`).catch(() => {});
  await Deno.remove(`${c.db}-shm`).catch(() => {});

  await c.startConductor([], { init: true });
  await p1.waitFor(/dropped journal entries from another conductor database .*count=1/);
  await c.waitConnected("p1");
  // The new database numbers its jobs and tasks from 1 again: the same ids as the old run.
  const id = await c.client.submit({
    score: "sayafter",
    scope: "all",
    targets: ["p1"],
    params: { SLEEP: "4", WHO: "new" },
  });
  assertEquals(id, old);
  const job = await c.wait(id, 20_000);
  assertEquals(job.tasks[0].state, "succeeded");
  assertEquals(job.tasks[0].response, { who: "new" });
  assertMatch(p1.log, /result dropped: its task belongs to another conductor database/);
});

Deno.test("a submit sent again with its request id gets the same job; orch submit waits for a conductor coming up", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const first = await c.startConductor();
  await c.startPlayer("p1");
  const req = {
    score: "hello",
    scope: "all" as const,
    targets: ["p1"],
    params: {},
    request_id: "deploy-42",
  };
  const id = await c.client.submit(req);
  assertEquals(await c.client.submit(req), id);
  assertEquals((await c.client.jobs(10)).length, 1);

  await first.proc.stop();
  const submitting = c.cli([
    "submit",
    "hello",
    "--all",
    "-t",
    "p1",
    "--wait",
    "--connect-timeout",
    "20s",
  ]);
  await new Promise((r) => setTimeout(r, 1000));
  await c.startConductor();
  const r = await submitting;
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stderr, /cannot reach the conductor .*; retrying/);
  assertMatch(r.stdout, /^job 2: hello on all of p1\naggregate: success/);
});
