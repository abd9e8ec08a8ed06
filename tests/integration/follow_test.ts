import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertNotMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { submitTicker } from "../_helpers/ticker.ts";
import { orchCommand, Proc, ROOT, tempDir, until } from "../_helpers/proc.ts";
import { hostColour } from "../../cmd/_follow.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");

/** `orch ARGS` on the cluster's socket, its stdout and stderr read as they come. */
function cliProc(c: Cluster, name: string, args: string[], env: Record<string, string> = {}): Proc {
  return c.track(new Proc(name, args, { env: { ORCH_SOCKET: c.socket, ...env } }));
}

/** The numbers of `host`'s stdout tick lines, in the order printed. */
function ticks(lines: string[], host: string): number[] {
  const re = new RegExp(`^${host} \\| tick (\\d+) token=`);
  return lines.flatMap((l) => {
    const m = l.match(re);
    return m ? [Number(m[1])] : [];
  });
}

Deno.test("--follow prints a line a second from two hosts, in order, before the job ends; then the outcome", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.startPlayer("p2");
  await using job = await submitTicker(c, ["p1", "p2"], { EVERY: "1", TOKEN: "opensesame42" });
  const { id } = job;
  const follow = cliProc(c, "follow", ["status", String(id), "--follow"]);
  // The job cannot end before its stop file exists: these lines came while it ran.
  await follow.waitFor(/^p1 \| tick 3 token=\[secret\]$/, 30_000);
  await follow.waitFor(/^p2 \| tick 3 token=\[secret\]$/, 30_000);
  await follow.waitFor(/^p1 ! tock 3$/, 30_000);
  await job.stop();
  const status = await follow.exited;
  await follow.stop();
  assertEquals(status.code, 0, follow.log);
  for (const host of ["p1", "p2"]) {
    const got = ticks(follow.lines, host);
    assertEquals(got, got.map((_, i) => i + 1), `${host}: ${follow.log}`);
    assert(got.length >= 3);
    const end = follow.lines.findIndex((l) => new RegExp(`^${host}: succeeded, exit 0, `).test(l));
    assert(end > follow.lines.findIndex((l) => l.startsWith(`${host} | tick 3 `)), follow.log);
    assert(
      follow.lines.some((l) => new RegExp(`^${host} \\| done after \\d+$`).test(l)),
      follow.log,
    );
  }
  assertNotMatch(follow.log, /opensesame42/);
  // Then the outcome, as --wait prints it.
  assertMatch(follow.log, new RegExp(`job ${id}: ticker on all of p1, p2`));
  assertMatch(follow.log, /2 succeeded/);
});

Deno.test("submit --follow over HTTPS runs a job end to end: its lines, its end, the outcome and its exit status", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await using dir = await tempDir();
  const stop = join(dir.path, "stop");
  const run = cliProc(c, "submit", [
    "submit",
    "ticker",
    "--all",
    "-t",
    "p1",
    "--follow",
    ...c.httpsFlags("alice"),
    `UNTIL=${stop}`,
    "EVERY=0.2",
  ]);
  await run.waitFor(/^job \d+ submitted; following its output$/);
  await run.waitFor(/^p1 \| tick 2 token=$/, 30_000);
  await Deno.writeTextFile(stop, "");
  const status = await run.exited;
  await run.stop();
  assertEquals(status.code, 0, run.log);
  assertMatch(run.log, /^p1: succeeded, exit 0, /m);
  assertMatch(run.log, /^job \d+: ticker on all of p1/m);
});

Deno.test("--follow of a finished job prints its outcome; --json prints one event a line", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await using job = await submitTicker(c, ["p1"], { EVERY: "0.2" });
  const { id } = job;
  const json = cliProc(c, "json", ["status", String(id), "--follow", "--json"]);
  // Tick 2 comes in the snapshot or in an output event, as the CLI's start falls.
  await json.waitFor(/^\{"type":"(snapshot|output)".*tick 2 token=/, 30_000);
  await job.stop();
  assertEquals((await json.exited).code, 0, json.log);
  await json.stop();
  const events = json.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  assertEquals(events.at(-1).type, "end");
  assertEquals(events.at(-1).aggregate, "success");
  assert(events.some((e) => e.type === "output" && e.host === "p1"));

  const after = await c.cli(["status", String(id), "--follow"]);
  assertEquals(after.code, 0, after.stderr);
  assertMatch(after.stdout, new RegExp(`^job ${id}: ticker on all of p1`));
  assertMatch(after.stdout, /succeeded/);
});

Deno.test("--wait off a terminal prints a progress line per change, offline hosts told apart", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2", "p3"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.startPlayer("p2");
  await using dir = await tempDir();
  const stop = join(dir.path, "stop");
  const run = cliProc(c, "wait", [
    "submit",
    "ticker",
    "--all",
    "-t",
    "p1,p2,p3",
    "--wait",
    `UNTIL=${stop}`,
    "EVERY=0.2",
  ]);
  await run.waitFor(
    /^orch: job \d+: 0\/3 done, 2 running, 1 queued \(1 for offline hosts\), /,
    30_000,
  );
  await Deno.writeTextFile(stop, "");
  await run.waitFor(/^orch: job \d+: 2\/3 done, 0 running, 1 queued \(1 for offline hosts\), /);
  await c.startPlayer("p3");
  assertEquals((await run.exited).code, 0, run.log);
  await run.stop();
  assertMatch(run.log, /^orch: job \d+: 3\/3 done, 0 running, 0 queued, /m);
  assertMatch(run.log, /^job \d+: ticker on all of p1, p2, p3/m);
});

Deno.test("--wait-timeout ends --follow with exit 5; the job goes on", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await using job = await submitTicker(c, ["p1"], { EVERY: "0.2" });
  const { id } = job;
  const r = await c.cli(["status", String(id), "--follow", "--wait-timeout", "1s"]);
  assertEquals(r.code, 5, r.stderr);
  assertEquals((await c.client.job(id)).finished_at, null);
  await job.stop();
  assertEquals((await c.wait(id)).aggregate, "success");
});

Deno.test("--follow rides out a conductor restart: no line printed twice, any missed bytes marked", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await using job = await submitTicker(c, ["p1"], { EVERY: "0.3" });
  const { id } = job;
  const follow = cliProc(c, "follow-restart", ["status", String(id), "--follow"]);
  await follow.waitFor(/^p1 \| tick 3 token=$/, 30_000);
  await c.conductor!.proc.stop();
  const before = Math.max(...ticks(follow.lines, "p1"));
  await c.startConductor();
  // A tick well past any the stopped conductor could have sent: the stream was opened again
  // (whether the first try failed, "retrying", depends on when it came).
  await until(
    "ticks through the new conductor",
    () => ticks(follow.lines, "p1").some((n) => n > before + 2),
    30_000,
  );
  await job.stop();
  assertEquals((await follow.exited).code, 0, follow.log);
  await follow.stop();
  const got = ticks(follow.lines, "p1");
  for (let i = 1; i < got.length; i++) assert(got[i] > got[i - 1], `${got}\n${follow.log}`);
  // Each jump in the numbers comes with a marker of what was not shown.
  const jumps = got.filter((n, i) => i > 0 && n !== got[i - 1] + 1).length;
  const markers = follow.lines.filter((l) => /^p1 \| \[… \d+ bytes not shown …\]$/.test(l)).length;
  assert(markers >= (jumps > 0 ? 1 : 0), follow.log);
  assertMatch(follow.log, /^p1: succeeded, exit 0, /m);
  if (Deno.env.get("ORCH_TEST_LOG")) console.error(follow.log);
});

/** `script` (util-linux) runs a command on a pseudo-terminal: how a test sees what a TTY gets. */
const SCRIPT = ["/usr/bin/script", "/bin/script"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

/** A word quoted for `sh` (the test's own paths and flags only). */
function shq(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

Deno.test({
  name: "--follow colours each host on a terminal, and not with NO_COLOR set",
  ignore: SCRIPT === undefined,
  async fn() {
    await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
    await c.startConductor();
    await c.startPlayer("p1");
    await using dir = await tempDir();
    const stop = join(dir.path, "stop");
    const id = await c.client.submit({
      score: "ticker",
      scope: "all",
      targets: ["p1"],
      params: { UNTIL: stop, EVERY: "0.2" },
    });
    await until("two ticks", async () => (await c.job(id)).tasks[0].stdout_tail.includes("tick 2"));
    const follow = [...orchCommand(), "status", String(id), "--follow", "--wait-timeout", "1s"];
    const onTty = async (noColor: string | null) => {
      // Only what the run needs: the NO_COLOR of the test's own environment stays out.
      const env: Record<string, string> = {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: Deno.env.get("HOME") ?? "/",
        ORCH_SOCKET: c.socket,
        ...(noColor === null ? {} : { NO_COLOR: noColor }),
      };
      const out = await new Deno.Command(SCRIPT!, {
        args: ["-q", "-e", "-c", follow.map(shq).join(" "), "/dev/null"],
        clearEnv: true,
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      return new TextDecoder().decode(out.stdout);
    };
    const coloured = await onTty(null);
    assert(coloured.includes(`\x1b[38;5;${hostColour("p1")}mp1 |\x1b[0m tick 1 token=`), coloured);
    const plain = await onTty("1");
    assert(plain.includes("p1 | tick 1 token="), plain);
    assert(!plain.includes("\x1b[38;5;"), plain);
    // Not a terminal, NO_COLOR unset: no colour either.
    const [cmd, ...pre] = follow;
    const piped = await new Deno.Command(cmd, {
      args: pre,
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ORCH_SOCKET: c.socket },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const pipedText = new TextDecoder().decode(piped.stdout);
    assert(pipedText.includes("p1 | tick 1 token="), pipedText);
    assert(!pipedText.includes("\x1b"), pipedText);
    await Deno.writeTextFile(stop, "");
    assertEquals((await c.wait(id)).aggregate, "success");
  },
});

Deno.test("Ctrl-C stops following, says the job goes on, and leaves it running", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await using job = await submitTicker(c, ["p1"], { EVERY: "0.2" });
  const { id } = job;
  const follow = cliProc(c, "follow-int", ["status", String(id), "--follow"]);
  await follow.waitFor(/^p1 \| tick 2 token=$/, 30_000);
  follow.signal("SIGINT");
  assertEquals((await follow.exited).code, 5, follow.log);
  await follow.stop();
  assertMatch(follow.log, new RegExp(`^orch: stopped following job ${id}; it goes on`, "m"));
  assertEquals((await c.client.job(id)).finished_at, null);
  await job.stop();
  assertEquals((await c.wait(id)).aggregate, "success");
});

Deno.test("the client's event stream resumes after the last event id it was given: nothing again, nothing lost", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await using job = await submitTicker(c, ["p1"], { EVERY: "0.2" });
  const { id } = job;
  let printed = 0;
  let last: string | null = null;
  for await (const ev of c.client.events(id, { timeoutMs: 30_000 })) {
    if (ev.id !== null) last = ev.id;
    if (ev.type === "snapshot") {
      for (const t of ev.live) {
        for (const p of t.pieces) if (p.stream === "stdout") printed = p.offset + p.bytes;
      }
    }
    if (ev.type === "output" && ev.stream === "stdout") {
      assertEquals(ev.offset, printed);
      printed += ev.bytes;
      if (ev.data.includes("tick 2 ")) break;
    }
  }
  assert(last !== null && printed > 0);
  // Opened again after the last id: the stream goes on where it stopped, with no snapshot.
  const types: string[] = [];
  for await (const ev of c.client.events(id, { lastEventId: last, timeoutMs: 30_000 })) {
    types.push(ev.type);
    if (ev.type === "output" && ev.stream === "stdout") {
      assertEquals(ev.offset, printed);
      break;
    }
  }
  assert(!types.includes("snapshot"), types.join(","));
  await job.stop();
  assertEquals((await c.wait(id)).aggregate, "success");
});
