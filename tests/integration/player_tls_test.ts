/**
 * What a player says when it does not accept the conductor's certificate:
 * once, in words that name the problem and its fix, then only at debug
 * while it keeps retrying (a reminder with the count comes every 10
 * minutes; see tests/unit/player/repeats_test.ts).
 */

import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertNotMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import type { Proc } from "../_helpers/proc.ts";
import { createMutualTlsServer, issueCertificate, listen } from "../../lib/tls/mod.ts";

/**
 * Waits until `player` has retried `message` at debug `times` times, then
 * returns the lines that carry it at any level above debug.
 */
async function shownOnce(player: Proc, message: RegExp, times = 3): Promise<string[]> {
  for (let i = 1; i <= times; i++) {
    const from = player.lines.findIndex((l) => message.test(l));
    await player.waitFor(new RegExp(`DEBUG +${message.source}`), 15_000, from + 1);
    const repeats = player.lines.filter((l) => /DEBUG/.test(l) && message.test(l)).length;
    if (repeats >= times) break;
  }
  return player.lines.filter((l) => !/ DEBUG /.test(l) && message.test(l))
    .map((l) => l.slice(l.indexOf(" ") + 1));
}

Deno.test("a player dialling an address its conductor's certificate does not hold says so once: the names held, the name checked, the fix", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  // A conductor certificate for its name only, as the quick start would make it.
  await c.orchOk(["ca", "issue", "hub", "--role", "conductor", "--ca-dir", c.caDir]);
  await c.startConductor([
    "--cert",
    join(c.caDir, "hub.crt"),
    "--key",
    join(c.caDir, "hub.key"),
  ]);
  // No conductor_name: the certificate must hold the address dialled, 127.0.0.1.
  const p1 = await c.startPlayer("p1", { wait: false, extra: ["--conductor-name", ""] });
  const problem = /the conductor's certificate is not accepted /;
  const m = await p1.waitFor(/ERROR +the conductor's certificate is not accepted .*/);
  assertMatch(
    m[0],
    /error="cannot connect to 127\.0\.0\.1:\d+: the conductor's certificate \(CN hub, serial [0-9A-F]+\) holds the names hub, not 127\.0\.0\.1, the name checked"/,
  );
  assertMatch(m[0], /hint=".*--conductor-name NAME \(the conductor_name key\)/);
  assertMatch(m[0], /orch ca issue hub --role conductor --san 127\.0\.0\.1 --force/);
  assertEquals(await shownOnce(p1, problem), [m[0]]);
  assertNotMatch(p1.log, /Hostname\/IP does not match/);
  assertEquals((await c.client.players()).find((p) => p.name === "p1")?.connected, false);

  // The fix it names works: the name the certificate holds, checked while dialling the address.
  await p1.stop();
  await c.orchOk(["ca", "issue", "hub", "--role", "conductor", "--force", "--ca-dir", c.caDir]);
  await c.startPlayer("p1", { extra: ["--conductor-name", "hub"] });
});

Deno.test("a player whose CA file did not issue the conductor's certificate says so once, with the fix", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const other = join(c.dir, "other-ca");
  await c.orchOk(["ca", "init", other]);
  await c.orchOk(["ca", "issue", "p1", "--role", "player", "--ca-dir", other]);
  await c.startConductor();
  const p1 = await c.startPlayer("p1", {
    wait: false,
    extra: [
      "--ca",
      join(other, "ca.crt"),
      "--cert",
      join(other, "p1.crt"),
      "--key",
      join(other, "p1.key"),
    ],
  });
  const m = await p1.waitFor(/ERROR +the conductor's certificate is not accepted .*/);
  assertMatch(
    m[0],
    /the conductor's certificate \(CN conductor, serial [0-9A-F]+\) is not issued by this deployment's CA/,
  );
  assertMatch(m[0], /hint="the ca file \(--ca\) must be the CA that issued the conductor's/);
  assertEquals(await shownOnce(p1, /the conductor's certificate is not accepted /), [m[0]]);
});

Deno.test("a player shown an expired conductor certificate says when it expired, once, with the fix", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const ca = {
    certPem: await Deno.readTextFile(join(c.caDir, "ca.crt")),
    keyPem: await Deno.readTextFile(join(c.caDir, "ca.key")),
  };
  const now = Date.now();
  const expired = await issueCertificate(ca, {
    name: "conductor",
    role: "conductor",
    sans: ["localhost", "127.0.0.1"],
    days: 1,
    now: new Date(now - 3 * 86_400_000),
    notAfter: new Date(now - 86_400_000),
  });
  // A conductor would not start with it: a TLS server stands in for one, the CA's own.
  const server = createMutualTlsServer(
    {
      ca: ca.certPem,
      cert: expired.certPem,
      key: expired.keyPem,
      name: "conductor",
      names: ["conductor"],
      notAfter: new Date(now - 86_400_000),
    },
    { handshakeMs: 5000 },
    (socket) => socket.destroy(),
    () => {},
  );
  const at = await listen(server, "127.0.0.1", 0);
  try {
    c.playersPort = at.port;
    const p1 = await c.startPlayer("p1", { wait: false });
    const m = await p1.waitFor(/ERROR +the conductor's certificate is not accepted .*/);
    assertMatch(
      m[0],
      /the conductor's certificate \(CN conductor, serial [0-9A-F]+\) has expired \(valid until \d{4}-\d\d-\d\dT[\d:.]+Z\)/,
    );
    assertMatch(m[0], /hint="issue the conductor a new certificate \(orch ca issue NAME/);
    assertEquals(await shownOnce(p1, /the conductor's certificate is not accepted /), [m[0]]);
    assert(!/ DEBUG .*connected to the conductor/.test(p1.log));
    await p1.stop();
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});
