import { join } from "node:path";
import { assertEquals, assertRejects } from "../../_helpers/assert.ts";
import { FakeBackend, task } from "../../_helpers/fake_backend.ts";
import { tempDir } from "../../_helpers/proc.ts";
import { AudienceClient } from "../../../lib/client/mod.ts";
import { createApiHandler } from "../../../lib/conductor/api.ts";
import { startAudienceServers } from "../../../lib/conductor/http.ts";
import { OrchError } from "../../../lib/errors.ts";
import { silentLogger } from "../../../lib/log.ts";
import { LOCAL_CALLER } from "../../../lib/protocol/mod.ts";
import { createCA, issueCertificate, type Role, type TlsMaterial } from "../../../lib/tls/mod.ts";

const NOW = new Date();

/** A CA and a certificate for `name` in `role`, as TLS material. */
async function material(
  ca: { certPem: string; keyPem: string },
  name: string,
  role: Role,
): Promise<TlsMaterial> {
  const sans = role === "conductor" ? ["127.0.0.1"] : [];
  const leaf = await issueCertificate(ca, { name, role, sans, days: 1, now: NOW });
  return {
    ca: ca.certPem,
    cert: leaf.certPem,
    key: leaf.keyPem,
    name,
    names: [name, ...sans],
    notAfter: new Date(NOW.getTime() + 86_400_000),
  };
}

Deno.test("the socket's caller is local and the HTTPS caller is the certificate's name; a player's certificate is refused", async () => {
  await using dir = await tempDir();
  const ca = await createCA({ name: "test CA", days: 1, now: NOW });
  const [conductor, alice, player] = await Promise.all([
    material(ca, "conductor", "conductor"),
    material(ca, "alice", "audience"),
    material(ca, "p1", "player"),
  ]);
  const backend = new FakeBackend();
  backend.add([task({ id: 1 })]);
  const servers = await startAudienceServers({
    handler: createApiHandler(backend, silentLogger),
    tls: conductor,
    listen: { host: "127.0.0.1", port: 0 },
    socket: join(dir.path, "audience.sock"),
    socketMode: 0o600,
    log: silentLogger,
  });
  try {
    const port = servers.address!.port;
    const https = (tls: TlsMaterial) =>
      new AudienceClient({ kind: "https", host: "127.0.0.1", port, tls, expectName: "conductor" });
    const local = new AudienceClient({ kind: "socket", path: servers.socket! });

    const submit = { score: "hello", scope: "all" as const, targets: ["p1"], params: {} };
    await local.submit(submit);
    await https(alice).submit(submit);
    await local.cancel(1);
    await https(alice).cancel(1);
    const callers = backend.calls.map((c) => c[c.length - 1]);
    const viaHttps = { transport: "https", name: "alice", auth: "client_certificate" };
    assertEquals(callers, [LOCAL_CALLER, viaHttps, LOCAL_CALLER, viaHttps]);

    const err = await assertRejects(() => https(player).submit(submit));
    assertEquals((err as OrchError).code, "forbidden");
    assertEquals(backend.calls.length, 4);
  } finally {
    await servers.stop();
  }
});

Deno.test("a request on the socket is told through its signal when the client goes away", async () => {
  await using dir = await tempDir();
  const ca = await createCA({ name: "test CA", days: 1, now: NOW });
  const conductor = await material(ca, "conductor", "conductor");
  let arrived!: () => void;
  const started = new Promise<void>((r) => arrived = r);
  let aborted!: () => void;
  const gone = new Promise<void>((r) => aborted = r);
  const servers = await startAudienceServers({
    handler: (_req, ctx) =>
      new Promise<Response>((resolve) => {
        arrived();
        ctx.signal?.addEventListener("abort", () => {
          aborted();
          resolve(new Response("gone"));
        });
      }),
    tls: conductor,
    listen: null,
    socket: join(dir.path, "audience.sock"),
    socketMode: 0o600,
    log: silentLogger,
  });
  try {
    const conn = await Deno.connect({ transport: "unix", path: servers.socket! });
    await conn.write(
      new TextEncoder().encode("GET /v1/jobs/1?wait=300 HTTP/1.1\r\nHost: x\r\n\r\n"),
    );
    await started;
    conn.close();
    // Without a signal the handler would wait its whole 300 s and the test time out.
    await gone;
  } finally {
    await servers.stop();
  }
});
