import { assertEquals, assertMatch, assertRejects } from "../../_helpers/assert.ts";
import type { OrchError } from "../../../lib/errors.ts";
import { AudienceClient } from "../../../lib/client/mod.ts";
import { dialTls, reachFailure } from "../../../lib/client/_dial.ts";
import { startAudienceServers } from "../../../lib/conductor/http.ts";
import { silentLogger } from "../../../lib/log.ts";
import { createCA, issueCertificate, type Role } from "../../../lib/tls/mod.ts";

const NOW = new Date();

/** PEM texts of a certificate for `name` in `role` from `ca`. */
async function pems(ca: { certPem: string; keyPem: string }, name: string, role: Role) {
  const leaf = await issueCertificate(ca, { name, role, sans: [], days: 1, now: NOW });
  return { ca: ca.certPem, cert: leaf.certPem, key: leaf.keyPem };
}

/**
 * The conductor's audience HTTPS server on `port` (0: any), answering
 * `/v1/health` and noting the client address and port of each request.
 */
async function serve(conductor: { ca: string; cert: string; key: string }, port: number) {
  const from: string[] = [];
  const servers = await startAudienceServers({
    handler: (_req, ctx) => {
      from.push(ctx.from ?? "");
      return Promise.resolve(Response.json({ status: "ok" }));
    },
    tls: { ...conductor, name: "conductor", names: ["conductor"], notAfter: NOW },
    listen: { host: "127.0.0.1", port },
    socket: null,
    socketMode: 0o600,
    log: silentLogger,
  });
  return { servers, from, port: servers.address!.port };
}

/** A client of the conductor on `port` with alice's audience certificate from `ca`. */
async function aliceClient(ca: { certPem: string; keyPem: string }, port: number) {
  return new AudienceClient({
    kind: "https",
    host: "127.0.0.1",
    port,
    expectName: "conductor",
    tls: await pems(ca, "alice", "audience"),
  });
}

Deno.test("over HTTPS the client keeps its connection for the next request, and dials again when the conductor closed it", async () => {
  const ca = await createCA({ name: "test CA", days: 1, now: NOW });
  const conductor = await pems(ca, "conductor", "conductor");
  let s = await serve(conductor, 0);
  const client = await aliceClient(ca, s.port);
  try {
    for (let i = 0; i < 3; i++) assertEquals(await client.health(), { status: "ok" });
    // Three requests, one connection: each came from the same client port.
    assertEquals(new Set(s.from).size, 1, JSON.stringify(s.from));

    // The conductor goes away and comes back on the same port: the kept connection is dead.
    await s.servers.stop();
    s = await serve(conductor, s.port);
    assertEquals(await client.health(), { status: "ok" });
    assertEquals(s.from.length, 1);
  } finally {
    await s.servers.stop();
  }
});

Deno.test("over HTTPS a request that must not be sent twice (a cancel) goes on a new connection, never on the kept one", async () => {
  const ca = await createCA({ name: "test CA", days: 1, now: NOW });
  const s = await serve(await pems(ca, "conductor", "conductor"), 0);
  const client = await aliceClient(ca, s.port);
  try {
    assertEquals(await client.health(), { status: "ok" });
    assertEquals(await client.health(), { status: "ok" });
    // The test server answers every request alike: the cancel's answer does not decode.
    await client.cancel(1).catch(() => {});
    assertEquals(s.from.length, 3);
    assertEquals(s.from[0], s.from[1], "the reads share the kept connection");
    assertEquals(s.from[2] !== s.from[0], true, `the cancel came from ${s.from[2]} too`);
  } finally {
    await s.servers.stop();
  }
});

Deno.test("given several conductors, the client passes over one whose certificate does not fit, and says why when none fits", async () => {
  const ca = await createCA({ name: "test CA", days: 1, now: NOW });
  const wrong = await serve(await pems(ca, "elsewhere", "conductor"), 0);
  const right = await serve(await pems(ca, "conductor", "conductor"), 0);
  const tls = await pems(ca, "alice", "audience");
  const conductor = (port: number) => ({ host: "127.0.0.1", port, expectName: "conductor" });
  try {
    const client = new AudienceClient({
      kind: "https",
      ...conductor(wrong.port),
      tls,
      others: [conductor(right.port)],
    });
    assertEquals(await client.health(), { status: "ok" });
    assertEquals([wrong.from.length, right.from.length], [0, 1]);

    const none = new AudienceClient({ kind: "https", ...conductor(wrong.port), tls });
    const err = await assertRejects(() => none.health()) as OrchError;
    assertEquals(err.code, "forbidden");
    assertMatch(err.message, /shows a certificate for elsewhere, not for conductor/);
  } finally {
    await wrong.servers.stop();
    await right.servers.stop();
  }
});

Deno.test("the names a conductor's certificate holds are read without trusting it, for an error that lacks them", async () => {
  const ca = await createCA({ name: "test CA", days: 1, now: NOW });
  const leaf = await issueCertificate(ca, {
    name: "c1.example",
    role: "conductor",
    sans: ["localhost", "127.0.0.1"],
    days: 1,
    now: NOW,
  });
  const s = await serve({ ca: ca.certPem, cert: leaf.certPem, key: leaf.keyPem }, 0);
  try {
    const { certificateNames } = await import("../../../lib/client/_diagnose.ts");
    assertEquals(await certificateNames("127.0.0.1", s.port, "wrong.example", 5000), [
      "c1.example",
      "localhost",
      "127.0.0.1",
    ]);
    // Nothing listening: no names, no error.
    await s.servers.stop();
    assertEquals(await certificateNames("127.0.0.1", s.port, "wrong.example", 5000), null);
  } finally {
    await s.servers.stop();
  }
});

Deno.test("a TLS handshake that never finishes is given up after its time limit, as a conductor that cannot be reached", async () => {
  const ca = await createCA({ name: "test CA", days: 1, now: NOW });
  // Accepts connections and says nothing.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    const alice = await pems(ca, "alice", "audience");
    const target = { host: "127.0.0.1", port: listener.addr.port, expectName: "conductor" };
    // Were there no time limit, the test would otherwise wait for ever: it gives up after 10 s.
    let guard: ReturnType<typeof setTimeout> | undefined;
    const err = await Promise.race([
      assertRejects(() => dialTls(target, alice, 200)),
      new Promise<Error>((resolve) => {
        guard = setTimeout(() => resolve(new Error("no time limit")), 10_000);
      }),
    ]).finally(() => clearTimeout(guard));
    assertEquals(err.name, "DialTimeout");
    assertEquals(reachFailure(err, "127.0.0.1"), "no connection: the TLS handshake took over 0.2s");
  } finally {
    listener.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});

Deno.test("a conductor name that does not resolve is 'cannot reach', naming the host", async () => {
  const ca = await createCA({ name: "test CA", days: 1, now: NOW });
  const client = new AudienceClient({
    kind: "https",
    host: "conductor.invalid",
    port: 2259,
    expectName: "conductor.invalid",
    tls: await pems(ca, "alice", "audience"),
  });
  const err = await assertRejects(() => client.health()) as OrchError;
  assertEquals(err.code, "unavailable");
  assertEquals(
    err.message,
    "cannot reach the conductor at https://conductor.invalid:2259: cannot resolve conductor.invalid",
  );
});
