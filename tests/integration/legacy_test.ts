/**
 * Orchestra's own audience protocol on the legacy socket, driven by a
 * client written from the protocol's description: raw JSON on a Unix
 * socket, one request per connection, the reply read to the end of the
 * stream.
 */

import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertNotMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { orch, ROOT, until } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");

/** Sends `request` (bytes as they are, or a value as JSON) and reads the reply to the end. */
async function legacy(path: string, request: unknown): Promise<unknown> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    const bytes = request instanceof Uint8Array
      ? request
      : new TextEncoder().encode(JSON.stringify(request));
    let sent = 0;
    while (sent < bytes.length) sent += await conn.write(bytes.subarray(sent));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    return JSON.parse(new TextDecoder().decode(all));
  } finally {
    try {
      conn.close();
    } catch {
      // Closed by the peer already.
    }
  }
}

type Status = {
  Status: string;
  Players: Record<string, { Status: string; Response: Record<string, string> }>;
};

/** Polls the status of job `id` until its word is no longer PENDING. */
async function final(path: string, id: number): Promise<Status> {
  return await until(`job ${id} final on the legacy socket`, async () => {
    const r = await legacy(path, { Op: "status", Id: id }) as ["OK", Status];
    assertEquals(r[0], "OK", JSON.stringify(r));
    return r[1].Status === "PENDING" ? undefined : r[1];
  }, 20_000);
}

/** A scores folder with the named scores (and their confs) of `from`. */
async function scores(dir: string, from: string, names: string[]): Promise<string> {
  await Deno.mkdir(dir);
  for (const n of names) {
    await Deno.copyFile(join(from, n), join(dir, n));
    await Deno.chmod(join(dir, n), 0o755);
    await Deno.copyFile(join(from, `${n}.conf`), join(dir, `${n}.conf`));
  }
  return dir;
}

async function twoFolders(c: Cluster): Promise<{ p1: string; p2: string }> {
  const p1 = await scores(join(c.dir, "scores1"), join(ROOT, "scores"), ["hello", "fail"]);
  const p2 = await scores(join(c.dir, "scores2"), join(ROOT, "scores"), ["hello", "fail"]);
  // The original Orchestra `key=value` conf, on both; a score only p1 has.
  for (const d of [p1, p2]) {
    await Deno.copyFile(join(TESTDATA, "legacy"), join(d, "legacy"));
    await Deno.chmod(join(d, "legacy"), 0o755);
    await Deno.copyFile(join(TESTDATA, "legacy.conf"), join(d, "legacy.conf"));
  }
  await Deno.copyFile(join(ROOT, "scores/hello"), join(p1, "only1"));
  await Deno.chmod(join(p1, "only1"), 0o755);
  await Deno.copyFile(join(ROOT, "scores/hello.conf"), join(p1, "only1.conf"));
  return { p1, p2 };
}

Deno.test("Orchestra's clients queue all-of and one-of jobs on the legacy socket and read them in Orchestra's words", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"] });
  const dirs = await twoFolders(c);
  const sock = join(c.dir, "legacy.sock");
  await c.startConductor(["--legacy-socket", sock]);
  await c.startPlayer("p1", { extra: ["--scores-dir", dirs.p1] });
  await c.startPlayer("p2", { extra: ["--scores-dir", dirs.p2] });
  assertEquals((await Deno.stat(sock)).mode! & 0o777, 0o660);

  // All-of on two players: every one succeeds, with its response.
  const all = await legacy(sock, {
    Op: "queue",
    Score: "hello",
    Scope: "all",
    Players: ["p1", "p2"],
    Params: { NAME: "orchestra" },
  }) as [string, number];
  assertEquals(all[0], "OK", JSON.stringify(all));
  assert(Number.isInteger(all[1]));
  const allDone = await final(sock, all[1]);
  assertEquals(allDone, {
    Status: "OK",
    Players: {
      p1: { Status: "OK", Response: { greeting: "hello, orchestra from p1", job: `${all[1]}` } },
      p2: { Status: "OK", Response: { greeting: "hello, orchestra from p2", job: `${all[1]}` } },
    },
  });

  // One-of, with field names in another case (as Go's decoder allows), of a score whose conf is
  // Orchestra's `key=value`: one player ran it.
  const one = await legacy(sock, {
    op: "queue",
    SCORE: "legacy",
    scope: "one",
    players: ["p1", "p2"],
    params: { X: "42" },
  }) as [string, number];
  assertEquals(one[0], "OK", JSON.stringify(one));
  const oneDone = await final(sock, one[1]);
  assertEquals(oneDone.Status, "OK");
  const ran = Object.keys(oneDone.Players);
  assertEquals(ran.length, 1, JSON.stringify(oneDone));
  assert(ran[0] === "p1" || ran[0] === "p2");
  assertEquals(oneDone.Players[ran[0]], { Status: "OK", Response: {} });
  const task = (await c.job(one[1])).tasks[0];
  assertEquals(task.stdout_tail, "legacy ORC_X=42\n");
  assertEquals((await c.job(one[1])).submitted_by, "local:root");

  // A score no player has: refused at queue.
  const unknown = await legacy(sock, {
    Op: "queue",
    Score: "nosuch",
    Scope: "all",
    Players: ["p1", "p2"],
  }) as [string, string];
  assertEquals(unknown[0], "Error");
  assertMatch(unknown[1], /unknown score "nosuch"/);

  // A score one target lacks: that player's word is UNK_SCORE, the job's PARTIAL_FAIL.
  const partial = await legacy(sock, {
    Op: "queue",
    Score: "only1",
    Scope: "all",
    Players: ["p1", "p2"],
  }) as [string, number];
  assertEquals(partial[0], "OK", JSON.stringify(partial));
  const partialDone = await final(sock, partial[1]);
  assertEquals(partialDone.Status, "PARTIAL_FAIL");
  assertEquals(partialDone.Players.p1.Status, "OK");
  assertEquals(partialDone.Players.p2, { Status: "UNK_SCORE", Response: {} });

  // A failing score everywhere: FAIL, and each player's response.
  const failing = await legacy(sock, {
    Op: "queue",
    Score: "fail",
    Scope: "all",
    Players: ["p1", "p2"],
  }) as [string, number];
  const failDone = await final(sock, failing[1]);
  assertEquals(failDone, {
    Status: "FAIL",
    Players: {
      p1: { Status: "FAIL", Response: { reason: "on purpose" } },
      p2: { Status: "FAIL", Response: { reason: "on purpose" } },
    },
  });
});

Deno.test("the legacy socket answers every malformed request with an Error and goes on serving", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const sock = join(c.dir, "legacy.sock");
  await c.startConductor([
    "--legacy-socket",
    sock,
    "--legacy-socket-mode",
    "0600",
    "--request-timeout",
    "1s",
  ]);
  assertEquals((await Deno.stat(sock)).mode! & 0o777, 0o600);
  const enc = (s: string) => new TextEncoder().encode(s);
  const cases: [unknown, RegExp][] = [
    [enc("this is not json}"), /not valid JSON/],
    [enc("{not json}"), /not valid JSON/],
    [enc("[1, 2]"), /not a JSON object but a list/],
    [{ Op: "dance" }, /"Op": expected "queue" or "status", got "dance"/],
    [{ Id: 1 }, /"Op" is missing/],
    [{ Op: "status" }, /"Id" is missing/],
    [{ Op: "status", Id: "1" }, /"Id": expected a job id/],
    [{ Op: "queue", Scope: "all", Players: ["p1"] }, /"Score" is missing/],
    [{ Op: "queue", Score: "hello", Players: ["p1"] }, /"Scope" is missing/],
    [{ Op: "queue", Score: "hello", Scope: "some", Players: ["p1"] }, /"Scope": expected/],
    [{ Op: "queue", Score: "hello", Scope: "all" }, /"Players" is missing/],
    [{ Op: "queue", Score: "hello", Scope: "all", Players: "p1" }, /"Players": expected a list/],
    [{ Op: "queue", Score: "hello", Scope: "all", Players: ["p*"] }, /"Players"\[0\]/],
    [
      { Op: "queue", Score: "hello", Scope: "all", Players: ["p1"], Params: { N: 1 } },
      /"Params"\."N": expected a string/,
    ],
    [{ Op: "queue", Score: "hello", Scope: "all", Players: ["nope"] }, /not in the players file/],
    [{ Op: "status", Id: 999 }, /no job 999/],
    [enc(`{"Op":"queue","Score":"${"x".repeat(1 << 20)}"}`), /larger than 1048576 bytes/],
    // Half a request, then silence: answered once the request timeout is up.
    [enc(`{"Op":"status",`), /did not arrive whole within 1 s/],
  ];
  for (const [request, expected] of cases) {
    const r = await legacy(sock, request) as [string, string];
    assertEquals(r[0], "Error", `${JSON.stringify(r)} for ${String(expected)}`);
    assertMatch(r[1], expected);
  }
  // Still serving, and nothing was stored.
  assertEquals(await legacy(sock, { Op: "status", Id: 1 }), ["Error", "no job 1"]);
  assertEquals((await c.client.jobs(10)).length, 0);
});

Deno.test("the legacy socket is off unless configured; its callers are local users by their peer credentials, refused and audited by the grants", async () => {
  await using c = await Cluster.create({
    players: ["p1"],
    grants: `grants:
  - who: [audience:alice, local:someone-else]
    may: [all]
`,
  });
  const sock = join(c.dir, "legacy.sock");
  // A group that does not exist stops the start, naming the key.
  const bad = await orch(
    c.conductorArgs(["--init", "--legacy-socket", sock, "--legacy-socket-group", "no-such-group"]),
  );
  assert(bad.code !== 0);
  assertMatch(bad.stderr, /legacy_socket_group: no group "no-such-group" in \/etc\/group/);
  assertNotMatch(bad.stderr, /\n\s+at /);
  await assertAbsent(sock);
  const first = await c.startConductor();
  await first.proc.stop(3000);
  assert(!first.proc.log.includes("legacy socket"), first.proc.log);
  await assertAbsent(sock);

  // A socket left by a conductor that died is taken over.
  const second = await c.startConductor(["--legacy-socket", sock]);
  await second.proc.waitFor(/legacy socket ready/);
  await second.proc.kill9();
  assert((await Deno.lstat(sock)).isSocket);
  await c.startConductor(["--legacy-socket", sock]);

  const r = await legacy(sock, {
    Op: "queue",
    Score: "hello",
    Scope: "all",
    Players: ["p1"],
  }) as [string, string];
  assertEquals(r[0], "Error");
  assertMatch(r[1], /^local:root may not submit score hello on p1 \(all-of\): /);
  const alice = await c.httpsClient("alice");
  assertEquals((await alice.jobs(10)).length, 0);
  const records = (await alice.audit({ limit: 100 })).filter((x) => x.action === "submit");
  assertEquals(records.length, 1, JSON.stringify(records));
  assertEquals(records[0].who, "local:root");
  assertEquals(records[0].outcome, "refused");
  assertEquals(records[0].auth, "peer_credentials");
  assertEquals(records[0].transport, "socket");
  assertMatch(records[0].from, /^legacy socket pid \d+$/);

  // A stop ends the socket and removes it.
  const last = c.conductor!.proc;
  await last.stop(10_000);
  assertMatch(last.log, /conductor stopped/);
  await assertAbsent(sock);
});

async function assertAbsent(path: string): Promise<void> {
  try {
    await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  throw new Error(`${path} exists`);
}
