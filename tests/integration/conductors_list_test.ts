/**
 * Players and the audience CLI given several conductors: they dial them in
 * order, move on when one cannot be reached, goes away, or answers that it
 * is not the leader (straight to the leader it names), and a submit moved
 * from one conductor to another is still made once; a request that must
 * not be sent twice is not, once it may have arrived. The list comes from
 * a flag, ORCH_CONDUCTOR or client.yaml.
 */

import type { ServerResponse } from "node:http";
import https from "node:https";
import tls from "node:tls";
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { orch, Proc, tempDir, until } from "../_helpers/proc.ts";
import { AudienceClient } from "../../lib/client/mod.ts";
import { answerCheck, eventCheck } from "../_helpers/openapi.ts";

/** A loopback port nothing listens on (it was free a moment ago; connecting to it is refused). */
function deadPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The conductor certificate and key of `c`, for servers that pass for a conductor. */
async function conductorCert(c: Cluster): Promise<{ cert: string; key: string }> {
  return {
    cert: await Deno.readTextFile(join(c.caDir, "conductor.crt")),
    key: await Deno.readTextFile(join(c.caDir, "conductor.key")),
  };
}

/** A server on loopback that counts its connections or requests; closed when disposed. */
interface Fake extends AsyncDisposable {
  port: number;
  count: number;
}

/**
 * A players port that answers every hello with a `not_leader` refusal
 * naming `leader`, as a standby conductor does.
 */
async function fakeStandby(c: Cluster, leader: string): Promise<Fake> {
  const refuse = new TextEncoder().encode(JSON.stringify({
    type: "refuse",
    code: "not_leader",
    message: `this conductor is a standby; the leader is ${leader}`,
    leader,
  }));
  const frame = new Uint8Array(4 + refuse.length);
  new DataView(frame.buffer).setUint32(0, refuse.length);
  frame.set(refuse, 4);
  const fake = { port: 0, count: 0 } as Fake;
  const server = tls.createServer({ ...await conductorCert(c), minVersion: "TLSv1.3" }, (s) => {
    fake.count++;
    // The hello's first bytes arrive: answer it, and close.
    s.once("data", () => s.end(frame));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  fake.port = (server.address() as { port: number }).port;
  fake[Symbol.asyncDispose] = () => new Promise<void>((r) => server.close(() => r()));
  return fake;
}

/** An audience HTTPS port that answers every request 503 `not_leader` naming `leader`. */
async function fakeStandbyApi(c: Cluster, leader: string): Promise<Fake> {
  const body = JSON.stringify({
    error: {
      code: "not_leader",
      message: `this conductor is a standby; the leader is ${leader}`,
      leader,
    },
  });
  return await fakeApi(c, (res) => {
    res.writeHead(503, { "content-type": "application/json", connection: "close" });
    res.end(body);
  });
}

/**
 * An audience HTTPS port with the conductor's certificate that reads each
 * request whole, counts it, then does `after` with its answer.
 */
async function fakeApi(c: Cluster, after: (res: ServerResponse) => void): Promise<Fake> {
  const fake = { port: 0, count: 0 } as Fake;
  const server = https.createServer({ ...await conductorCert(c) }, (req, res) => {
    req.resume();
    req.on("end", () => {
      fake.count++;
      after(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  fake.port = (server.address() as { port: number }).port;
  fake[Symbol.asyncDispose] = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return fake;
}

/**
 * An audience HTTPS port that reads each request whole, then drops the
 * connection without an answer: a conductor that went away after the
 * request arrived. `count` is the requests it read.
 */
function fakeDropper(c: Cluster): Promise<Fake> {
  return fakeApi(c, (res) => res.socket?.destroy());
}

/** A port that takes each TCP connection and closes it at once, before any TLS. */
function fakeCloser(): Fake {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const fake = { port: (listener.addr as Deno.NetAddr).port, count: 0 } as Fake;
  const accepting = (async () => {
    for await (const conn of listener) {
      fake.count++;
      conn.close();
    }
  })().catch(() => {});
  fake[Symbol.asyncDispose] = async () => {
    listener.close();
    await accepting;
  };
  return fake;
}

const at = (port: number) => `127.0.0.1:${port}`;

Deno.test("a player given a dead conductor and a real one runs jobs on the real one, and comes back when it restarts", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  const dead = deadPort();
  const p1 = await c.startPlayer("p1", {
    extra: ["--conductor", `${at(dead)},${at(c.playersPort)}`],
  });
  const submit = { score: "hello", scope: "all" as const, targets: ["p1"], params: {} };
  assertEquals((await c.wait(await c.client.submit(submit))).aggregate, "success");
  assertMatch(p1.log, new RegExp(`cannot reach the conductor .*conductor=${at(dead)} .*next=`));
  assertMatch(p1.log, new RegExp(`connected to the conductor .*conductor=${at(c.playersPort)}`));

  const from = p1.lines.length;
  await c.conductor!.proc.stop();
  await c.startConductor();
  await p1.waitFor(
    new RegExp(`connected to the conductor .*conductor=${at(c.playersPort)}`),
    15_000,
    from,
  );
  await c.waitConnected("p1");
  assertEquals((await c.wait(await c.client.submit(submit))).aggregate, "success");
});

Deno.test("a player refused as not the leader dials the leader it names, and says so once", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  const real = at(c.playersPort);
  await using standby = await fakeStandby(c, real);
  // The leader is not in the list: after the standby comes a dead address, never the real one.
  const dead = deadPort();
  const p1 = await c.startPlayer("p1", {
    extra: ["--conductor", `${at(standby.port)},${at(dead)}`],
  });
  await p1.waitFor(new RegExp(`connected to the conductor .*conductor=${real}`));
  const told = p1.lines.filter((l) => l.includes("the conductor is not the leader"));
  assertEquals(told.length, 1, p1.log);
  assertMatch(told[0], new RegExp(`conductor=${at(standby.port)} leader=${real} .*next=${real}`));
  assertEquals(standby.count, 1);
  // It went straight to the leader: the dead address was never dialled.
  assert(!p1.log.includes(`conductor=${at(dead)}`), p1.log);
  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  assertEquals((await c.wait(id)).aggregate, "success");
});

Deno.test("a player sticks to the first conductor that welcomes it, and moves to the next when that one is killed", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const first = await c.startConductor();
  // A second conductor of its own state, from the same CA and players file.
  const socket2 = join(c.dir, "audience2.sock");
  const second = c.track(
    new Proc(
      "conductor2",
      c.conductorArgs([
        "--init",
        "--db",
        join(c.dir, "conductor2.db"),
        "--listen",
        "127.0.0.1:0",
        "--audience-listen",
        "127.0.0.1:0",
        "--audience-socket",
        socket2,
      ]),
    ),
  );
  const port2 = Number((await second.waitFor(/conductor ready players=[^ ]*:(\d+)/))[1]);
  const client2 = new AudienceClient({ kind: "socket", path: socket2 }, answerCheck, eventCheck);
  const connected2 = async () =>
    (await client2.players()).some((p) => p.name === "p1" && p.connected);

  const p1 = await c.startPlayer("p1", {
    extra: ["--conductor", `${at(first.playersPort)},${at(port2)}`],
  });
  assertEquals(await connected2(), false);
  assertEquals(p1.lines.filter((l) => l.includes("connected to the conductor")).length, 1);

  await first.proc.kill9();
  await until("p1 connected to the second conductor", connected2);
  assertMatch(
    p1.log,
    new RegExp(
      `disconnected from the conductor .*conductor=${at(first.playersPort)} .*next=${at(port2)}`,
    ),
  );
  // The conductor counts the player connected when it welcomes it; the player logs on receiving it.
  await p1.waitFor(new RegExp(`connected to the conductor .*conductor=${at(port2)}`));
});

Deno.test("the audience CLI given several conductors submits once, past a dead one and a standby, to the leader", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  await c.startPlayer("p1");
  const real = at(c.audiencePort);
  const dead = at(deadPort());
  const args = (list: string) => [
    "submit",
    "hello",
    "--all",
    "-t",
    "p1",
    "--wait",
    ...c.httpsFlags("alice"),
    "--conductor",
    list,
  ];

  let r = await c.cli(args(`${dead},${real}`));
  assertEquals(r.code, 0, r.stderr);
  assertEquals((await c.client.jobs(10)).length, 1);

  // A standby names the leader; the one listed after the standby is never asked.
  await using standby = await fakeStandbyApi(c, real);
  await using skipped = await fakeStandbyApi(c, real);
  r = await c.cli(args(`${at(standby.port)},${at(skipped.port)},${real}`));
  assertEquals(r.code, 0, r.stderr);
  assertEquals(standby.count, 1);
  assertEquals(skipped.count, 0);
  const jobs = await c.client.jobs(10);
  assertEquals(jobs.length, 2);
  assert(jobs.every((j) => j.aggregate === "success"), JSON.stringify(jobs));

  // Only standbys: a clear error naming the leader, and nothing submitted.
  r = await c.cli([...args(`${at(standby.port)}`), "--connect-timeout", "1s"]);
  assertEquals(r.code, 6, r.stderr);
  assertMatch(r.stderr, new RegExp(`standby; the leader is ${real}`));
  assertEquals((await c.client.jobs(10)).length, 2);
  assert(standby.count >= 2, "a standby's answer is tried again until --connect-timeout");
});

Deno.test("a cancel lost after it reached one conductor is not sent to the next: the CLI says it may have taken effect and how to check", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  await c.startPlayer("p1");
  // p1 is drained: the job waits for it, and can be cancelled.
  await c.client.drain("p1", true);
  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  const real = at(c.audiencePort);
  const cli = (list: string, args: string[]) =>
    c.cli([...args, ...c.httpsFlags("alice"), "--conductor", list]);
  await using dropper = await fakeDropper(c);

  let r = await cli(`${at(dropper.port)},${real}`, ["cancel", String(id)]);
  assertEquals(r.code, 6, r.stderr);
  assertEquals(dropper.count, 1);
  assertMatch(
    r.stderr,
    new RegExp(
      `^orch: POST /v1/jobs/${id}/cancel may have reached the conductor at https://${
        at(dropper.port)
      } \\(.*\\); it was not sent again, to it or to another conductor\n` +
        `hint: before trying again, see whether it took effect: orch status ${id}\n$`,
    ),
  );
  // The second conductor never heard of it.
  const job = await c.client.job(id);
  assertEquals([job.finished_at, job.counts.cancelled ?? 0], [null, 0], JSON.stringify(job));
  assertEquals((await c.client.audit({ limit: 100 })).filter((a) => a.action === "cancel"), []);

  // A read may be sent again: it goes on to the next conductor.
  r = await cli(`${at(dropper.port)},${real}`, ["status", String(id)]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(dropper.count, 2);

  // A conductor that closed the connection before the request was sent: the cancel goes on.
  await using closer = fakeCloser();
  r = await cli(`${at(closer.port)},${real}`, ["cancel", String(id)]);
  assertEquals(r.code, 0, r.stderr);
  assert(closer.count >= 1);
  assertEquals((await c.client.job(id)).counts.cancelled, 1);
  const cancels = (await c.client.audit({ limit: 100 })).filter((a) => a.action === "cancel");
  assertEquals(cancels.map((a) => [a.who, a.outcome]), [["audience:alice", "allowed"]]);
});

Deno.test("a list of conductors from ORCH_CONDUCTOR or from client.yaml: past a dead one and a standby to the leader, the job submitted and waited for", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  await c.startPlayer("p1");
  const real = at(c.audiencePort);
  const dead = at(deadPort());
  await using standby = await fakeStandbyApi(c, real);
  const list = [dead, at(standby.port), real];
  const home = join(c.dir, "xdg");
  await Deno.mkdir(join(home, "orch"), { recursive: true });
  const tls = {
    ORCH_CONDUCTOR_NAME: "localhost",
    ORCH_CA: join(c.caDir, "ca.crt"),
    ORCH_CERT: join(c.caDir, "alice.crt"),
    ORCH_KEY: join(c.caDir, "alice.key"),
  };
  const submit = ["submit", "hello", "--all", "-t", "p1", "--wait"];

  // From the environment (no client.yaml in XDG_CONFIG_HOME).
  let r = await orch(submit, {
    env: { XDG_CONFIG_HOME: home, ORCH_CONDUCTOR: list.join(","), ...tls },
  });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(standby.count, 1);

  // From client.yaml, as a YAML list, found in XDG_CONFIG_HOME; nothing in the environment.
  await Deno.writeTextFile(
    join(home, "orch", "client.yaml"),
    [
      "conductor:",
      ...list.map((a) => `  - ${a}`),
      "conductor_name: localhost",
      `ca: ${tls.ORCH_CA}`,
      `cert: ${tls.ORCH_CERT}`,
      `key: ${tls.ORCH_KEY}`,
      "",
    ].join("\n"),
  );
  r = await orch(submit, { env: { XDG_CONFIG_HOME: home } });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(standby.count, 2);

  const jobs = await c.client.jobs(10);
  assertEquals(jobs.length, 2);
  assert(jobs.every((j) => j.aggregate === "success"), JSON.stringify(jobs));
  assert(jobs.every((j) => j.submitted_by === "audience:alice"), JSON.stringify(jobs));
});

Deno.test("a one-shot request the first conductor answered with an error (stopping, nothing stored) goes on to the next, as it had no effect", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.client.drain("p1", true);
  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  // The answer a conductor gives while it stops: the request was refused before anything was done.
  await using stopping = await fakeApi(c, (res) => {
    res.writeHead(503, { "content-type": "application/json", connection: "close" });
    res.end(
      JSON.stringify({ error: { code: "unavailable", message: "the conductor is stopping" } }),
    );
  });
  const r = await c.cli([
    "cancel",
    String(id),
    ...c.httpsFlags("alice"),
    "--conductor",
    `${at(stopping.port)},${at(c.audiencePort)}`,
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(stopping.count, 1);
  assertEquals((await c.client.job(id)).counts.cancelled, 1);
});

Deno.test("a one-shot request whose certificate a conductor refuses at the TLS handshake ends with that refusal, not as a request that may have arrived", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.client.drain("p1", true);
  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  // A conductor of this deployment's name that trusts another CA: alice's certificate is refused
  // after the handshake's first flight, when the request may already be on its way.
  await using other = await tempDir();
  const init = await orch(["ca", "init", other.path]);
  assertEquals(init.code, 0, init.stderr);
  let count = 0;
  const server = tls.createServer({
    ...await conductorCert(c),
    ca: await Deno.readTextFile(join(other.path, "ca.crt")),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
  }, (s) => {
    s.destroy();
  });
  server.on("tlsClientError", () => count++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const port = (server.address() as { port: number }).port;
    const r = await c.cli([
      "cancel",
      String(id),
      ...c.httpsFlags("alice"),
      "--conductor",
      `${at(port)},${at(c.audiencePort)}`,
    ]);
    // The conductors of one deployment trust the same CA: another would refuse it alike.
    assertEquals(r.code, 2, r.stderr);
    assertMatch(
      r.stderr,
      /^orch: the conductor at https:\/\/127\.0\.0\.1:\d+ refuses this client's certificate/,
    );
    assert(!r.stderr.includes("may have reached"), r.stderr);
    assert(count >= 1, "the first conductor saw no handshake");
    assertEquals((await c.client.job(id)).counts.cancelled ?? 0, 0);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

Deno.test("over the socket, a cancel lost after it was written says it may have taken effect", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "audience.sock");
  const listener = Deno.listen({ transport: "unix", path });
  let read = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      // Reads what the client sends, then goes away without an answer.
      const n = await conn.read(new Uint8Array(65536)).catch(() => null);
      read += n ?? 0;
      conn.close();
    }
  })().catch(() => {});
  try {
    const r = await orch(["cancel", "7", "--socket", path]);
    assertEquals(r.code, 6, r.stderr);
    assert(read > 0, "the request did not reach the socket");
    assertMatch(
      r.stderr,
      /^orch: POST \/v1\/jobs\/7\/cancel may have reached the conductor at .*audience\.sock \(.*\); it was not sent again, to it or to another conductor\nhint: before trying again, see whether it took effect: orch status 7\n$/,
    );
  } finally {
    listener.close();
    await serving;
  }
});
