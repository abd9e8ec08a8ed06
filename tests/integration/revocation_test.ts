import tls from "node:tls";
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster, OPEN_GRANTS } from "../_helpers/cluster.ts";
import { certPair, httpsGet } from "../_helpers/https_get.ts";
import { orch, until } from "../_helpers/proc.ts";
import { issueCertificate } from "../../lib/tls/mod.ts";

const DAY = 86_400_000;

/** The CRL the cluster's CA folder holds; `orch ca revoke` rewrites it in place. */
function crlOf(c: Cluster): string {
  return join(c.caDir, "crl.pem");
}

/** A CA with an empty CRL, and a conductor reading it. */
async function clusterWithCrl(players: string[]): Promise<Cluster> {
  const c = await Cluster.create({ players });
  await c.orchOk(["ca", "crl", "--ca-dir", c.caDir]);
  return c;
}

/** Opens a raw mTLS connection to the players port as `who`; resolves when it closes. */
function rawPlayerConnection(c: Cluster, who: { cert: string; key: string }): Promise<void> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port: c.playersPort,
      ca: Deno.readTextFileSync(join(c.caDir, "ca.crt")),
      servername: "localhost",
      minVersion: "TLSv1.3",
      ...who,
    });
    socket.on("data", () => {});
    socket.on("error", () => {});
    socket.on("close", () => resolve());
  });
}

Deno.test("a player revoked while connected is cut off at once, cannot come back, and runs nothing", async () => {
  await using c = await clusterWithCrl(["p1", "p2"]);
  const conductor = await c.startConductor(["--crl", crlOf(c)]);
  const p1 = await c.startPlayer("p1");
  await c.startPlayer("p2");

  const from = conductor.proc.lines.length;
  const r = await c.cli(["ca", "revoke", "p1", "--ca-dir", c.caDir]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /^revoked 1 certificate: p1 \(serial [0-9A-F]+\)/);
  // The conductor sees the file change and closes p1's live connection.
  await conductor.proc.waitFor(
    /WARN +closed a connection: the peer's certificate is revoked cn=p1 serial=[0-9A-F]+/,
    15_000,
    from,
  );
  await until("p1 offline", async () => {
    const players = await c.client.players();
    return players.some((p) => p.name === "p1" && !p.connected);
  });
  // p1 tries again, and is refused at the handshake each time.
  await conductor.proc.waitFor(
    /refused a player connection at the TLS handshake reason="the peer's certificate \(CN p1, serial [0-9A-F]+\) is revoked \(since /,
    15_000,
    from,
  );
  await p1.waitFor(/disconnected from the conductor/);

  // Work for p1 waits; none of it runs. p2 is untouched.
  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  const p2job = await c.client.submit({
    score: "hello",
    scope: "all",
    targets: ["p2"],
    params: {},
  });
  assertEquals((await c.wait(p2job)).aggregate, "success");
  const job = await c.job(id);
  assertEquals(job.tasks[0].state, "queued");
  assertEquals((await c.client.players()).find((p) => p.name === "p1")?.connected, false);

  // Revoking again is harmless.
  const again = await c.cli(["ca", "revoke", "p1", "--ca-dir", c.caDir]);
  assertEquals(again.code, 0, again.stderr);
  assertMatch(again.stdout, /^1 already revoked/);

  // A CRL that does not verify is not taken; the old one stays in force.
  const before = conductor.proc.lines.length;
  await Deno.writeTextFile(crlOf(c), "garbage\n");
  conductor.proc.signal("SIGHUP");
  await conductor.proc.waitFor(
    /ERROR CRL not reloaded; keeping the previous list crl=.*crl\.pem error=.*not a PEM certificate revocation list/,
    15_000,
    before,
  );
  await conductor.proc.waitFor(
    /refused a player connection .*CN p1, .* is revoked/,
    15_000,
    before,
  );
});

Deno.test("an audience client revoked mid-long-poll is cut, and refused afterwards", async () => {
  await using c = await clusterWithCrl(["p1"]);
  await c.orchOk(["ca", "issue", "bob", "--role", "audience", "--ca-dir", c.caDir]);
  await c.writeGrants(`${OPEN_GRANTS}  - who: audience:bob\n    may: [read_all]\n`);
  const conductor = await c.startConductor(["--crl", crlOf(c)]);
  // p1 announces its scores, then goes: the job stays pending, and a wait on it waits.
  await (await c.startPlayer("p1")).stop();
  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  const bob = certPair(c, "bob");
  assertEquals((await httpsGet(c, "/v1/health", bob) as { status: number }).status, 200);

  let sent = false;
  const polling = httpsGet(c, `/v1/jobs/${id}?wait=120`, bob, (req) => {
    req.on("finish", () => (sent = true));
  });
  await until("the long poll is sent", () => sent);
  const from = conductor.proc.lines.length;
  const r = await c.cli(["ca", "revoke", "bob", "--ca-dir", c.caDir]);
  assertEquals(r.code, 0, r.stderr);
  const cut = await polling;
  assert(typeof cut === "string", `the long poll was answered: ${JSON.stringify(cut)}`);
  await conductor.proc.waitFor(
    /closed a connection: the peer's certificate is revoked cn=bob/,
    15_000,
    from,
  );

  const again = await httpsGet(c, "/v1/jobs", bob);
  assert(typeof again === "string", `a revoked client got an answer: ${JSON.stringify(again)}`);
  await conductor.proc.waitFor(
    /refused an audience connection at the TLS handshake reason="the peer's certificate \(CN bob, serial [0-9A-F]+\) is revoked/,
    15_000,
    from,
  );
  // Alice was not revoked.
  assertEquals(
    (await httpsGet(c, "/v1/health", certPair(c, "alice")) as { status: number }).status,
    200,
  );
  assertEquals((await c.client.jobs(100)).length, 1);
});

Deno.test("a player refuses a revoked conductor certificate, and leaves one revoked while connected", async () => {
  await using c = await clusterWithCrl(["p1"]);
  await c.startConductor();
  const p1 = await c.startPlayer("p1", { extra: ["--crl", crlOf(c)] });

  const r = await c.cli(["ca", "revoke", "conductor", "--ca-dir", c.caDir]);
  assertEquals(r.code, 0, r.stderr);
  await p1.waitFor(/closed a connection: the peer's certificate is revoked .*cn=conductor serial=/);
  await p1.waitFor(
    /the conductor's certificate is not accepted .*error="cannot connect to 127\.0\.0\.1:\d+: the conductor's certificate \(CN conductor, serial [0-9A-F]+\) is revoked/,
  );
  await until("p1 offline", async () => {
    const players = await c.client.players();
    return players.some((p) => p.name === "p1" && !p.connected);
  });
});

Deno.test("expired and not-yet-valid certificates are refused on both ports, and the log says which", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const conductor = await c.startConductor();
  const ca = {
    certPem: await Deno.readTextFile(join(c.caDir, "ca.crt")),
    keyPem: await Deno.readTextFile(join(c.caDir, "ca.key")),
  };
  const now = new Date();
  const make = async (name: string, role: "player" | "audience", from: number, to: number) => {
    const m = await issueCertificate(ca, {
      name,
      role,
      sans: [],
      days: 1,
      now,
      notBefore: new Date(now.getTime() + from),
      notAfter: new Date(now.getTime() + to),
    });
    return { cert: m.certPem, key: m.keyPem };
  };
  const cases = [
    { port: "player", who: await make("p1", "player", -10 * DAY, -DAY), says: "has expired" },
    { port: "player", who: await make("p1", "player", DAY, 10 * DAY), says: "is not yet valid" },
    {
      port: "audience",
      who: await make("alice", "audience", -10 * DAY, -DAY),
      says: "has expired",
    },
    {
      port: "audience",
      who: await make("alice", "audience", DAY, 10 * DAY),
      says: "is not yet valid",
    },
  ];
  for (const k of cases) {
    const from = conductor.proc.lines.length;
    if (k.port === "player") await rawPlayerConnection(c, k.who);
    else {
      const res = await httpsGet(c, "/v1/jobs", k.who);
      assert(typeof res === "string", `${k.says} got an answer: ${JSON.stringify(res)}`);
    }
    const line = await conductor.proc.waitFor(
      new RegExp(`refused an? ${k.port} connection at the TLS handshake reason=.*`),
      15_000,
      from,
    );
    assertMatch(
      line[0],
      new RegExp(
        `the peer's certificate \\(CN \\w+, serial [0-9A-F]+\\) ${k.says} \\(valid (until|from) \\d{4}-`,
      ),
    );
    assert(!/not issued by this/.test(line[0]), line[0]);
  }
  assertEquals((await c.client.players()).find((p) => p.name === "p1")?.connected, false);
  assertEquals(await c.client.jobs(100), []);
});

Deno.test("a conductor or player refuses to start with a CRL that is missing or from another CA", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const other = join(c.dir, "other-ca");
  await c.orchOk(["ca", "init", other]);
  await c.orchOk(["ca", "crl", "--ca-dir", other]);

  let r = await orch(c.conductorArgs(["--init", "--crl", join(c.dir, "nope.pem")]));
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /CRL .*nope\.pem does not exist/);
  r = await orch(c.conductorArgs(["--init", "--crl", join(other, "crl.pem")]));
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /CRL .*other-ca\/crl\.pem is not signed by the deployment CA/);
  assertEquals(await Deno.stat(c.db).then(() => true, () => false), false, "no database made");

  r = await orch(
    c.playerArgs("p1", ["--conductor", "127.0.0.1:1", "--crl", join(other, "crl.pem")]),
  );
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /CRL .*crl\.pem is not signed by the deployment CA/);
});

Deno.test("orch ca list shows what was issued and revoked; revoke names what it does not know", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  let r = await c.cli(["ca", "revoke", "nobody", "--ca-dir", c.caDir]);
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /no certificate named or with serial "nobody" in .*issued\.jsonl/);
  assertEquals(await Deno.stat(crlOf(c)).then(() => true, () => false), false, "no CRL written");

  await c.orchOk(["ca", "revoke", "p1", "--ca-dir", c.caDir]);
  r = await c.cli(["ca", "list", "--ca-dir", c.caDir]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /^NAME +ROLE +SERIAL +NOT AFTER +STATE\n/);
  assertMatch(r.stdout, /\nconductor +conductor +[0-9A-F]+ +\d{4}-\d\d-\d\d +valid\n/);
  assertMatch(r.stdout, /\np1 +player +[0-9A-F]+ +\d{4}-\d\d-\d\d +revoked \d{4}-/);
  r = await c.cli(["ca", "list", "--ca-dir", c.caDir, "--json"]);
  const list = (JSON.parse(r.stdout) as {
    certificates: { name: string; state: string; serial: string; revoked_at: string | null }[];
  }).certificates;
  assertEquals(list.map((x) => [x.name, x.state]).sort(), [
    ["alice", "valid"],
    ["conductor", "valid"],
    ["p1", "revoked"],
  ]);
  // Times as RFC 3339, in UTC.
  assertMatch(
    list.find((x) => x.name === "p1")!.revoked_at!,
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
  );
  const mode = (await Deno.stat(join(c.caDir, "issued.jsonl"))).mode! & 0o777;
  assertEquals(mode, 0o600);

  // By serial.
  const alice = list.find((x) => x.name === "alice")!;
  r = await c.cli(["ca", "revoke", alice.serial.toLowerCase(), "--ca-dir", c.caDir]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /^revoked 1 certificate: alice/);

  // A certificate issued before the CA kept its record is revoked from its file.
  await c.issueAudience("old");
  const index = join(c.caDir, "issued.jsonl");
  const lines = (await Deno.readTextFile(index)).split("\n").filter((l) =>
    !l.includes('"cn":"old"')
  );
  await Deno.writeTextFile(index, lines.join("\n"));
  r = await c.cli(["ca", "revoke", "old", "--ca-dir", c.caDir]);
  assertEquals(r.code, 2);
  r = await c.cli(["ca", "revoke", "--cert", join(c.caDir, "old.crt"), "--ca-dir", c.caDir]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /^revoked 1 certificate: old \(serial [0-9A-F]+\)/);
  // One from another CA is refused, and nothing is recorded.
  const other = join(c.dir, "other-ca");
  await c.orchOk(["ca", "init", other]);
  await c.orchOk(["ca", "issue", "stranger", "--role", "audience", "--ca-dir", other]);
  r = await c.cli(["ca", "revoke", "--cert", join(other, "stranger.crt"), "--ca-dir", c.caDir]);
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /stranger\.crt was not issued by the CA in /);
  assert(!(await Deno.readTextFile(index)).includes("stranger"));
});
