import { join } from "node:path";
import { assertEquals, assertMatch, assertNotMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { ROOT } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");

async function runOne(c: Cluster, score: string, params: Record<string, string> = {}) {
  const job = await c.wait(await c.client.submit({ score, scope: "all", targets: ["p1"], params }));
  return job.tasks[0];
}

Deno.test("a score runs with an environment built from nothing: PATH, ORC_* params, ORCH_* names", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1", {
    env: { SECRET_TOKEN: "hunter2", HOME: "/root", ORC_INJECTED: "from-player" },
  });

  const t = await runOne(c, "showenv", {
    GREETING: "hi there",
    EMPTY: "",
    WEIRD: "a=b;$(rm -rf /)",
  });
  assertEquals(t.state, "succeeded");
  const env = Object.fromEntries(
    t.stdout_tail.trim().split("\n").map((
      l,
    ) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  delete env.PWD; // set by the shell itself
  delete env.SHLVL;
  delete env._;
  assertEquals(env, {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ORC_GREETING: "hi there",
    ORC_EMPTY: "",
    ORC_WEIRD: "a=b;$(rm -rf /)",
    ORCH_JOB_ID: "1",
    ORCH_TASK_ID: "1",
    ORCH_ATTEMPT: "1",
    ORCH_PLAYER: "p1",
    ORCH_SCORE: "showenv",
  });
  assertNotMatch(t.stdout_tail, /hunter2|from-player|HOME/);
});

Deno.test("the pipe interface takes key=value lines split at the first '='", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  const t = await runOne(c, "pipesplit");
  assertEquals(t.state, "succeeded");
  assertEquals(t.response, { url: "http://example.com/?a=b", empty: "", last: "no newline" });
});

Deno.test("the json interface passes params on stdin and takes a JSON object from stdout", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  const t = await runOne(c, "jsonecho", { A: "1", B: 'quote " and \\ backslash' });
  assertEquals(t.state, "succeeded");
  assertEquals(t.response, {
    got: { A: "1", B: 'quote " and \\ backslash' },
    player: "p1",
    nested: { n: 1 },
  });

  const bad = await runOne(c, "jsonbad");
  assertEquals(bad.state, "failed");
  assertEquals(bad.exit_code, 0);
  assertMatch(bad.reason ?? "", /the score's stdout is not JSON/);
});

Deno.test("dir and path from the conf set the working directory and PATH", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  const t = await runOne(c, "whereami");
  assertEquals(t.response, { pwd: "/tmp", path: "/usr/bin:/bin" });
});

Deno.test("an original Orchestra key=value conf still works", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  const t = await runOne(c, "legacy", { X: "42" });
  assertEquals(t.state, "succeeded");
  assertEquals(t.stdout_tail, "legacy ORC_X=42\n");
});

Deno.test("a one-of task refused by a player goes to the next target; when all refuse, the job fails naming each", async () => {
  const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  try {
    for (const d of dirs) {
      await Deno.copyFile(join(ROOT, "scores/hello"), join(d, "hello"));
      await Deno.copyFile(join(ROOT, "scores/hello.conf"), join(d, "hello.conf"));
      await Deno.chmod(join(d, "hello"), 0o755);
    }
    await using c = await Cluster.create({ players: ["p1", "p2", "p3"], scoresDir: dirs[0] });
    await c.startConductor();
    await c.startPlayer("p1");
    await c.startPlayer("p2", { extra: ["--scores-dir", dirs[1]] });
    await c.startPlayer("p3", { extra: ["--scores-dir", join(ROOT, "scores")] });

    // p1's hello disappears after it was announced: p1 refuses, p2 runs it.
    await Deno.remove(join(dirs[0], "hello"));
    let job = await c.wait(
      await c.client.submit({ score: "hello", scope: "one", targets: ["p1", "p2"], params: {} }),
    );
    assertEquals(job.aggregate, "success");
    assertEquals(job.tasks[0].host, "p2");
    assertEquals(job.tasks[0].attempt, 2);
    assertEquals(job.tasks[0].tried.map((x) => [x.player, x.code]), [["p1", "cannot_start"]]);

    // Now p2 loses it too: every target refuses, and the job says who and why.
    await Deno.remove(join(dirs[1], "hello"));
    job = await c.wait(
      await c.client.submit({ score: "hello", scope: "one", targets: ["p1", "p2"], params: {} }),
    );
    assertEquals(job.aggregate, "failure");
    assertEquals(job.tasks[0].state, "rejected");
    assertMatch(
      job.tasks[0].reason ?? "",
      /every target refused it: p1 \(cannot_start: .*\); p2 \(cannot_start: .*\)/,
    );

    // A target that never announced the score is passed over without a round trip.
    job = await c.wait(
      await c.client.submit({
        score: "sleep",
        scope: "one",
        targets: ["p1", "p3"],
        params: { SECONDS: "0" },
      }),
    );
    assertEquals(job.tasks[0].host, "p3");
    assertEquals(job.tasks[0].tried.map((x) => [x.player, x.code]), [["p1", "unknown_score"]]);
    const status = await c.cli(["status", String(job.id)]);
    assertMatch(status.stdout, /refused by p1: unknown_score: score sleep is not installed there/);
  } finally {
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("a player checks params against its own conf before it runs anything, and logs no value", async () => {
  const lenient = await Deno.makeTempDir();
  const strict = await Deno.makeTempDir();
  try {
    for (const [dir, max] of [[lenient, 100], [strict, 5]] as const) {
      await Deno.writeTextFile(join(dir, "count"), "#!/bin/sh\necho n=$ORC_N\n", { mode: 0o755 });
      await Deno.writeTextFile(
        join(dir, "count.conf"),
        `interface: pipe\nparams:\n  N: {type: int, max: ${max}}\n  TOKEN: {type: string${
          max === 5 ? ', pattern: "[a-z]+"' : ""
        }}\n`,
      );
    }
    await using c = await Cluster.create({ players: ["p1", "p2"], scoresDir: lenient });
    const conductor = await c.startConductor();
    await c.startPlayer("p2");

    // The conductor checks against what it knows: p2's conf, for p2.
    const r = await c.cli(["submit", "count", "--all", "-t", "p2", "N=101"]);
    assertEquals(r.code, 2);
    assertMatch(
      r.stderr,
      /bad parameters for score count \(as declared on p2\): parameter N: 101 is above the maximum 100/,
    );
    assertEquals((await c.client.jobs(10)).length, 0);

    // p1 has never connected, so the conductor accepts these by p2's conf; p1's own conf refuses them.
    const secret = "S3CRET-v4lue-0000";
    const id = await c.client.submit({
      score: "count",
      scope: "all",
      targets: ["p1", "p2"],
      params: { N: "9", TOKEN: secret },
    });
    const p1 = await c.startPlayer("p1", { extra: ["--scores-dir", strict] });
    const job = await c.wait(id);
    assertEquals(job.aggregate, "partial");
    const t1 = job.tasks.find((t) => t.host === "p1")!;
    assertEquals(t1.state, "rejected");
    assertMatch(
      t1.reason ?? "",
      /p1 refused it: bad_params: parameter N: 9 is above the maximum 5/,
    );
    assertMatch(t1.reason ?? "", /parameter TOKEN: "S3CRET-v4lue-0000" does not match/);
    assertEquals(t1.stdout_tail, "");
    // The value reaches whoever may see the job, never a log.
    await p1.waitFor(/refused a task .*code=bad_params/);
    assertNotMatch(p1.log, new RegExp(secret));
    assertNotMatch(conductor.proc.log, new RegExp(secret));
  } finally {
    await Deno.remove(lenient, { recursive: true });
    await Deno.remove(strict, { recursive: true });
  }
});

Deno.test("a response over the limits is cut, said so, and the player goes on working", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  const conductor = await c.startConductor();
  await c.startPlayer("p1");
  const big = await runOne(c, "bigresp");
  assertEquals(big.state, "succeeded");
  assertEquals(Object.keys(big.response ?? {}), ["k1", "k2"]);
  assertMatch(big.reason ?? "", /the response is larger than 262144 bytes; the rest was left out/);
  // The connection survived: the next job runs on the same player at once.
  assertEquals((await runOne(c, "pipesplit")).state, "succeeded");
  assertNotMatch(conductor.proc.log, /protocol error/);
});
