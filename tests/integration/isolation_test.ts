import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertNotMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { Proc, ROOT } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");
const NOBODY = 65534;
const isRoot = Deno.uid() === 0;

async function runOne(c: Cluster, score: string, params: Record<string, string> = {}) {
  const job = await c.wait(await c.client.submit({ score, scope: "all", targets: ["p1"], params }));
  return job.tasks[0];
}

Deno.test("a score gets only fds 0-2, whatever descriptors the player inherited", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  const marker = join(c.dir, "inherited-fd-marker");
  await Deno.writeTextFile(marker, "x");
  await c.startConductor();
  // The player inherits fd 7 (open on the marker), as from a shell's `exec 7<file`.
  await c.startPlayer("p1", { wrap: ["/bin/sh", "-c", 'exec 7<"$0"; exec "$@"', marker] });

  const t = await runOne(c, "showfds");
  assertEquals(t.state, "succeeded");
  const fds = new Map<number, string>();
  for (const m of t.stdout_tail.matchAll(/ (\d+) -> (.*)$/gm)) fds.set(Number(m[1]), m[2]);
  assert(fds.has(0) && fds.has(1) && fds.has(2), t.stdout_tail);
  assertNotMatch(t.stdout_tail, /inherited-fd-marker/);
  // Above 2 only ls's own listing of /proc/self/fd.
  for (const [fd, target] of fds) {
    if (fd > 2) assertMatch(target, /^\/proc\/\d+\/fd$/, `fd ${fd} -> ${target}`);
  }
});

Deno.test({
  name: "a root player runs a score as the conf's user: uid, primary gid, no other groups, HOME",
  ignore: !isRoot, // switching users needs root; the suite runs as root
  async fn() {
    await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
    await c.startConductor();
    await c.startPlayer("p1");
    const t = await runOne(c, "whoami");
    assertEquals(t.state, "succeeded", t.stderr_tail);
    assertEquals(t.response, {
      uid: String(NOBODY),
      gid: String(NOBODY),
      groups: String(NOBODY),
      home: "/nonexistent",
      user: "nobody",
      logname: "nobody",
    });
  },
});

Deno.test({
  name: "a player that is not root refuses a score that names another user, and runs nothing",
  ignore: !isRoot, // the test starts the player as nobody, which needs root
  async fn() {
    // The player runs from the one-file bundle, out of a folder nobody owns, so that it needs
    // nothing from root's module cache.
    const home = await Deno.makeTempDir({ prefix: "orch-nobody-" });
    try {
      const built = await new Deno.Command(Deno.execPath(), {
        args: ["bundle", "--quiet", "--output", join(home, "orch.js"), join(ROOT, "main.ts")],
        cwd: ROOT,
      }).output();
      assertEquals(built.code, 0, new TextDecoder().decode(built.stderr));
      const scores = join(home, "scores");
      await Deno.mkdir(scores);
      for (const f of ["asroot", "asroot.conf"]) {
        await Deno.copyFile(join(TESTDATA, f), join(scores, f));
      }
      await Deno.chmod(join(scores, "asroot"), 0o755);

      await using c = await Cluster.create({ players: ["p1"], scoresDir: scores });
      for (const f of ["ca.crt", "p1.crt", "p1.key"]) {
        await Deno.copyFile(join(c.caDir, f), join(home, f));
      }
      // Everything the player reads or writes is nobody's; the marks go where nobody may write.
      const marks = join(home, "marks");
      await Deno.mkdir(marks, { mode: 0o777 });
      await Deno.chmod(marks, 0o777);
      for (const e of [home, scores, ...["ca.crt", "p1.crt", "p1.key"].map((f) => join(home, f))]) {
        await Deno.chown(e, NOBODY, NOBODY);
      }
      await c.startConductor();
      const player = c.track(
        new Proc(
          "p1-nobody",
          c.playerArgs("p1", [
            "--ca",
            join(home, "ca.crt"),
            "--cert",
            join(home, "p1.crt"),
            "--key",
            join(home, "p1.key"),
            "--state-dir",
            join(home, "state"),
          ]),
          {
            entry: join(home, "orch.js"),
            cwd: home,
            env: { DENO_DIR: join(home, ".deno"), HOME: home },
            uid: NOBODY,
            gid: NOBODY,
          },
        ),
      );
      await player.waitFor(/connected to the conductor/, 60_000);
      await c.waitConnected("p1");

      const mark = join(marks, "ran");
      const t = await runOne(c, "asroot", { MARK: mark });
      assertEquals(t.state, "rejected");
      assertMatch(
        t.reason ?? "",
        /cannot_start: score asroot runs as user root; this player runs as nobody, not root, and cannot switch users/,
      );
      assertEquals(await Deno.stat(mark).then(() => "ran", () => "not run"), "not run");
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test("secret values never reach the result, the journal or a log in clear", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  const p1 = await c.startPlayer("p1");
  const token = "tok-Zq81-secret";
  const t = await runOne(c, "tellsecret", { TOKEN: token, PIN: "42" });
  assertEquals(t.state, "failed");
  assertEquals(t.response, {
    token: "[secret]",
    token_again: "before-[secret]-after",
    // Shorter than 4 characters: not masked (masking would blank every "42" in the output).
    short: "42",
  });
  assertEquals(t.stderr_tail, "[secret]\nstderr says [secret] twice: [secret]\n");
  assertNotMatch(JSON.stringify(t), new RegExp(token));
  await p1.waitFor(/result acknowledged/);
  assertNotMatch(p1.log, new RegExp(token));
  // The journal's file (and its WAL) never held the value.
  for await (const e of Deno.readDir(join(c.dir, "state-p1"))) {
    const bytes = await Deno.readFile(join(c.dir, "state-p1", e.name));
    assertEquals(new TextDecoder("latin1").decode(bytes).includes(token), false, e.name);
  }
});
