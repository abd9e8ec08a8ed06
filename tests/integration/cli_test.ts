import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { orch, ROOT, type RunResult } from "../_helpers/proc.ts";
import { loadAll } from "../../cmd/_commands.ts";
import type { CommandSpec } from "../../lib/cli/spec.ts";

/** Any duration as `orch status` prints it (`5ms`, `2.01s`, `1m05s`, …): run times are not asserted. */
const DURATION = String.raw`\d+(?:\.\d+)?(?:ms|s)|\d+m\d{2}s|\d+h\d{2}m|\d+d\d{2}h`;

Deno.test("submit --wait prints the outcome and exits 0 on success, 3 on failure, 4 on partial, 5 when still running", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"] });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.startPlayer("p2");

  let r = await c.cli(["submit", "hello", "--all", "-t", "p1,p2", "NAME=cli", "--wait"]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /^job 1: hello on all of p1, p2\naggregate: success \(2 succeeded\)\n/);
  const row = String.raw`\nHOST +STATE +EXIT +DURATION\np1 +succeeded +0 +(?:${DURATION})\n`;
  assertMatch(r.stdout, new RegExp(String.raw`${row} +greeting=hello, cli from p1\n +job=1\n`));

  r = await c.cli(["submit", "fail", "--one", "-t", "p2", "--wait"]);
  assertEquals(r.code, 3);
  assertMatch(r.stdout, /aggregate: failure/);
  assertMatch(
    r.stdout,
    /p2 +failed +1 .*\n +reason: the score exited with status 1\n +reason=on purpose\n +stderr\| about to fail/,
  );

  // A partial outcome: the score is missing on one of the targets.
  await c.players.get("p2")!.stop();
  const empty = await Deno.makeTempDir();
  try {
    await c.startPlayer("p2", { extra: ["--scores-dir", empty] });
    r = await c.cli(["submit", "hello", "--all", "-t", "p1", "-t", "p2", "--wait"]);
    assertEquals(r.code, 4, r.stdout + r.stderr);
    assertMatch(r.stdout, /aggregate: partial \(1 succeeded, 1 rejected\)/);
  } finally {
    await Deno.remove(empty, { recursive: true });
  }

  r = await c.cli([
    "submit",
    "sleep",
    "--all",
    "-t",
    "p1",
    "SECONDS=2",
    "--wait",
    "--wait-timeout",
    "200ms",
    "--json",
  ]);
  assertEquals(r.code, 5);
  const { job } = JSON.parse(r.stdout);
  assertEquals(job.aggregate, "running");

  r = await c.cli(["status", String(job.id), "--wait"]);
  assertEquals(r.code, 0);
  assertMatch(
    r.stdout,
    new RegExp(String.raw`p1 +succeeded +0 +(?:${DURATION})\n +stdout\| slept 2s`),
  );
});

Deno.test("submit without --wait prints only the job id; status shows it", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  let r = await c.cli(["submit", "hello", "--all", "-t", "p1"]);
  // No player has ever announced hello: the conductor cannot know the score.
  assertEquals(r.code, 2);
  await c.startPlayer("p1");
  r = await c.cli(["submit", "hello", "--all", "-t", "p1"]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout, "1\n");
  r = await c.cli(["submit", "hello", "--all", "-t", "p1", "--json"]);
  assertEquals(JSON.parse(r.stdout), { id: 2 });
  await c.wait(2);
  r = await c.cli(["status", "2", "--json"]);
  assertEquals(JSON.parse(r.stdout).job.aggregate, "success");
  r = await c.cli(["jobs"]);
  assertMatch(
    r.stdout,
    /^ID +SCORE +SCOPE +TARGETS +AGGREGATE +SUBMITTED +BY\n2 +hello +all of +1 +success .* local:root\n1 +hello/,
  );
  r = await c.cli(["status", "99"]);
  assertEquals(r.code, 2);
  assertEquals(r.stderr, "orch: no job 99\n");
});

Deno.test("the audience commands explain an unreachable conductor and exit 6", async () => {
  const r = await orch(["status", "1", "--socket", "/nonexistent/orch.sock"]);
  assertEquals(r.code, 6);
  assertMatch(
    r.stderr,
    /^orch: cannot reach the conductor at \/nonexistent\/orch\.sock: no such socket\nhint: is the conductor running\?/,
  );
});

/** Every command's path, groups and their commands alike: `["ca"]`, `["ca", "init"]`, … */
async function commandPaths(): Promise<string[][]> {
  const paths: string[][] = [];
  const walk = (spec: CommandSpec, path: string[]) => {
    paths.push(path);
    for (const sub of spec.commands ?? []) walk(sub, [...path, sub.name]);
  };
  for (const spec of (await loadAll()).commands!) walk(spec, [spec.name]);
  return paths;
}

/** Runs `fn` on each of `items`, `n` at a time. */
async function eachLimited<T>(items: T[], n: number, fn: (item: T) => Promise<void>) {
  const queue = [...items];
  await Promise.all(Array.from({ length: n }, async () => {
    while (queue.length > 0) await fn(queue.shift()!);
  }));
}

Deno.test("--help of every command exits 0 and prints its usage, options and examples on stdout", async () => {
  const paths = [[], ...await commandPaths()];
  await eachLimited(paths, 4, async (path) => {
    const r = await orch([...path, "--help"]);
    const name = ["orch", ...path].join(" ");
    assertEquals([r.code, r.stderr], [0, ""], name);
    assert(/^[ \n]/.test(r.stdout.slice(`Usage: ${name}`.length)), `${name}:\n${r.stdout}`);
    assert(r.stdout.startsWith(`Usage: ${name}`), `${name}:\n${r.stdout}`);
    assertMatch(r.stdout, /\nOptions:\n/, name);
    assertMatch(r.stdout, /\nExamples:\n( {2}# \S.*\n)+ {2}orch /, name);
  });
  // `orch help CMD` is `orch CMD --help`.
  const [help, flag] = await Promise.all([
    orch(["help", "schedule", "add"]),
    orch(["schedule", "add", "--help"]),
  ]);
  assertEquals([help.code, help.stdout], [0, flag.stdout]);
});

/** Asserts that `r` is a usage error in the one shape: `orch: …` and `hint: …`, nothing else. */
function assertUsageError(r: RunResult, what: string): void {
  assertEquals(r.code, 2, `${what}: ${r.stderr}`);
  assertEquals(r.stdout, "", what);
  assertMatch(r.stderr, /^orch: [^\n]+\nhint: [^\n]+\n$/, what);
}

/** Asserts that `r` is a usage error as one JSON object on stderr, and returns it. */
function assertJsonUsageError(r: RunResult, what: string): Record<string, unknown> {
  assertEquals(r.code, 2, `${what}: ${r.stderr}`);
  assertEquals(r.stdout, "", what);
  assertEquals(r.stderr.trimEnd().split("\n").length, 1, `${what}: ${r.stderr}`);
  const { error } = JSON.parse(r.stderr) as { error: Record<string, unknown> };
  assertEquals(Object.keys(error), ["code", "message", "hint"], what);
  assertEquals(error.code, "usage", what);
  return error;
}

Deno.test("a usage error of every command exits 2 with one orch: line and a hint, or with --json one JSON object, and nothing on stdout", async () => {
  await eachLimited(await commandPaths(), 4, async (path) => {
    const name = ["orch", ...path].join(" ");
    const r = await orch([...path, "--no-such-option"]);
    assertUsageError(r, name);
    const j = await orch([...path, "--no-such-option", "--json"]);
    const error = assertJsonUsageError(j, name);
    // The same error, only shaped differently.
    assertEquals(`orch: ${error.message}\nhint: ${error.hint}\n`, r.stderr, name);
  });
});

Deno.test("usage errors name what is wrong and suggest what was meant", async () => {
  const cases: [string[], string][] = [
    [["frobnicate"], 'orch: orch has no command "frobnicate"; the commands are conductor, '],
    [["stauts", "1"], 'orch: orch has no command "stauts" (did you mean status?)\n'],
    [["--bogus"], 'orch: orch has no option "--bogus"\nhint: options come after the command'],
    [["jobs", "--limt", "5"], "orch: orch jobs has no option --limt (did you mean --limit?)\n"],
    [["status"], "orch: orch status needs <job>: the job id\n"],
    [["status", "1", "2"], 'orch: orch status takes at most 1 argument; "2" is one too many\n'],
    [["jobs", "--limit"], "orch: --limit needs a value <n>\n"],
    [["cancel", "1", "--wait=yes"], "orch: --wait takes no value\n"],
    [["ca"], "orch: orch ca needs a command: init, issue, revoke, crl, list\n"],
    [["ca", "isue"], 'orch: orch ca has no command "isue" (did you mean issue?)\n'],
    [["ca", "issue", "x", "--role", "king"], 'orch: --role "king" is not a role; the roles are '],
    [
      ["ca", "issue", "x"],
      "orch: --role is needed: what the holder is (conductor, player, audience)",
    ],
    [["bench"], "orch: --players is needed: how many players to simulate\nhint: "],
    [["prune"], "orch: --before is needed: prune the jobs finished before when?\nhint: "],
    [["schedule", "add", "n", "s", "--all", "-t", "a"], "orch: say --cron EXPR or --every"],
  ];
  await eachLimited(cases, 4, async ([args, start]) => {
    const r = await orch(args);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assertEquals(r.stdout, "", args.join(" "));
    assert(
      r.stderr.startsWith(start) || r.stderr.includes(start),
      `${args.join(" ")}:\n${r.stderr}`,
    );
    assert(!/^\s+at /m.test(r.stderr), `a stack trace for ${args.join(" ")}:\n${r.stderr}`);
  });
  // With no command at all, the help goes to stderr.
  const r = await orch([]);
  assertEquals([r.code, r.stdout], [2, ""]);
  assertMatch(r.stderr, /^Usage: orch <command>\n/);
  // Text a user typed is escaped, never sent to the terminal as it is.
  const esc = await orch(["jobs", "--a\x1b]0;pwned\x07"]);
  assertEquals(esc.code, 2);
  assert(!esc.stderr.includes("\x1b") && !esc.stderr.includes("\x07"), esc.stderr);
  const submit = await orch(["submit", "hello", "--all", "--one", "-t", "p1"]);
  assertEquals(submit.stderr, "orch: say --all, --one or --some N (exactly one of them)\n");
  const param = await orch(["submit", "hello", "--all", "-t", "p1", "oops"]);
  assertEquals(param.stderr, 'orch: argument "oops" is not KEY=VALUE\n');
});

Deno.test("config files: errors name the file, the line and the key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "conductor.yaml");
    await Deno.writeTextFile(file, "# conductor\nlisten: 127.0.0.1:0\nheartbaet: 5s\n");
    let r = await orch(["conductor", "--config", file]);
    assertEquals(r.code, 2);
    assertEquals(
      r.stderr,
      `orch: ${file}:3: unknown key 'heartbaet' (did you mean 'heartbeat'?)\n`,
    );

    await Deno.writeTextFile(file, "listen: 127.0.0.1:0\nheartbeat: soon\n");
    r = await orch(["conductor", "--config", file]);
    assertEquals(
      r.stderr,
      `orch: ${file}:2: key 'heartbeat': the string "soon" is not a duration (e.g. 500ms, 15s, 2m)\n`,
    );

    await Deno.writeTextFile(file, "listen: [unclosed\n");
    r = await orch(["conductor", "--config", file]);
    assertEquals(r.code, 2);
    assertMatch(r.stderr, new RegExp(`^orch: ${file}:\\d+: `));

    r = await orch(["conductor", "--config", join(dir, "missing.yaml")]);
    assertEquals(r.stderr, `orch: config file ${join(dir, "missing.yaml")} does not exist\n`);

    r = await orch([
      "conductor",
      "--config",
      file.replace("conductor.yaml", "none.yaml"),
      "--max-frame",
      "12",
    ]);
    assertMatch(r.stderr, /does not exist/);

    // Relative paths in a file are taken from the file's folder; flags override the file.
    await Deno.writeTextFile(file, "players_file: players\nheartbeat: 5s\n");
    r = await orch(["conductor", "--config", file, "--heartbeat", "nope"]);
    assertEquals(
      r.stderr,
      'orch: flag --heartbeat: the string "nope" is not a duration (e.g. 500ms, 15s, 2m)\n',
    );
    r = await orch(["conductor", "--config", file, "--ca", join(dir, "none.crt")]);
    assertEquals(r.stderr, `orch: CA certificate ${join(dir, "none.crt")} does not exist\n`);

    // A players file with a bad name is refused with its line.
    await using c = await Cluster.create({ players: ["p1"] });
    await Deno.writeTextFile(c.playersFile, "p1\n# fine\nnot a name\n");
    r = await orch(c.conductorArgs());
    assertEquals(r.code, 2);
    assertMatch(r.stderr, new RegExp(`^orch: ${c.playersFile}:3: "not a name" is not a host name`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("score lint reports each problem as FILE:LINE: message and exits 3", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "good"), "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(
      join(dir, "good.conf"),
      "interface: pipe\nparams:\n  N: {type: int, min: 1}\n",
    );
    await Deno.writeTextFile(join(dir, "noexec"), "#!/bin/sh\n", { mode: 0o644 });
    await Deno.writeTextFile(join(dir, "badconf"), "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(
      join(dir, "badconf.conf"),
      'interface: pipes\ntimeout: forever\ncolour: blue\nparams:\n  N: {type: int, default: x}\n  E: {type: enum}\n  W: {type: string, pattern: "(a)\\\\1"}\n',
    );
    await Deno.writeTextFile(join(dir, "old"), "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(join(dir, "old.conf"), "# original\ninterface=env\n");
    await Deno.writeTextFile(join(dir, "orphan.conf"), "interface: env\n");
    await Deno.writeTextFile(join(dir, "bad name!"), "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(join(dir, "open"), "#!/bin/sh\n", { mode: 0o777 });
    await Deno.chmod(join(dir, "open"), 0o777);

    const r = await orch(["score", "lint", dir]);
    assertEquals(r.code, 3, r.stdout);
    const lines = r.stdout.trim().split("\n");
    const expect = [
      `${dir}/good: ok (pipe; params: N)`,
      `${dir}/old: ok (env; any params)`,
      `${dir}/bad name!: hint: ignored: the name is not a score name`,
      `${dir}/badconf.conf:1: key 'interface': "pipes" is not one of env, pipe, json`,
      `${dir}/badconf.conf:2: key 'timeout': "forever" is not a duration (e.g. 30s, 10m, 1h)`,
      `${dir}/badconf.conf:3: unknown key 'colour'`,
      `${dir}/badconf.conf:5: parameter N: default "x" is not an integer`,
      `${dir}/badconf.conf:6: parameter E: type enum needs 'values'`,
      `${dir}/badconf.conf:7: parameter W: 'pattern' uses a backreference (\\1), a feature that is not supported`,
      `${dir}/noexec: not executable (mode 0644); run: chmod +x ${dir}/noexec`,
      `${dir}/old.conf:2: hint: old key=value form; in YAML write: interface: env`,
      `${dir}/open: writable by everyone (mode 0777): anyone could change what runs`,
      `${dir}/orphan.conf: conf for a score that does not exist (orphan)`,
      `${dir}: 2 valid scores, 9 errors, 2 hints`,
    ];
    assertEquals(lines.length, expect.length, r.stdout);
    for (let i = 0; i < expect.length; i++) {
      assert(lines[i].startsWith(expect[i]), `line ${i}: ${lines[i]}\nexpected: ${expect[i]}`);
    }

    // The shipped scores are clean.
    const shipped = await orch(["score", "lint", join(ROOT, "scores"), "--strict"]);
    assertEquals(shipped.code, 0, shipped.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ca: keys are 0600, certificates carry role and names, nothing is overwritten", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let r = await orch(["ca", "init", join(dir, "ca")]);
    assertEquals(r.code, 0, r.stderr);
    r = await orch([
      "ca",
      "issue",
      "node1.example.com",
      "--role",
      "player",
      "--san",
      "10.0.0.1",
      "--ca-dir",
      join(dir, "ca"),
    ]);
    assertEquals(r.code, 0, r.stderr);
    for (const f of ["ca/ca.key", "ca/node1.example.com.key"]) {
      assertEquals((await Deno.stat(join(dir, f))).mode! & 0o777, 0o600, f);
    }
    assertEquals((await Deno.stat(join(dir, "ca/ca.crt"))).mode! & 0o777, 0o644);
    const cert = await Deno.readTextFile(join(dir, "ca/node1.example.com.crt"));
    assertMatch(cert, /^-----BEGIN CERTIFICATE-----\n/);

    r = await orch(["ca", "init", join(dir, "ca")]);
    assertEquals(r.code, 2);
    assertMatch(
      r.stderr,
      /ca\.key exists already; not replacing it\nhint: remove it first, or pass --force/,
    );
    r = await orch(["ca", "issue", "x", "--role", "king", "--ca-dir", join(dir, "ca")]);
    assertEquals(r.code, 2);
    assertEquals(
      r.stderr,
      'orch: --role "king" is not a role; the roles are conductor, player, audience\n',
    );
    r = await orch(["ca", "issue", "../evil", "--role", "player", "--ca-dir", join(dir, "ca")]);
    assertEquals(r.code, 2);
    assertMatch(r.stderr, /certificate name "..\/evil" is not valid/);
    r = await orch(["ca", "issue", "x", "--role", "player", "--ca-dir", join(dir, "nowhere")]);
    assertEquals(r.code, 2);
    assertMatch(r.stderr, /CA certificate .*nowhere\/ca\.crt does not exist/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("submit options out of range are refused with the flag's name", async () => {
  let r = await orch(["submit", "hello", "--all", "-t", "p1", "--timeout", "0s"]);
  assertEquals(r.code, 2);
  assertEquals(r.stderr, 'orch: --timeout "0s" is out of range: from 1ms to 24d\n');
  r = await orch(["submit", "hello", "--all", "-t", "p1", "--timeout", "30d"]);
  assertEquals(r.stderr, 'orch: --timeout "30d" is out of range: from 1ms to 24d\n');
  r = await orch(["submit", "hello", "--all", "-t", "p1", "--retries", "many"]);
  assertEquals(r.stderr, 'orch: --retries "many" is not a number 0..100\n');
  r = await orch(["submit", "hello", "--all", "-t", "p1", "--deadline", "tomorrow"]);
  assertMatch(r.stderr, /--deadline "tomorrow" is neither a duration \(10m\) nor a time/);

  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "slow"), "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(join(dir, "slow.conf"), "timeout: 500d\n");
    r = await orch(["score", "lint", dir]);
    assertEquals(r.code, 3);
    assertMatch(
      r.stdout,
      /slow\.conf:1: key 'timeout': "500d" is longer than the longest timeout, 24d/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
