import { assert, assertEquals, assertMatch, assertRejects } from "../../_helpers/assert.ts";
import { join } from "node:path";
import { OrchError } from "../../../lib/errors.ts";
import {
  groupAlive,
  processStartTime,
  type RunOptions,
  runScore,
  SpawnError,
  stopLeftoverGroup,
} from "../../../lib/exec/run.ts";

const enc = new TextEncoder();
const ENV = { PATH: "/usr/bin:/bin" };

/** A temp dir holding executable /bin/sh scripts, removed afterwards. */
async function withScripts(
  scripts: Record<string, string>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    for (const [name, body] of Object.entries(scripts)) {
      const file = join(dir, name);
      await Deno.writeTextFile(file, `#!/bin/sh\n${body}\n`);
      await Deno.chmod(file, 0o755);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function opts(dir: string, name: string, extra: Partial<RunOptions> = {}): RunOptions {
  return {
    executable: join(dir, name),
    cwd: dir,
    env: ENV,
    stdin: null,
    timeoutMs: null,
    killGraceMs: 200,
    headBytes: 16384,
    tailBytes: 16384,
    ...extra,
  };
}

/** Waits (boundedly) for a process group to be gone; SIGKILL is delivered asynchronously. */
async function groupGone(pgid: number): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (groupAlive(pgid) === false) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return groupAlive(pgid) === false;
}

Deno.test("a score's exit code is reported", async () => {
  await withScripts({ three: "echo out\necho err >&2\nexit 3" }, async (dir) => {
    const out = await runScore(opts(dir, "three"));
    assertEquals(
      [out.exitCode, out.signal, out.timedOut, out.cancelled],
      [3, null, false, false],
    );
    assertEquals([out.stdoutTail, out.stderrTail], ["out\n", "err\n"]);
    assert(out.pid > 0);
    assert(out.endedAt >= out.startedAt);
  });
});

Deno.test("a score killed by a signal has the signal and no exit code", async () => {
  await withScripts({ selfkill: "kill -TERM $$\necho never" }, async (dir) => {
    const out = await runScore(opts(dir, "selfkill"));
    assertEquals([out.exitCode, out.signal, out.timedOut, out.cancelled], [
      null,
      "SIGTERM",
      false,
      false,
    ]);
    assertEquals(out.stdoutTail, "");
  });
});

Deno.test("a score sees only the environment it is given", async () => {
  await withScripts({ showenv: "exec /usr/bin/env" }, async (dir) => {
    const env = {
      PATH: "/usr/bin:/bin",
      ORC_GREETING: "hi there",
      ORCH_JOB_ID: "7",
      WEIRD: "a=b c",
    };
    const out = await runScore(opts(dir, "showenv", { env }));
    assertEquals(out.exitCode, 0);
    const seen: Record<string, string> = {};
    for (const line of out.stdoutTail.split("\n").filter((l) => l !== "")) {
      const eq = line.indexOf("=");
      seen[line.slice(0, eq)] = line.slice(eq + 1);
    }
    // Set by the shell itself, not inherited.
    delete seen.PWD;
    delete seen.SHLVL;
    delete seen._;
    assertEquals(seen, env);
  });
});

Deno.test("a score runs in the folder it is given", async () => {
  await withScripts({ where: "pwd" }, async (dir) => {
    await Deno.mkdir(join(dir, "sub"));
    const out = await runScore(opts(dir, "where", { cwd: join(dir, "sub") }));
    assertEquals(out.stdoutTail, `${join(dir, "sub")}\n`);
  });
});

Deno.test("a score reads the stdin bytes it is given", async () => {
  await withScripts({ echo: "exec /bin/cat" }, async (dir) => {
    const out = await runScore(opts(dir, "echo", { stdin: enc.encode("héllo\nwörld\n\u0000end") }));
    assertEquals(out.exitCode, 0);
    assertEquals(out.stdoutTail, "héllo\nwörld\n\u0000end");
  });
});

Deno.test("a score without stdin reads end of file at once", async () => {
  await withScripts({ echo: "exec /bin/cat" }, async (dir) => {
    const out = await runScore(opts(dir, "echo", { stdin: null }));
    assertEquals([out.exitCode, out.stdoutTail], [0, ""]);
  });
});

Deno.test("a score that does not read all of its stdin still ends normally", async () => {
  await withScripts({ first: "exec /usr/bin/head -c 5" }, async (dir) => {
    const out = await runScore(opts(dir, "first", { stdin: new Uint8Array(4 << 20).fill(0x61) }));
    assertEquals([out.exitCode, out.stdoutTail], [0, "aaaaa"]);
  });
});

Deno.test("output is kept as a bounded head and tail with the count dropped, and onStdout sees every byte", async () => {
  const script = 'i=0\nwhile [ $i -lt 200 ]; do echo "line $i"; i=$((i+1)); done';
  await withScripts({ many: script }, async (dir) => {
    const chunks: Uint8Array[] = [];
    const out = await runScore(
      opts(dir, "many", { headBytes: 24, tailBytes: 30, onStdout: (c) => chunks.push(c.slice()) }),
    );
    const all = Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join("");
    assertEquals(new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c]))), all);
    // The first 24 bytes end inside "line 3"; the last 30 start inside "line 196": both cut at a line break.
    const head = "line 0\nline 1\nline 2\n";
    const tail = "line 197\nline 198\nline 199\n";
    const dropped = all.length - head.length - tail.length;
    assertEquals(out.stdoutTail, `${head}[… ${dropped} bytes dropped …]\n${tail}`);
    assertEquals([out.stdoutDropped, out.stderrDropped, out.stderrTail], [dropped, 0, ""]);
  });
});

Deno.test("onSpawn is told the pid of the score", async () => {
  await withScripts({ ok: "exit 0" }, async (dir) => {
    let told = 0;
    const out = await runScore(opts(dir, "ok", { onSpawn: (pid) => (told = pid) }));
    assertEquals(told, out.pid);
  });
});

Deno.test("a timeout stops the whole process group, even a child that ignores SIGTERM", async () => {
  const script = `
/bin/sh -c 'trap "" TERM; echo $$ > child.pid; while :; do /bin/sleep 0.05; done' &
while [ ! -s child.pid ]; do /bin/sleep 0.01; done
echo started
wait`;
  await withScripts({ stubborn: script }, async (dir) => {
    const out = await runScore(opts(dir, "stubborn", { timeoutMs: 1000, killGraceMs: 200 }));
    assertEquals([out.timedOut, out.cancelled, out.exitCode, out.signal], [
      true,
      false,
      null,
      "SIGTERM",
    ]);
    assertEquals(out.stdoutTail, "started\n");
    // The child had set its trap before the timeout.
    const child = Number((await Deno.readTextFile(join(dir, "child.pid"))).trim());
    assert(child > 0);
    assertEquals(await groupGone(out.pid), true);
    assertEquals(groupAlive(out.pid), false);
  });
});

Deno.test("aborting the signal stops the score with outcome cancelled", async () => {
  await withScripts({ sleeper: "echo ready\nexec /bin/sleep 30" }, async (dir) => {
    const ac = new AbortController();
    const out = await runScore(
      opts(dir, "sleeper", { signal: ac.signal, onStdout: () => ac.abort() }),
    );
    assertEquals([out.cancelled, out.timedOut, out.exitCode, out.signal], [
      true,
      false,
      null,
      "SIGTERM",
    ]);
    assertEquals(out.stdoutTail, "ready\n");
    assertEquals(await groupGone(out.pid), true);
  });
});

Deno.test("a signal aborted before the start cancels the score at once", async () => {
  await withScripts({ sleeper: "exec /bin/sleep 30" }, async (dir) => {
    const out = await runScore(
      opts(dir, "sleeper", { signal: AbortSignal.abort(), timeoutMs: 20_000 }),
    );
    assertEquals([out.cancelled, out.timedOut, out.exitCode], [true, false, null]);
    assertEquals(await groupGone(out.pid), true);
  });
});

Deno.test("a child that keeps stdout open does not hold the result past the drain time", async () => {
  await withScripts({ leaver: "/bin/sleep 30 &\necho done\nexit 0" }, async (dir) => {
    let pid = 0;
    try {
      const out = await runScore(opts(dir, "leaver", { drainMs: 100, onSpawn: (p) => (pid = p) }));
      assertEquals([out.exitCode, out.stdoutTail], [0, "done\n"]);
      // The child is still there: runScore does not stop a group that ended on its own.
      assertEquals(groupAlive(out.pid), true);
    } finally {
      if (pid) Deno.kill(-pid, "SIGKILL");
      await groupGone(pid);
    }
  });
});

Deno.test("an executable that does not exist is a SpawnError", async () => {
  await withScripts({}, async (dir) => {
    const exe = join(dir, "missing");
    const err = await assertRejects(() => runScore(opts(dir, "missing")));
    assert(err instanceof SpawnError);
    assert(err instanceof OrchError);
    assertEquals(err.code, "invalid");
    assertEquals(
      err.message,
      `cannot start ${exe}: it (or its interpreter, or the folder ${dir}) does not exist`,
    );
  });
});

Deno.test("a script whose interpreter does not exist is a SpawnError", async () => {
  await withScripts({}, async (dir) => {
    const exe = join(dir, "badshebang");
    await Deno.writeTextFile(exe, "#!/nonexistent/interpreter\n");
    await Deno.chmod(exe, 0o755);
    const err = await assertRejects(() => runScore(opts(dir, "badshebang")));
    assert(err instanceof SpawnError);
    assertEquals(
      err.message,
      `cannot start ${exe}: it (or its interpreter, or the folder ${dir}) does not exist`,
    );
  });
});

Deno.test("a file that is not executable is a SpawnError saying permission denied", async () => {
  await withScripts({ plain: "exit 0" }, async (dir) => {
    await Deno.chmod(join(dir, "plain"), 0o644);
    const err = await assertRejects(() => runScore(opts(dir, "plain")));
    assert(err instanceof SpawnError);
    assertEquals(err.message, `cannot start ${join(dir, "plain")}: permission denied`);
  });
});

Deno.test("the start time of a live process is a number in text; of no process, null", () => {
  const t = processStartTime(Deno.pid);
  assertEquals(typeof t, "string");
  assertMatch(t!, /^\d+$/);
  assertEquals(processStartTime(Deno.pid), t);
  assertEquals(processStartTime(4_194_305), null); // above the largest pid Linux allows
});

Deno.test("a leftover group is stopped when its leader is the same process", async () => {
  await withScripts({ sleeper: "echo ready\nexec /bin/sleep 30" }, async (dir) => {
    let pid = 0;
    let stopped: Promise<boolean> | undefined;
    const out = await runScore(
      opts(dir, "sleeper", {
        onSpawn: (p) => (pid = p),
        onStdout: () => {
          stopped ??= stopLeftoverGroup(pid, processStartTime(pid), 200);
        },
      }),
    );
    assertEquals(await stopped, true);
    assertEquals([out.exitCode, out.signal, out.timedOut, out.cancelled], [
      null,
      "SIGTERM",
      false,
      false,
    ]);
    assertEquals(await groupGone(out.pid), true);
  });
});

Deno.test("a leftover group whose leader has another start time is left alone", async () => {
  await withScripts({ sleeper: "echo ready\nexec /bin/sleep 30" }, async (dir) => {
    let pid = 0;
    let result: boolean | undefined;
    let aliveAfter: boolean | undefined;
    const ac = new AbortController();
    const out = await runScore(
      opts(dir, "sleeper", {
        signal: ac.signal,
        onSpawn: (p) => (pid = p),
        onStdout: () => {
          stopLeftoverGroup(pid, "1", 100).then((r) => {
            result = r;
            aliveAfter = groupAlive(pid);
          }).finally(() => ac.abort()); // now end it
        },
      }),
    );
    assertEquals(result, false);
    // It was still running after: not ours to stop.
    assertEquals(aliveAfter, true);
    assertEquals(out.cancelled, true);
  });
});

Deno.test("a timeout longer than a timer can wait does not fire at once", async () => {
  await withScripts({ short: "sleep 0.3; echo done" }, async (dir) => {
    const out = await runScore(opts(dir, "short", { timeoutMs: 30 * 86_400_000 }));
    assertEquals([out.timedOut, out.exitCode, out.stdoutTail], [false, 0, "done\n"]);
  });
});

Deno.test("when the caller cannot record a started score, the score is killed and the error passed on", async () => {
  await withScripts({ long: "sleep 30 &\nsleep 30" }, async (dir) => {
    let pid = 0;
    const err = await assertRejects(
      () =>
        runScore(opts(dir, "long", {
          onSpawn: (p) => {
            pid = p;
            throw new Error("journal is full");
          },
        })),
      /journal is full/,
    );
    assert(!(err instanceof SpawnError), "the score did start");
    assert(pid > 0);
    assertEquals(await groupGone(pid), true);
  });
});
