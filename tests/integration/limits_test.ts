/**
 * Attacks on the conductor's listeners, against real processes: idle
 * connections that never speak, abandoned long polls, headers dribbled
 * byte by byte, a second holder of a player's certificate, and running out
 * of file descriptors. The conductor must cut what exceeds its limits, keep
 * serving meanwhile, and let go of every descriptor afterwards.
 */

import net from "node:net";
import tls from "node:tls";
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { OrchError } from "../../lib/errors.ts";
import { type AuditRecord, proofFolder } from "../../lib/protocol/mod.ts";
import { makeLocalProof } from "../../lib/client/mod.ts";
import { Proc, ROOT, until } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");

/** Connections each attack opens: enough to matter, few enough for a 2-core machine in parallel. */
const MANY = 2000;

/** Descriptors process `pid` holds now. */
function fdCount(pid: number): number {
  let n = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
  return n;
}

/** Open client sockets, destroyed together at the end of the test. */
class Sockets implements Disposable {
  readonly all: net.Socket[] = [];
  closed = 0;

  add(socket: net.Socket): net.Socket {
    this.all.push(socket);
    socket.on("error", () => {});
    socket.once("close", () => this.closed++);
    return socket;
  }

  /** Opens `n` connections with `open`, `batch` at a time, each waited for until connected. */
  async open(n: number, open: () => net.Socket, batch = 200): Promise<void> {
    for (let i = 0; i < n; i += batch) {
      await Promise.all(
        Array.from({ length: Math.min(batch, n - i) }, () =>
          new Promise<void>((resolve) => {
            const s = this.add(open());
            s.once("connect", () => resolve());
            s.once("close", () => resolve());
          })),
      );
    }
  }

  [Symbol.dispose](): void {
    for (const s of this.all) s.destroy();
  }
}

Deno.test("2,000 idle connections on each port that never speak are closed after the timeout while a job runs through", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const { proc } = await c.startConductor([
    "--handshake-timeout",
    "5s",
    "--request-timeout",
    "5s",
    "--max-connections-per-peer",
    "100000",
    "--audience-max-connections-per-peer",
    "100000",
  ]);
  await c.startPlayer("p1");
  const pid = proc.child.pid;
  const before = fdCount(pid);
  using players = new Sockets();
  using https = new Sockets();
  using socket = new Sockets();
  await players.open(MANY, () => net.connect(c.playersPort, "127.0.0.1"));
  await https.open(MANY, () => net.connect(c.audiencePort, "127.0.0.1"));
  await socket.open(MANY, () => net.connect(c.socket));
  // The conductor holds them all…
  await until("the conductor holds the idle connections", () => fdCount(pid) >= before + MANY);
  // …and serves meanwhile: a submit is answered and a player's result comes back.
  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  const job = await c.wait(id);
  assertEquals(job.tasks.map((t) => t.state), ["succeeded"]);
  // Then every idle connection is closed by the conductor, and its descriptors are free again.
  const groups = { players, https, socket };
  await until(
    "every idle connection closed by the conductor",
    () => Object.values(groups).every((g) => g.closed === g.all.length),
    60_000,
    100,
  ).catch((err) => {
    const open = Object.entries(groups).map(([k, g]) => `${k}: ${g.all.length - g.closed} open`);
    throw new Error(`${err.message} (${open.join(", ")})`);
  });
  await until("the conductor's descriptors back down", () => fdCount(pid) < before + 50, 30_000);
  await proc.waitFor(
    /WARN {2}refused a player connection at the TLS handshake .*did not finish in time/,
  );
  assertEquals((await c.client.players()).find((p) => p.name === "p1")?.connected, true);
});

Deno.test("connections over the limits of a port, or of one address, are closed at once; others still get in", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const { proc } = await c.startConductor([
    "--max-connections",
    "4",
    "--audience-max-connections-per-peer",
    "3",
  ]);
  await c.startPlayer("p1");
  // The players port holds p1 and 3 more; the next ones are closed before any handshake.
  using players = new Sockets();
  await players.open(6, () => net.connect(c.playersPort, "127.0.0.1"), 1);
  await until("the players port closed those over its limit", () => players.closed === 3);
  await proc.waitFor(
    /WARN {2}refused connections over a limit .*listener="players port" limit="4 connections"/,
  );
  // The HTTPS port takes 3 connections from one address; a 4th, even a real client, is refused.
  using https = new Sockets();
  await https.open(3, () => net.connect(c.audiencePort, "127.0.0.1"), 1);
  const alice = await c.httpsClient("alice");
  await refusedBy(alice.players(), "unavailable");
  await proc.waitFor(/limit="3 connections from one address"/);
  // Once they go, the client gets in; p1 was never disturbed.
  for (const s of https.all) s.destroy();
  await until("the idle HTTPS connections are gone", () => https.closed === 3);
  assertEquals((await alice.players()).find((p) => p.name === "p1")?.connected, true);
});

async function refusedBy(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(() => null, (e) => e);
  assert(err instanceof OrchError, `expected a refusal, got ${err}`);
  assertEquals(err.code, code);
}

Deno.test("2,000 abandoned long polls on the socket let go of their descriptors", async () => {
  // p2 is listed but never started: its job stays queued, so every long poll waits.
  await using c = await Cluster.create({ players: ["p1", "p2"] });
  const { proc } = await c.startConductor();
  await c.startPlayer("p1");
  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p2"], params: {} });
  const pid = proc.child.pid;
  const before = fdCount(pid);
  // Each poll proves its user, as the orch command does, so that it is answered only at the end.
  const proofs: string[] = [];
  for (let i = 0; i < MANY; i++) proofs.push((await makeLocalProof(c.socket))!.header);
  using polls = new Sockets();
  let answered = 0;
  await polls.open(MANY, () => {
    const s = net.connect(c.socket);
    const auth = proofs.pop()!;
    s.once(
      "connect",
      () =>
        s.write(
          `GET /v1/jobs/${id}?wait=300 HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\n\r\n`,
        ),
    );
    s.once("data", () => answered++);
    return s;
  });
  // A few descriptors counted in `before` may be passing ones (a request's connection, a
  // file the store had open at that moment): the polls are held when nearly all are counted.
  await until("the conductor holds the long polls", () => fdCount(pid) >= before + MANY - 20).catch(
    (err) => {
      throw new Error(
        `${err.message}: ${fdCount(pid)} descriptors, ${before} before; ${polls.closed} closed`,
      );
    },
  );
  // Every proof was taken (the conductor deletes each it checks), and no poll was answered: they
  // are waiting for the job, not refused.
  const folder = proofFolder(c.socket);
  await until("every proof checked", () => [...Deno.readDirSync(folder)].length === 0, 30_000);
  assertEquals(answered, 0);
  for (const s of polls.all) s.destroy();
  await until("the conductor's descriptors back down", () => fdCount(pid) < before + 50, 30_000);
  // Still serving, and the job is still waiting for p2.
  assertEquals((await c.client.job(id)).finished_at, null);
});

Deno.test("headers dribbled a byte at a time are cut after the request timeout, on the socket and on HTTPS", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const { proc } = await c.startConductor(["--request-timeout", "2s"]);
  const pid = proc.child.pid;
  const before = fdCount(pid);
  const r = (f: string) => Deno.readTextFileSync(join(c.caDir, f));
  using slow = new Sockets();
  const dribblers = [
    slow.add(net.connect(c.socket)),
    slow.add(tls.connect({
      host: "127.0.0.1",
      port: c.audiencePort,
      ca: r("ca.crt"),
      cert: r("alice.crt"),
      key: r("alice.key"),
      servername: "localhost",
    })),
  ];
  const secured = new Promise<void>((resolve) => dribblers[1].once("secureConnect", resolve));
  const answers = dribblers.map(() => "");
  dribblers.forEach((s, i) => s.on("data", (d) => answers[i] += String(d)));
  await secured;
  const text = "GET /v1/health HTTP/1.1\r\nHost: x\r\n" + "X-Slow: y\r\n".repeat(10_000);
  let at = 0;
  const timer = setInterval(() => {
    for (const s of dribblers) if (!s.destroyed) s.write(text[at % text.length]);
    at++;
  }, 20);
  try {
    await until("both dribblers cut", () => dribblers.every((s) => s.destroyed), 30_000, 50);
  } finally {
    clearInterval(timer);
  }
  // Cut before the headers ended: nothing was served to them but a timeout.
  for (const a of answers) assert(a === "" || a.startsWith("HTTP/1.1 408"), a);
  await until("the conductor's descriptors back down", () => fdCount(pid) < before + 10);
  assert(await c.client.health());
});

Deno.test("a second connection with a connected player's certificate is refused and logged; the player's running task completes", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  const { proc } = await c.startConductor();
  await c.startPlayer("p1");
  // The task runs until the test says so: the clone surely comes while it runs.
  const release = join(c.dir, "clone-checked");
  const id = await c.submitRunning({
    score: "holdon",
    scope: "all",
    targets: ["p1"],
    params: { UNTIL: release },
  });
  // A clone: the same name and certificate, its own state.
  const clone = c.track(
    new Proc("clone", c.playerArgs("p1", ["--state-dir", join(c.dir, "state-clone")])),
  );
  const refused = await clone.waitFor(/ERROR the conductor refused this player .*code=conflict.*/);
  assertMatch(
    refused[0],
    /player p1 is already connected from 127\.0\.0\.1:\d+; a second connection with its certificate was refused/,
  );
  await proc.waitFor(
    /ERROR a second connection presented a connected player's certificate player=p1/,
  );
  // The clone came while the real player's task ran: that is what the outcome below is about.
  assertEquals((await c.job(id)).tasks[0].state, "running");
  await Deno.writeTextFile(release, "");
  await proc.waitFor(
    /ERROR audit action=player_connect outcome=refused who=player:p1 auth=client_certificate transport=players/,
  );
  await clone.stop(3000);
  const job = await c.wait(id);
  assertEquals(job.tasks.map((t) => t.state), ["succeeded"]);
  assertEquals(job.tasks[0].attempts?.length ?? 1, 1);
  assert(!/task .* (cancelled|interrupted)/.test(proc.log), "no task of p1 was cut short");
  // The attempt is in the audit trail too, not only in the log.
  const audit = await c.cli(["audit", "--json", "--who", "player:p1"]);
  assertEquals(audit.code, 0, audit.stderr);
  const records = (JSON.parse(audit.stdout) as { records: AuditRecord[] }).records;
  // The clone tries again after each refusal until it is stopped: one record per try, each refused.
  assert(records.length >= 1, audit.stdout);
  for (const r of records) {
    assertEquals([r.action, r.outcome, r.transport], ["player_connect", "refused", "players"]);
    assertMatch(r.reason ?? "", /already connected from 127\.0\.0\.1/);
  }
});

const hasPrlimit = (() => {
  try {
    return Deno.statSync("/usr/bin/prlimit").isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "a conductor out of file descriptors logs it once, not per connection, and serves again once they are free",
  ignore: !hasPrlimit,
  async fn() {
    await using c = await Cluster.create({ players: ["p1"] });
    // The limits are set above what 256 descriptors allow, so that connections can use them up.
    const proc = c.track(
      new Proc(
        "conductor",
        c.conductorArgs([
          "--init",
          "--handshake-timeout",
          "5m",
          "--max-connections",
          "5000",
          "--audience-max-connections",
          "5000",
          "--max-connections-per-peer",
          "5000",
        ]),
        { wrap: ["prlimit", "--nofile=256:256"] },
      ),
    );
    const m = await proc.waitFor(/conductor ready players=[^ ]*:(\d+) audience=[^ ]*:(\d+)/);
    c.playersPort = Number(m[1]);
    c.audiencePort = Number(m[2]);
    await proc.waitFor(/INFO {2}open file limit soft=256 hard=256/);
    await proc.waitFor(/WARN {2}the connection limits exceed the open file limit/);
    using flood = new Sockets();
    // Connections are opened (300, then 100 at a time) until the conductor says it ran out:
    // how many it takes depends on how many the kernel queued or refused and when.
    const outOf = /ERROR out of file descriptors: new connections cannot be accepted/;
    let seen = false;
    while (!seen) {
      assert(
        flood.all.length < 3000,
        `not out of descriptors after ${flood.all.length} connections`,
      );
      const more = flood.all.length === 0 ? 300 : 100;
      await flood.open(more, () => net.connect(c.playersPort, "127.0.0.1"), 100);
      seen = await proc.waitFor(outOf, 3000).then(() => true, () => false);
    }
    for (const s of flood.all) s.destroy();
    await proc.waitFor(/WARN {2}file descriptors available again: listeners restarted/, 30_000);
    // Serving again, on every listener: the socket, and a player on the players port.
    await c.startPlayer("p1");
    const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
    assertEquals((await c.wait(id)).tasks.map((t) => t.state), ["succeeded"]);
    const lines = proc.lines.filter((l) => l.includes("out of file descriptors")).length;
    assert(lines <= 3, `logged ${lines} times, not once per interval`);
  },
});
