import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { ROOT, tempDir, until } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");

Deno.test("a job's deadline: a task not started by then ends expired", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await using outDir = await tempDir();
  const out = outDir.path;
  const r = await c.cli([
    "submit",
    "append",
    "--all",
    "-t",
    "p1,p2",
    `OUT=${out}`,
    "--deadline",
    "1s",
    "--wait",
  ]);
  assertEquals(r.code, 4, r.stdout + r.stderr);
  assertMatch(r.stdout, /deadline \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/);
  assertMatch(r.stdout, /p2 +expired +- +-\n +reason: not started by its deadline \d{4}-/);
  assertMatch(r.stdout, /p1 +succeeded/);

  const past = await c.cli([
    "submit",
    "append",
    "--all",
    "-t",
    "p1",
    `OUT=${out}`,
    "--deadline",
    "2020-01-01T00:00:00Z",
  ]);
  assertEquals(past.code, 2);
  assertMatch(past.stderr, /the deadline 2020-01-01T00:00:00.000Z has passed/);
});

Deno.test("retries: an idempotent score that fails is run again, and every attempt is kept", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor(["--retry-backoff", "100ms"]);
  await c.startPlayer("p1");
  await using outDir = await tempDir();
  const out = outDir.path;
  let r = await c.cli([
    "submit",
    "flaky",
    "--all",
    "-t",
    "p1",
    `OUT=${out}`,
    "FAILS=2",
    "--retries",
    "3",
    "--wait",
  ]);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  assertMatch(r.stdout, /retries 3/);
  assertMatch(
    r.stdout,
    /p1 +succeeded +0 .*\n(.*\n)* +attempt 1: p1 failed exit 1 .*\n +attempt 2: p1 failed exit 1 .*\n +attempt 3: p1 succeeded exit 0/,
  );
  const job = await c.job(1);
  assertEquals(job.tasks[0].attempts.map((a) => a.state), ["failed", "failed", "succeeded"]);
  assertEquals(job.tasks[0].response, { run: "3" });

  // Out of retries: the last failure stands.
  await Deno.remove(join(out, "flaky.count"));
  r = await c.cli([
    "submit",
    "flaky",
    "--all",
    "-t",
    "p1",
    `OUT=${out}`,
    "FAILS=5",
    "--retries",
    "1",
    "--wait",
  ]);
  assertEquals(r.code, 3);
  assertEquals((await c.job(2)).tasks[0].attempts.map((a) => a.state), [
    "failed",
    "failed",
  ]);

  // Only idempotent scores may be retried.
  r = await c.cli(["submit", "append", "--all", "-t", "p1", `OUT=${out}`, "--retries", "2"]);
  assertEquals(r.code, 2);
  assertMatch(
    r.stderr,
    /score append \(as declared on p1\) is not idempotent, so it cannot be retried/,
  );
});

Deno.test("a timeout asked for by the job never goes above the score's max_timeout", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  const r = await c.cli(["submit", "stubborn", "--all", "-t", "p1", "MARK=x", "--timeout", "2h"]);
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /timeout 2h00m is above the max_timeout 1h00m of score stubborn/);
  assertEquals(await c.client.jobs(10), []);
});

Deno.test("SIGHUP on a player rescans its scores and announces them again", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(join(ROOT, "scores/hello"), join(dir, "hello"));
    await Deno.chmod(join(dir, "hello"), 0o755);
    await using c = await Cluster.create({ players: ["p1"], scoresDir: dir });
    await c.startConductor();
    const p1 = await c.startPlayer("p1");
    assertEquals((await c.client.players())[0].scores, ["hello"]);

    await Deno.writeTextFile(join(dir, "added"), "#!/bin/sh\necho added=yes\n", { mode: 0o755 });
    await Deno.writeTextFile(join(dir, "added.conf"), "interface: pipe\n");
    p1.signal("SIGHUP");
    await until(
      "the new score announced",
      async () => (await c.client.players())[0].scores.includes("added"),
    );
    const job = await c.wait(
      await c.client.submit({ score: "added", scope: "all", targets: ["p1"], params: {} }),
    );
    assertEquals(job.tasks[0].response, { added: "yes" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGTERM: a player stops taking work, stops what outlives its grace as interrupted, and reports it", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  const conductor = await c.startConductor();
  const p1 = await c.startPlayer("p1");
  const id = await c.submitRunning({
    score: "stubborn",
    scope: "all",
    targets: ["p1"],
    params: { MARK: "term" },
  });
  const status = await p1.stop(10_000);
  assertEquals(status.code, 0);
  assertMatch(p1.log, /waiting for running tasks .*count=1/);
  assertMatch(p1.log, /player stopped/);
  const job = await c.job(id);
  assertEquals(job.tasks[0].state, "interrupted");
  assertMatch(job.tasks[0].reason ?? "", /the player shut down while the score ran/);

  // The conductor too stops cleanly on SIGTERM, and comes back with everything.
  assertEquals((await conductor.proc.stop()).code, 0);
  assertMatch(conductor.proc.log, /conductor stopped/);
  await c.startConductor();
  assertEquals((await c.job(id)).tasks[0].state, "interrupted");
});

Deno.test("a player busier than the conductor knows refuses as busy once, and gets work again when a slot frees", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  const conductor = await c.startConductor();
  const p1 = await c.startPlayer("p1", { extra: ["--slots", "1", "--kill-grace", "4s"] });
  await c.submitRunning({
    score: "stubborn",
    scope: "all",
    targets: ["p1"],
    params: { MARK: "busy" },
  });

  // Removed and listed again: the conductor let go of the task, but its score is still dying on p1.
  await c.writePlayersFile([]);
  conductor.proc.signal("SIGHUP");
  await p1.waitFor(/cancelling a task .*task=1/);
  await c.writePlayersFile(["p1"]);
  conductor.proc.signal("SIGHUP");
  await c.waitConnected("p1");

  const id = await c.client.submit({
    score: "pipesplit",
    scope: "all",
    targets: ["p1"],
    params: {},
  });
  const job = await c.wait(id, 20_000);
  assertEquals(job.tasks[0].state, "succeeded");
  const busy = job.tasks[0].attempts.filter((a) => a.state === "rejected").length;
  assertEquals(job.tasks[0].attempts.length, busy + 1);
  assert(busy <= 2, `refused as busy ${busy} times`);
});
