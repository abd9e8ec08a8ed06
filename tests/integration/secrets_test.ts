/**
 * Attacks on what orch keeps and prints, with real processes: secret
 * params must not reach the conductor's database, its WAL, the player's
 * journal or any log, also across a restart; escape sequences from a score
 * or a param must not reach a terminal; files are 0600 under umask 022.
 *
 * @module
 */

import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { tempDir } from "../_helpers/proc.ts";
import { OrchError } from "../../lib/errors.ts";

/** Runs orch under umask 022 (files 0644 unless orch makes them otherwise); no input in the string. */
const UMASK_022 = ["sh", "-c", 'umask 022; exec "$@"', "sh"];

const ESC_PARAM = "\x1b[31mred\u202etxt.exe\x07";

/** A scores folder: `evil` prints escape sequences, `keep` takes a declared secret. */
async function scores(dir: string): Promise<string> {
  const d = join(dir, "scores");
  await Deno.mkdir(d);
  const files: Record<string, string> = {
    evil: [
      "#!/bin/sh",
      `printf 'colour=\\033[31mred\\033[0m\\n'`,
      `printf 'said=%s\\n' "$ORC_X"`,
      `printf 'clear \\033[2J\\033]0;pwned\\007 \\r\\n' >&2`,
      "exit 1",
    ].join("\n") + "\n",
    "evil.conf": "interface: pipe\n",
    nap: "#!/bin/sh\nexec sleep 30\n",
    keep: [
      "#!/bin/sh",
      // Proves the values arrived; what it prints of them must come back masked.
      'printf "token_len=%s\\n" "${#ORC_TOKEN}"',
      'printf "user_len=%s\\n" "${#ORC_USER}"',
      'printf "token=%s user=%s\\n" "$ORC_TOKEN" "$ORC_USER" >&2',
    ].join("\n") + "\n",
    "keep.conf": [
      "interface: pipe",
      "params:",
      "  TOKEN: { type: string, secret: true }",
      "  USER: { type: string }",
      "  MODE: { type: string }",
      "  PIN: { type: int, secret: true }",
    ].join("\n") + "\n",
  };
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(join(d, name), text, { mode: name.endsWith(".conf") ? 0o644 : 0o755 });
  }
  return d;
}

/** Every file under `dir` whose bytes hold `needle`. */
async function filesHolding(dir: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  const bytes = new TextEncoder().encode(needle);
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) found.push(...await filesHolding(p, needle));
    else if (e.isFile && indexOf(await Deno.readFile(p), bytes) >= 0) found.push(p);
  }
  return found;
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Asserts that no file of the deployment and no process log holds `value`. */
async function assertNowhere(c: Cluster, value: string): Promise<void> {
  assertEquals(await filesHolding(c.dir, value), [], `files holding ${value}`);
  for (const p of [c.conductor!.proc, ...c.players.values()]) {
    assert(!p.log.includes(value), `${p.name}'s log holds ${value}`);
  }
}

async function modeOf(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

Deno.test("escape sequences from a score and a param are printed escaped by status, jobs and players; --json is unchanged", async () => {
  await using t = await tempDir();
  await using c = await Cluster.create({ players: ["p1"], scoresDir: await scores(t.path) });
  await c.startConductor();
  await c.startPlayer("p1");
  const id = await c.client.submit({
    score: "evil",
    scope: "all",
    targets: ["p1"],
    params: { X: ESC_PARAM },
  });
  const job = await c.wait(id);
  assertEquals(job.tasks[0].state, "failed");

  for (
    const args of [["status", String(id)], ["jobs"], ["players"], [
      "status",
      String(id),
      "--lines",
      "all",
    ]]
  ) {
    const r = await c.cli(args);
    const text = r.stdout + r.stderr;
    assert(
      // deno-lint-ignore no-control-regex -- control characters are what must not be there
      !/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/.test(text),
      `orch ${args.join(" ")}: ${JSON.stringify(text)}`,
    );
    if (args[0] === "status") {
      assertMatch(text, /X=\\x1b\[31mred\\u202etxt\.exe\\x07/);
      assertMatch(text, /colour=\\x1b\[31mred\\x1b\[0m/);
      assertMatch(text, /stderr\| clear \\x1b\[2J\\x1b\]0;pwned\\x07 \\x0d/);
    }
  }
  const json = JSON.parse((await c.cli(["status", String(id), "--json"])).stdout);
  assertEquals(json.job.params.X, ESC_PARAM);
  assertEquals(json.tasks.tasks[0].response.colour, "\x1b[31mred\x1b[0m");
  assertEquals(json.tasks.tasks[0].stderr_tail, "clear \x1b[2J\x1b]0;pwned\x07 \r\n");
});

Deno.test("secret params are in no file and no log, before and after a restart; a restart without a key ends queued ones expired", async () => {
  await using t = await tempDir();
  await using c = await Cluster.create({ players: ["p1", "p2"], scoresDir: await scores(t.path) });
  // The conductor and the player run under umask 022: what they create must still be 0600.
  await c.startConductor([], { wrap: UMASK_022 });
  await c.startPlayer("p1", { wrap: UMASK_022, extra: ["--slots", "1"] });

  const TOKEN = "tok-5b1e9c7a-declared";
  const USER = "usr-8f3d2a61-marked";
  const MARKED = "cli-c4e7f093-flag";
  const QUEUED = "tok-e2d94b06-queued";
  const id = await c.client.submit({
    score: "keep",
    scope: "all",
    targets: ["p1"],
    params: { TOKEN, USER, MODE: "plain" },
    secret: ["USER"],
  });
  const job = await c.wait(id);
  assertEquals(job.tasks[0].state, "succeeded");
  // The score got both values.
  assertEquals(job.tasks[0].response, {
    token_len: String(TOKEN.length),
    user_len: String(USER.length),
  });
  // The declared secret and the one the submitter marked are masked in the output the player kept.
  assertEquals(job.tasks[0].stderr_tail, "token=[secret] user=[secret]\n");
  assertEquals(job.params, { TOKEN: "[secret]", USER: "[secret]", MODE: "plain" });
  assertEquals(job.secret.sort(), ["TOKEN", "USER"]);
  const status = await c.cli(["status", String(id)]);
  assertMatch(status.stdout, /params: TOKEN=\[secret\] USER=\[secret\] MODE=plain/);

  // orch submit --secret KEY=@FILE: from a file, so it is not in the shell's history.
  const secretFile = join(t.path, "user.secret");
  await Deno.writeTextFile(secretFile, `${MARKED}\n`, { mode: 0o600 });
  const sub = await c.cli(
    [
      "submit",
      "keep",
      "--all",
      "-t",
      "p1",
      "MODE=cli",
      "--secret",
      `USER=@${secretFile}`,
      "--wait",
    ],
  );
  assertEquals(sub.code, 0, sub.stderr);
  assertMatch(sub.stdout, new RegExp(`user_len=${MARKED.length}`));
  assertMatch(sub.stdout, /USER=\[secret\]/);
  await Deno.remove(secretFile);

  // Without secrets_key, a secret for a host that is not connected is refused; nothing is stored.
  const before = (await c.client.jobs(10)).length;
  const refused = await c.client.submit({
    score: "keep",
    scope: "all",
    targets: ["p1", "p2"],
    params: { TOKEN: "tok-refused-3a9b" },
  }).then(() => null, (e) => e);
  assert(refused instanceof OrchError, String(refused));
  assertEquals(refused.code, "conflict");
  assertMatch(
    refused.message,
    /secret params for offline hosts need secrets_key: TOKEN is secret and p2 is not connected/,
  );
  assertEquals((await c.client.jobs(10)).length, before);

  // A bad value for a declared secret param is reported without it.
  const bad = await c.cli(["submit", "keep", "--all", "-t", "p1", "PIN=bad-7e1f"]);
  assertEquals(bad.code, 2);
  assertMatch(
    bad.stderr,
    /parameter PIN: the value given is not an integer in range \(it is secret/,
  );
  assert(!bad.stderr.includes("bad-7e1f"), bad.stderr);

  // A task queued behind a running one (one slot), its secret held in memory only.
  await c.submitRunning({ score: "nap", scope: "all", targets: ["p1"], params: {} });
  const queued = await c.client.submit({
    score: "keep",
    scope: "all",
    targets: ["p1"],
    params: { TOKEN: QUEUED },
  });
  assertEquals((await c.job(queued)).tasks[0].state, "queued");

  for (const v of [TOKEN, USER, MARKED, QUEUED]) await assertNowhere(c, v);
  assertEquals(await modeOf(c.db), 0o600);
  assertEquals(await modeOf(`${c.db}-wal`), 0o600);
  assertEquals(await modeOf(c.socket), 0o660);
  for await (const e of Deno.readDir(join(c.dir, "state-p1"))) {
    if (e.isFile) assertEquals(await modeOf(join(c.dir, "state-p1", e.name)), 0o600, e.name);
  }

  // A restart: the queued task's secret was in memory only, so it ends expired, saying why.
  await c.conductor!.proc.stop(5000);
  await c.startConductor([], { wrap: UMASK_022 });
  const lost = await c.wait(queued);
  assertEquals(lost.tasks[0].state, "expired");
  assertMatch(
    lost.tasks[0].reason ?? "",
    /secret parameters were held in memory only and the conductor restarted; submit it again/,
  );
  for (const v of [TOKEN, USER, MARKED, QUEUED]) await assertNowhere(c, v);
});

Deno.test("with secrets_key, a secret waits sealed for an offline host across a restart; a wrong or open key is refused at start", async () => {
  await using t = await tempDir();
  await using c = await Cluster.create({ players: ["p1", "p2"], scoresDir: await scores(t.path) });
  const key = join(t.path, "secrets.key");
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  await Deno.writeTextFile(key, btoa(String.fromCharCode(...bytes)) + "\n", { mode: 0o600 });
  await c.startConductor(["--secrets-key", key]);
  await c.startPlayer("p1");

  const TOKEN = "tok-a61c03f9-sealed";
  const id = await c.client.submit({
    score: "keep",
    scope: "all",
    targets: ["p2"],
    params: { TOKEN, MODE: "later" },
  });
  assertEquals((await c.job(id)).params, { TOKEN: "[secret]", MODE: "later" });
  await assertNowhere(c, TOKEN);

  // A wrong key: the conductor refuses to start, and says why; nothing changes.
  await c.conductor!.proc.stop(5000);
  const wrong = join(t.path, "wrong.key");
  await Deno.writeFile(wrong, crypto.getRandomValues(new Uint8Array(32)), { mode: 0o600 });
  const refused = await c.cli([...c.conductorArgs(["--secrets-key", wrong])]);
  assertEquals(refused.code, 2, refused.stderr);
  assertMatch(
    refused.stderr,
    /secrets_key .*wrong\.key does not open the secret parameter TOKEN of open job 1: it is not the key it was sealed with/,
  );
  // No key at all: refused too.
  const none = await c.cli([...c.conductorArgs()]);
  assertEquals(none.code, 2, none.stderr);
  assertMatch(
    none.stderr,
    /holds secret parameters of open job 1 sealed with a secrets_key, and none is set/,
  );
  // A key others may read: refused.
  await Deno.chmod(key, 0o644);
  const open = await c.cli([...c.conductorArgs(["--secrets-key", key])]);
  assertEquals(open.code, 2, open.stderr);
  assertMatch(open.stderr, /has mode 0644; it must be 0600 or 0400/);
  await Deno.chmod(key, 0o400);

  // The right key: the job is kept, and runs with its value once p2 connects.
  await c.startConductor(["--secrets-key", key]);
  await c.startPlayer("p2");
  const job = await c.wait(id);
  assertEquals(job.tasks[0].state, "succeeded");
  assertEquals(job.tasks[0].response?.token_len, String(TOKEN.length));
  await assertNowhere(c, TOKEN);
});
