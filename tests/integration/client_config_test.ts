/**
 * Where an audience command connects, as a person sets it up: flags, the
 * ORCH_* environment, a client config file; over HTTPS with certificates
 * from `orch ca` and over the socket. And what it says when TLS fails: a
 * certificate without the name dialled, a CA it does not trust, a client
 * certificate the conductor refuses - each a refusal with its fix, at
 * once, never "cannot reach" after retrying.
 *
 * @module
 */

import { join } from "node:path";
import { assertEquals, assertMatch, assertNotMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { orch } from "../_helpers/proc.ts";
import { issueCertificate } from "../../lib/tls/mod.ts";

const DAY = 86_400_000;

/** Exit status of a refusal, and of a conductor that cannot be reached. */
const EXIT_USAGE = 2;
const EXIT_UNAVAILABLE = 6;

/** The environment that points an audience command at the cluster over HTTPS as `name`. */
function httpsEnv(c: Cluster, name: string): Record<string, string> {
  return {
    ORCH_CONDUCTOR: `127.0.0.1:${c.audiencePort}`,
    ORCH_CONDUCTOR_NAME: "localhost",
    ORCH_CA: join(c.caDir, "ca.crt"),
    ORCH_CERT: join(c.caDir, `${name}.crt`),
    ORCH_KEY: join(c.caDir, `${name}.key`),
  };
}

/** A folder for XDG_CONFIG_HOME (no client config file unless written), in the cluster's dir. */
async function configHome(c: Cluster): Promise<string> {
  const dir = join(c.dir, "xdg");
  await Deno.mkdir(join(dir, "orch"), { recursive: true });
  return dir;
}

/** Runs `orch` with only the given client environment (no user config file of this machine). */
async function run(c: Cluster, args: string[], env: Record<string, string>) {
  return await orch(args, { env: { XDG_CONFIG_HOME: await configHome(c), ...env } });
}

Deno.test("an audience command takes the conductor, its name and the certificates from ORCH_* variables; a flag overrides one of them", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.issueAudience("bob");
  await c.startConductor();
  await c.startPlayer("p1");

  let r = await run(c, ["players"], httpsEnv(c, "alice"));
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /p1\s+connected/);

  // --cert and --key beat ORCH_CERT and ORCH_KEY; the rest still comes from the environment.
  r = await run(c, [
    "submit",
    "hello",
    "--all",
    "-t",
    "p1",
    "--cert",
    join(c.caDir, "bob.crt"),
    "--key",
    join(c.caDir, "bob.key"),
  ], httpsEnv(c, "alice"));
  assertEquals(r.code, EXIT_USAGE, r.stderr);
  assertMatch(r.stderr, /^orch: audience:bob may not submit/);
  assertEquals(await c.client.jobs(10), []);
});

Deno.test("a client config file in XDG_CONFIG_HOME names the conductor over HTTPS, with paths relative to it; ORCH_CONDUCTOR_NAME overrides its name", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  await c.startPlayer("p1");
  const home = await configHome(c);
  const dir = join(home, "orch");
  await Deno.mkdir(join(dir, "certs"));
  for (const f of ["ca.crt", "alice.crt", "alice.key"]) {
    await Deno.copyFile(join(c.caDir, f), join(dir, "certs", f));
  }
  await Deno.chmod(join(dir, "certs", "alice.key"), 0o600);
  await Deno.writeTextFile(
    join(dir, "client.yaml"),
    [
      "# the conductor of this test",
      "conductor:",
      `  - 127.0.0.1:${c.audiencePort}`,
      "conductor_name: localhost",
      "ca: certs/ca.crt",
      "cert: certs/alice.crt",
      "key: ./certs/alice.key",
      "",
    ].join("\n"),
  );

  let r = await run(c, ["submit", "hello", "--all", "-t", "p1", "--wait", "--json"], {});
  assertEquals(r.code, 0, r.stderr);
  const { job } = JSON.parse(r.stdout) as { job: { id: number; aggregate: string } };
  assertEquals(job.aggregate, "success");
  assertEquals((await c.client.job(job.id)).submitted_by, "audience:alice");

  // The environment beats the file, key by key: a name the certificate does not hold is refused.
  r = await run(c, ["status", String(job.id)], { ORCH_CONDUCTOR_NAME: "elsewhere.example" });
  assertEquals(r.code, EXIT_USAGE, r.stderr);
  assertMatch(r.stderr, /not for elsewhere\.example, the name asked for \(ORCH_CONDUCTOR_NAME\)\n/);

  // A mistake in the file stops every command, naming the file, the line and the key.
  await Deno.writeTextFile(join(dir, "client.yaml"), "ca: certs/ca.crt\nconductor_nam: x\n");
  r = await run(c, ["jobs"], {});
  assertEquals(r.code, EXIT_USAGE, r.stderr);
  assertEquals(
    r.stderr,
    `orch: ${join(dir, "client.yaml")}:2: unknown key "conductor_nam"\n` +
      "hint: a client config file holds only: conductor, conductor_name, cert, key, ca, socket\n",
  );
});

Deno.test("over the socket: the client config file's socket, relative to the file; ORCH_SOCKET beats it and --socket beats both", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  await c.startPlayer("p1");
  const file = join(c.dir, "client.yaml");
  await Deno.writeTextFile(file, "socket: audience.sock\n");
  const env = { ORCH_CLIENT_CONFIG: file };

  let r = await run(c, ["players"], env);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /p1\s+connected/);

  const nowhere = join(c.dir, "nowhere.sock");
  r = await run(c, ["players"], { ...env, ORCH_SOCKET: nowhere });
  assertEquals(r.code, EXIT_UNAVAILABLE, r.stderr);
  assertEquals(
    r.stderr.split("\n")[0],
    `orch: cannot reach the conductor at ${nowhere}: no such socket`,
  );

  r = await run(c, ["players", "--socket", c.socket], { ...env, ORCH_SOCKET: nowhere });
  assertEquals(r.code, 0, r.stderr);

  // ORCH_CLIENT_CONFIG must name a file that exists.
  r = await run(c, ["players"], { ORCH_CLIENT_CONFIG: join(c.dir, "missing.yaml") });
  assertEquals(r.code, EXIT_USAGE, r.stderr);
  assertMatch(r.stderr, /client config file .*missing\.yaml \(ORCH_CLIENT_CONFIG\) does not exist/);
});

Deno.test("a conductor certificate without the name dialled: the error names both and the fix, exits 2 at once, and the fix works", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.orchOk([
    "ca",
    "issue",
    "orch.example",
    "--role",
    "conductor",
    "--san",
    "localhost",
    "--ca-dir",
    c.caDir,
  ]);
  await c.startConductor([
    "--cert",
    join(c.caDir, "orch.example.crt"),
    "--key",
    join(c.caDir, "orch.example.key"),
  ]);
  await c.startPlayer("p1", { extra: ["--conductor-name", "localhost"] });
  const env = { ...httpsEnv(c, "alice"), ORCH_CONDUCTOR_NAME: "" };

  // submit tries an unreachable conductor again for 10 s; a certificate that does not fit, never.
  let r = await run(c, ["submit", "hello", "--all", "-t", "p1"], env);
  assertEquals(r.code, EXIT_USAGE, r.stderr);
  const [message, hint] = r.stderr.split("\n");
  assertEquals(
    message,
    `orch: the conductor at https://127.0.0.1:${c.audiencePort} shows a certificate for ` +
      "orch.example, localhost, not for 127.0.0.1, the name dialled",
  );
  assertMatch(hint, /^hint: check it for a name it holds with --conductor-name orch\.example /);
  assertMatch(hint, /ORCH_CONDUCTOR_NAME/);
  assertMatch(hint, /orch ca issue NAME --role conductor --san 127\.0\.0\.1$/);
  assertNotMatch(r.stderr, /retrying|cannot reach/);
  assertEquals(await c.client.jobs(10), []);

  // The fix the hint gives.
  r = await run(c, ["submit", "hello", "--all", "-t", "p1", "--wait"], {
    ...env,
    ORCH_CONDUCTOR_NAME: "orch.example",
  });
  assertEquals(r.code, 0, r.stderr);
});

Deno.test("a conductor that cannot be reached is still 'cannot reach' (exit 6), a CA that did not issue its certificate a refusal (exit 2)", async () => {
  await using c = await Cluster.create({ players: [] });
  await c.startConductor();
  const other = join(c.dir, "other-ca");
  await c.orchOk(["ca", "init", other, "--name", "another CA"]);

  let r = await run(c, ["players"], { ...httpsEnv(c, "alice"), ORCH_CONDUCTOR: "127.0.0.1:1" });
  assertEquals(r.code, EXIT_UNAVAILABLE, r.stderr);
  assertEquals(
    r.stderr.split("\n")[0],
    "orch: cannot reach the conductor at https://127.0.0.1:1: connection refused",
  );

  r = await run(c, ["players", "--ca", join(other, "ca.crt")], httpsEnv(c, "alice"));
  assertEquals(r.code, EXIT_USAGE, r.stderr);
  assertEquals(
    r.stderr.split("\n")[0],
    `orch: the conductor at https://127.0.0.1:${c.audiencePort} shows a certificate that is ` +
      `not issued by the CA this client trusts (${join(other, "ca.crt")})`,
  );
  assertMatch(r.stderr, /\nhint: give the deployment's CA certificate .* --ca PATH/);
});

Deno.test("a client certificate the conductor refuses says why: from another CA, expired, revoked", async () => {
  await using c = await Cluster.create({ players: [] });
  await c.orchOk(["ca", "crl", "--ca-dir", c.caDir]);
  await c.issueAudience("bob");
  const conductor = await c.startConductor(["--crl", join(c.caDir, "crl.pem")]);
  const other = join(c.dir, "other-ca");
  await c.orchOk(["ca", "init", other]);
  await c.orchOk(["ca", "issue", "mallory", "--role", "audience", "--ca-dir", other]);
  const ca = {
    certPem: await Deno.readTextFile(join(c.caDir, "ca.crt")),
    keyPem: await Deno.readTextFile(join(c.caDir, "ca.key")),
  };
  const now = new Date();
  const old = await issueCertificate(ca, {
    name: "carol",
    role: "audience",
    sans: [],
    days: 1,
    now,
    notBefore: new Date(now.getTime() - 10 * DAY),
    notAfter: new Date(now.getTime() - DAY),
  });
  await Deno.writeTextFile(join(c.dir, "carol.crt"), old.certPem);
  await Deno.writeTextFile(join(c.dir, "carol.key"), old.keyPem, { mode: 0o600 });
  const as = (cert: string, key: string) => ({
    ...httpsEnv(c, "alice"),
    ORCH_CERT: cert,
    ORCH_KEY: key,
  });
  const at = `orch: the conductor at https://127.0.0.1:${c.audiencePort}`;

  let r = await run(c, ["jobs"], as(join(other, "mallory.crt"), join(other, "mallory.key")));
  assertEquals(r.code, EXIT_USAGE, r.stderr);
  assertMatch(
    r.stderr,
    new RegExp(
      `^${at} refused the connection: this client's certificate \\(CN mallory, serial [0-9A-F]+\\) is not issued by this deployment's CA\\n`,
    ),
  );
  assertMatch(
    r.stderr,
    /\nhint: get a certificate from the deployment's CA: orch ca issue NAME --role audience/,
  );

  r = await run(c, ["jobs"], as(join(c.dir, "carol.crt"), join(c.dir, "carol.key")));
  assertEquals(r.code, EXIT_USAGE, r.stderr);
  assertMatch(
    r.stderr,
    new RegExp(
      `^${at} refused the connection: this client's certificate \\(CN carol, serial [0-9A-F]+\\) has expired \\(valid until \\d{4}-`,
    ),
  );

  const bob = as(join(c.caDir, "bob.crt"), join(c.caDir, "bob.key"));
  r = await run(c, ["jobs"], bob);
  assertEquals(r.code, 2, r.stderr);
  assertMatch(r.stderr, /audience:bob may not/);
  const from = conductor.proc.lines.length;
  const revoke = await c.cli(["ca", "revoke", "bob", "--ca-dir", c.caDir]);
  assertEquals(revoke.code, 0, revoke.stderr);
  await conductor.proc.waitFor(/CRL reloaded .*revoked=1/, 15_000, from);
  r = await run(c, ["submit", "hello", "--all", "-t", "p1"], bob);
  assertEquals(r.code, EXIT_USAGE, r.stderr);
  assertMatch(
    r.stderr,
    new RegExp(
      `^${at} refuses this client's certificate \\(CN bob, serial [0-9A-F]+\\): it closes the connection right after the TLS handshake; the certificate may be revoked`,
    ),
  );
  assertMatch(
    r.stderr,
    /\nhint: the conductor's log says why \("refused an audience connection"\)/,
  );
  assertNotMatch(r.stderr, /retrying|cannot reach/);
});

Deno.test("a server showing a certificate that holds the name but is not a conductor's is refused", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  // A TLS server on loopback showing player p1's certificate, from the deployment's CA.
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(join(c.caDir, "p1.crt")),
    key: await Deno.readTextFile(join(c.caDir, "p1.key")),
  });
  const accepting = (async () => {
    for await (const conn of listener) {
      conn.handshake().catch(() => {}).finally(() => conn.close());
    }
  })();
  try {
    const r = await run(c, ["players"], {
      ...httpsEnv(c, "alice"),
      ORCH_CONDUCTOR: `127.0.0.1:${listener.addr.port}`,
      ORCH_CONDUCTOR_NAME: "p1",
    });
    assertEquals(r.code, EXIT_USAGE, r.stderr);
    assertMatch(
      r.stderr,
      /^orch: the conductor at https:\/\/127\.0\.0\.1:\d+ shows a certificate that is not a conductor's \(it may only be used by a client: a player or an audience member\)\nhint: .*orch ca issue NAME --role conductor/,
    );
  } finally {
    listener.close();
    await accepting.catch(() => {});
  }
});
