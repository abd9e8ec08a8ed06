import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { certPair, httpsGet } from "../_helpers/https_get.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { orch } from "../_helpers/proc.ts";
import { connectMutualTls, loadTlsMaterial, Peer } from "../../lib/tls/mod.ts";
import {
  type ConductorMessage,
  ORCH_VERSION,
  type PlayerMessage,
  PROTOCOL_VERSION,
} from "../../lib/protocol/mod.ts";

/**
 * Says hello to the conductor as `name` with the certificate of `certName`
 * (from `caDir`, default the deployment's); resolves with its answer, or
 * with why the connection ended without one.
 */
async function helloAs(
  c: Cluster,
  certName: string,
  name: string,
  caDir = c.caDir,
): Promise<ConductorMessage | string> {
  const material = await loadTlsMaterial(
    {
      ca: join(caDir, "ca.crt"),
      cert: join(caDir, `${certName}.crt`),
      key: join(caDir, `${certName}.key`),
    },
    "player",
    new Date(),
  );
  // Trust the deployment's CA for the conductor, whatever issued our own certificate.
  material.ca = await Deno.readTextFile(join(c.caDir, "ca.crt"));
  const socket = await connectMutualTls({
    host: "127.0.0.1",
    port: c.playersPort,
    expectName: "localhost",
    expectRole: "conductor",
    material,
    timeoutMs: 5000,
  });
  return await new Promise((resolve) => {
    let answer: ConductorMessage | undefined;
    const peer = new Peer<ConductorMessage, PlayerMessage>(socket, {
      maxFrame: 1 << 20,
      heartbeatMs: 5000,
      allowed: ["welcome", "refuse"],
      onMessage: (m) => {
        answer = m;
        peer.close("done");
      },
      onClose: (reason) => resolve(answer ?? reason),
    });
    peer.send({
      type: "hello",
      name,
      version: ORCH_VERSION,
      protocol: PROTOCOL_VERSION,
      slots: 1,
      scores: [],
      journal: [],
    });
  });
}

Deno.test("the conductor refuses a player whose certificate comes from another CA", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const other = join(c.dir, "other-ca");
  await c.orchOk(["ca", "init", other]);
  await c.orchOk(["ca", "issue", "p1", "--role", "player", "--ca-dir", other]);
  const conductor = await c.startConductor();

  // A player set up entirely from another CA: neither end accepts the other.
  const player = await c.startPlayer("p1", {
    wait: false,
    extra: [
      "--cert",
      join(other, "p1.crt"),
      "--key",
      join(other, "p1.key"),
      "--ca",
      join(other, "ca.crt"),
    ],
  });
  await player.waitFor(
    /the conductor.s certificate is not accepted .*not issued by this deployment.s CA/i,
  );

  // A client that trusts the deployment CA but shows a certificate from another is refused at the handshake.
  await conductor.proc.waitFor(/refused a player connection at the TLS handshake/);
  await player.stop();
  const from = conductor.proc.lines.length;
  const answer = await helloAs(c, "p1", "p1", other).catch((err) => `failed: ${err.message}`);
  assert(
    typeof answer === "string",
    `a certificate from another CA got an answer: ${JSON.stringify(answer)}`,
  );
  await conductor.proc.waitFor(/refused a player connection at the TLS handshake/, 5000, from);
  assertEquals((await c.client.players()).find((p) => p.name === "p1")?.connected, false);

  // And a player will not even start with a certificate its own CA file did not issue.
  const r = await orch(
    c.playerArgs("p1", ["--cert", join(other, "p1.crt"), "--key", join(other, "p1.key")]),
  );
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /certificate .*p1\.crt is not issued by the CA in .*ca\.crt/);
});

Deno.test("the conductor refuses a player that is not in the players file", async () => {
  await using c = await Cluster.create({ players: ["p1", "p9"], listed: ["p1"] });
  const conductor = await c.startConductor();
  const p9 = await c.startPlayer("p9", { wait: false });
  await p9.waitFor(/the conductor refused this player .*p9 is not in the players file/);
  await conductor.proc.waitFor(/refused a player .*p9 is not in the players file/);
  const players = await c.client.players();
  assertEquals(players.map((p) => p.name), ["p1"]);
});

Deno.test("the conductor refuses a hello whose name differs from the certificate's", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"] });
  const conductor = await c.startConductor();
  const answer = await helloAs(c, "p1", "p2");
  assert(typeof answer !== "string", `expected a refusal, got: ${answer}`);
  assertEquals(answer.type, "refuse");
  assertMatch((answer as { message: string }).message, /the certificate is for p1, not p2/);
  await conductor.proc.waitFor(/refused a player .*certificate is for p1, not p2/);
  assertEquals((await c.client.players()).every((p) => !p.connected), true);

  // The same certificate with its own name is welcome.
  const ok = await helloAs(c, "p1", "p1");
  assertEquals(typeof ok !== "string" && ok.type, "welcome");
});

Deno.test("a player refuses to start with a certificate for another name", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const r = await orch(c.playerArgs("p1", ["--name", "p2", "--conductor", "127.0.0.1:1"]));
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /certificate .*p1\.crt is for p1, not p2/);
  assertMatch(r.stderr, /hint: issue one with: orch ca issue p2 --role player/);
});

Deno.test("a conductor refuses to start with a player's certificate or a readable key", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  let r = await orch(
    c.conductorArgs(["--cert", join(c.caDir, "p1.crt"), "--key", join(c.caDir, "p1.key")]),
  );
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /p1\.crt is for a player, not a conductor/);

  await Deno.chmod(join(c.caDir, "conductor.key"), 0o644);
  r = await orch(c.conductorArgs());
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /conductor\.key is accessible by others \(mode 0644\)/);
  assertMatch(r.stderr, /hint: chmod 600/);
});

Deno.test("the audience HTTPS port requires an audience certificate", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const conductor = await c.startConductor();

  const none = await httpsGet(c, "/v1/health");
  assert(typeof none === "string", `no certificate got an answer: ${JSON.stringify(none)}`);
  await conductor.proc.waitFor(
    /refused an audience connection at the TLS handshake .*no client certificate/,
  );

  const player = await httpsGet(c, "/v1/health", certPair(c, "p1"));
  assert(typeof player !== "string");
  assertEquals(player.status, 403);
  assertMatch(player.body, /"code":"forbidden".*for player, not the audience/);

  const alice = await httpsGet(c, "/v1/health", certPair(c, "alice"));
  assert(typeof alice !== "string");
  assertEquals(alice.status, 200);

  // The CLI over HTTPS, with alice's certificate.
  const r = await orch([
    "players",
    "--conductor",
    `127.0.0.1:${c.audiencePort}`,
    "--conductor-name",
    "localhost",
    "--ca",
    join(c.caDir, "ca.crt"),
    "--cert",
    join(c.caDir, "alice.crt"),
    "--key",
    join(c.caDir, "alice.key"),
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /^NAME\s+STATE/);
  assertMatch(r.stdout, /p1\s+offline/);
});

Deno.test("a submit naming an unknown score, a malformed or unlisted target is refused and stores nothing", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  await c.startPlayer("p1");

  let r = await c.cli(["submit", "nosuch", "--all", "-t", "p1"]);
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /unknown score "nosuch": no player has announced it/);
  assertMatch(r.stderr, /hint: known scores: count, fail, hello, sleep, sysinfo/);

  r = await c.cli(["submit", "hello", "--all", "-t", "p1", "-t", "p9"]);
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /target p9 not in the players file/);

  r = await c.cli(["submit", "hello", "--all", "-t", "bad_host!"]);
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /targets\[0\]: "bad_host!" is not a host name/);

  r = await c.cli(["submit", "hello", "--all", "-t", "p1", "NAME=" + "x".repeat(65)]);
  assertEquals(r.code, 2);
  assertMatch(
    r.stderr,
    /bad parameters for score hello .*parameter NAME: is longer than 64 characters/,
  );

  r = await c.cli(["submit", "hello", "--all", "-t", "p1", "NOPE=1"]);
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /unknown parameter NOPE \(declared: NAME\)/);

  // The same refusals straight over the API, bypassing the CLI's own checks.
  for (
    const body of [
      { score: "hello", scope: "all", targets: ["bad_host!"] },
      { score: "hello", scope: "sometimes", targets: ["p1"] },
      { score: "../../bin/sh", scope: "all", targets: ["p1"] },
      { score: "hello", scope: "all", targets: ["p1"], params: { "A=B": "x" } },
      { score: "hello", scope: "all", targets: ["p1"], extra: 1 },
    ]
  ) {
    const res = await c.socketFetch("/v1/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assertEquals(res.status, 400, JSON.stringify(body));
    const err = await res.json();
    assertEquals(err.error.code, "invalid");
  }
  assertEquals(await c.client.jobs(100), []);
});

Deno.test("a player refuses a conductor whose certificate does not hold the expected name", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  const p1 = await c.startPlayer("p1", {
    wait: false,
    extra: ["--conductor-name", "conductor.example.com"],
  });
  await p1.waitFor(
    /the conductor.s certificate is not accepted .*not conductor\.example\.com, the name checked/,
  );
  assertEquals((await c.client.players()).find((p) => p.name === "p1")?.connected, false);
});
