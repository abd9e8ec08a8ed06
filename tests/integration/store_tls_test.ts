/**
 * A conductor on PostgreSQL over TCP with TLS and a password: the password
 * from a file only its owner reads (or the environment), never on the
 * command line; the server's certificate checked against a CA file
 * (`sslmode=verify-full`), and refused when it is not the one trusted.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { PgCluster } from "../_helpers/postgres.ts";
import { Proc } from "../_helpers/proc.ts";

Deno.test("a conductor runs on PostgreSQL over verified TLS with a password from a file or the environment, and refuses a server whose certificate is not trusted", async () => {
  await using pg = await PgCluster.start();
  const serverCert = await pg.enableTls();
  const db = await pg.createDatabase("tls");
  await using c = await Cluster.create({ players: ["p1"] });
  const pwFile = join(c.dir, "store.password");
  await Deno.writeTextFile(pwFile, PgCluster.password + "\n", { mode: 0o600 });
  const url = (ca: string) =>
    `postgres://${PgCluster.passwordRole}@127.0.0.1:${pg.port}/${db}?sslmode=verify-full&sslrootcert=${ca}`;

  // Trusted: it leads, and a job runs.
  c.store = url(serverCert);
  const cond = await c.startConductor(["--store-password-file", pwFile]);
  await cond.proc.waitFor(/leading: took the leadership/);
  await c.startPlayer("p1");
  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  assertEquals((await c.wait(id)).aggregate, "success");
  // The password is on no command line and in no log line.
  const cmdline = await Deno.readTextFile(`/proc/${cond.proc.child.pid}/cmdline`);
  assert(!cmdline.includes(PgCluster.password), "the password is on the command line");
  assert(!cond.proc.log.includes(PgCluster.password), "the password is in the log");
  await cond.proc.stop();

  // The same from the environment, on the same database: the job is still there.
  const env = await c.startConductor([], { env: { ORCH_STORE_PASSWORD: PgCluster.password } });
  await env.proc.waitFor(/leading: took the leadership/);
  assertEquals((await c.client.job(id)).aggregate, "success");
  await env.proc.stop();

  // A CA that did not sign the server's certificate: no connection, a message naming why.
  c.store = url(join(c.caDir, "ca.crt"));
  const refused = c.track(
    new Proc("conductor-untrusted", c.conductorArgs(["--store-password-file", pwFile])),
  );
  await refused.waitFor(
    /WARN .*self-signed certificate.*hint="the database server's certificate is not signed by a CA orch trusts: give its CA with sslrootcert=/,
  );
  assert(!refused.log.includes("leading: took the leadership"));
  assert(!refused.log.includes(PgCluster.password));
});
