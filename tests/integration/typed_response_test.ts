import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { orch, ROOT } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");

Deno.test("typed responses: a fitting one comes back typed in status --json; one that breaks its declaration fails the task naming the key", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  const run = async (score: string, params: Record<string, string> = {}) => {
    const job = await c.wait(
      await c.client.submit({ score, scope: "all", targets: ["p1"], params }),
    );
    const r = await c.cli(["status", String(job.id), "--json"]);
    assertEquals(r.code, 0, r.stderr);
    return { job, text: r.stdout, task: JSON.parse(r.stdout).tasks.tasks[0] };
  };

  // pipe: text converted to the declared types; JSON numbers and booleans, not strings.
  let { job, text, task } = await run("typedpipe", { COUNT: "3" });
  assertEquals(job.aggregate, "success");
  assertEquals(task.state, "succeeded");
  assertEquals(task.response, { count: 3, load: 0.75, up: true, state: "up" });
  assertMatch(text, /"count":\s*3\b/);
  assertMatch(text, /"up":\s*true\b/);
  const shown = (await c.cli(["status", String(job.id)])).stdout;
  assertMatch(shown, /^\s+count=3$/m);
  assertMatch(shown, /^\s+load=0\.75$/m);
  assertMatch(shown, /^\s+up=true$/m);

  // json: values of the declared types pass as they are.
  ({ task } = await run("typedjson"));
  assertEquals(task.state, "succeeded");
  assertEquals(task.response, { n: 5, ok: false, ratio: 0.5, name: "p1" });

  // A value that is not of its type fails the task, though the score exited 0.
  ({ job, task } = await run("typedpipe", { COUNT: "three\u001b[2J" }));
  assertEquals(job.aggregate, "failure");
  assertEquals([task.state, task.exit_code], ["failed", 0]);
  assertEquals(task.reason, 'response key count: "three\\u001b[2J" is not an integer');
  // What the score printed is kept, as it printed it.
  assertEquals(task.response.count, "three\u001b[2J");
  const human = await c.cli(["status", String(job.id)]);
  assertMatch(human.stdout, /response key count: /);
  assert(!human.stdout.includes("\u001b"), human.stdout);

  // Below the declared minimum.
  ({ task } = await run("typedpipe", { COUNT: "-1" }));
  assertEquals(task.state, "failed");
  assertEquals(task.reason, "response key count: -1 is below the minimum 0");

  // A secret printed where a number is declared is masked first, so it fails as text, never a number.
  ({ text, task } = await run("typedpipe", { COUNT: "1", CODE: "987654" }));
  assertEquals(task.state, "failed");
  assertEquals(task.reason, 'response key code: "[secret]" is not an integer');
  assert(!text.includes("987654"), text);
});

Deno.test("score lint shows each score's response declaration, and a bad one is an error at its file and line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "good"), "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(
      join(dir, "good.conf"),
      "interface: pipe\nresponse:\n  count: {type: int, required: true}\n  ok: bool\n",
    );
    await Deno.writeTextFile(join(dir, "bad"), "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(
      join(dir, "bad.conf"),
      "interface: json\nresponse:\n  n: number\n  s: {type: enum}\n  t: {type: int, min: x}\n",
    );
    await Deno.writeTextFile(join(dir, "quiet"), "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(join(dir, "quiet.conf"), "interface: env\nresponse:\n  n: int\n");

    const r = await orch(["score", "lint", dir]);
    assertEquals(r.code, 3, r.stdout);
    assertEquals(r.stdout.trim().split("\n"), [
      `${dir}/good: ok (pipe; any params; response: count int (required), ok bool)`,
      `${dir}/bad.conf:3: response key n.type: expected one of string, int, float, bool, enum, got the string "number"`,
      `${dir}/bad.conf:4: response key s: type enum needs 'values'`,
      `${dir}/bad.conf:5: response key t.min: expected a number, got the string "x"`,
      `${dir}/quiet.conf:2: a response is declared, but interface env returns none: use pipe or json`,
      `${dir}: 1 valid score, 4 errors, 0 hints`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
