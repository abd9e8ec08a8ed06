import tls from "node:tls";
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertRejects } from "../../_helpers/assert.ts";
import { type CertifiedKey, createCA, issueCertificate, loadX509 } from "../../../lib/tls/ca.ts";
import { createCrl, normalizeSerial } from "../../../lib/tls/crl.ts";
import type { TlsMaterial } from "../../../lib/tls/files.ts";
import {
  connectMutualTls,
  createMutualTlsServer,
  listen,
  type TLSSocket,
} from "../../../lib/tls/mtls.ts";
import { Revocation, type RevocationLog } from "../../../lib/tls/revocation.ts";
import { tempDir, until } from "../../_helpers/proc.ts";

const DAY = 86_400_000;
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);

/** A log kept in memory: `level msg key=value…` per line. */
function memoryLog(): RevocationLog & { lines: string[] } {
  const lines: string[] = [];
  const add = (level: string) => (msg: string, fields: Record<string, unknown> = {}) =>
    lines.push(
      [level, msg, ...Object.entries(fields).map(([k, v]) => `${k}=${v}`)].join(" "),
    );
  return { lines, info: add("INFO"), warn: add("WARN"), error: add("ERROR") };
}

async function serialOf(pem: string): Promise<string> {
  return normalizeSerial(new (await loadX509()).X509Certificate(pem).serialNumber);
}

function material(ca: CertifiedKey, leaf: CertifiedKey, name: string): TlsMaterial {
  return {
    ca: ca.certPem,
    cert: leaf.certPem,
    key: leaf.keyPem,
    name,
    names: [name],
    notAfter: new Date(NOW.getTime() + DAY),
  };
}

/** A deployment in memory: a CA, a server certificate, and a player certificate made to order. */
async function deployment() {
  const ca = await createCA({ name: "orch CA", days: 30, now: NOW });
  const server = await issueCertificate(ca, {
    name: "localhost",
    role: "conductor",
    sans: ["127.0.0.1"],
    days: 10,
    now: NOW,
  });
  const player = (name: string, from = NOW.getTime() - DAY, to = NOW.getTime() + DAY) =>
    issueCertificate(ca, {
      name,
      role: "player",
      sans: [],
      days: 1,
      now: NOW,
      notBefore: new Date(from),
      notAfter: new Date(to),
    });
  return { ca, server, player };
}

/**
 * A mutual-TLS server on loopback: records each refusal's reason and keeps
 * each admitted socket; stops (and destroys what is open) when disposed.
 */
async function serve(m: TlsMaterial) {
  const refused: string[] = [];
  const admitted: TLSSocket[] = [];
  const server = createMutualTlsServer(m, { handshakeMs: 10_000 }, (s) => {
    admitted.push(s);
    s.on("data", () => {});
    s.on("error", () => {});
  }, (r) => refused.push(r));
  const { port } = await listen(server, "127.0.0.1", 0);
  return {
    port,
    refused,
    admitted,
    async [Symbol.asyncDispose]() {
      for (const s of admitted) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Connects with a client certificate as a raw node:tls client; resolves when the socket closes. */
function connectRaw(port: number, ca: CertifiedKey, leaf: CertifiedKey | null) {
  const socket = tls.connect({
    host: "127.0.0.1",
    port,
    ca: ca.certPem,
    servername: "localhost",
    minVersion: "TLSv1.3",
    ...(leaf ? { cert: leaf.certPem, key: leaf.keyPem } : {}),
  });
  socket.on("data", () => {});
  const closed = new Promise<void>((resolve) => {
    socket.on("error", () => {});
    socket.on("close", () => resolve());
  });
  return { socket, closed };
}

Deno.test("a server refuses an expired, a not-yet-valid, a foreign and a missing client certificate, saying which", async () => {
  const d = await deployment();
  await using srv = await serve(material(d.ca, d.server, "localhost"));
  const expired = await d.player("old", NOW.getTime() - 10 * DAY, NOW.getTime() - DAY);
  const future = await d.player("new", NOW.getTime() + DAY, NOW.getTime() + 10 * DAY);
  const otherCa = await createCA({ name: "orch CA", days: 30, now: NOW });
  const foreign = await issueCertificate(otherCa, {
    name: "stranger",
    role: "player",
    sans: [],
    days: 1,
    now: NOW,
  });
  for (const leaf of [expired, future, foreign, null]) {
    await connectRaw(srv.port, d.ca, leaf).closed;
  }
  await until("four refusals", () => srv.refused.length === 4);
  assertEquals(srv.admitted.length, 0);
  const serial = await serialOf(expired.certPem);
  // Each reason is worked out on its own (some need the certificate's signature checked): any order.
  const expect = [
    new RegExp(
      `^the peer's certificate \\(CN old, serial ${serial}\\) has expired \\(valid until ${
        new Date(NOW.getTime() - DAY).toISOString()
      }\\)$`,
    ),
    /^the peer's certificate \(CN new, serial [0-9A-F]+\) is not yet valid \(valid from /,
    /^the peer's certificate \(CN stranger, .*\) is not issued by this deployment's CA$/,
    /^the peer presented no client certificate$/,
  ];
  for (const pattern of expect) {
    assertEquals(
      srv.refused.filter((r) => pattern.test(r)).length,
      1,
      `${pattern} in ${JSON.stringify(srv.refused)}`,
    );
  }
});

Deno.test("a revoked certificate is refused at the handshake, and a connected one is cut when the CRL is reloaded", async () => {
  const d = await deployment();
  const p1 = await d.player("p1");
  const p2 = await d.player("p2");
  await using dir = await tempDir();
  const crl = join(dir.path, "crl.pem");
  const write = async (serials: string[]) =>
    await Deno.writeTextFile(
      crl,
      await createCrl(d.ca, serials.map((serial) => ({ serial, revokedAt: NOW })), {
        now: NOW,
        nextUpdate: new Date(NOW.getTime() + DAY),
      }),
    );
  await write([await serialOf(p2.certPem)]);
  const log = memoryLog();
  const revocation = await Revocation.open(crl, d.ca.certPem, log);
  await using srv = await serve({
    ...material(d.ca, d.server, "localhost"),
    revocation,
  });

  await connectRaw(srv.port, d.ca, p2).closed;
  await until("p2 refused", () => srv.refused.length === 1);
  assertMatch(srv.refused[0], /^the peer's certificate \(CN p2, serial [0-9A-F]+\) is revoked/);

  const live = connectRaw(srv.port, d.ca, p1);
  await until("p1 admitted", () => srv.admitted.length === 1);

  // A CRL that does not verify leaves the old list in force: p1 stays connected.
  await Deno.writeTextFile(crl, "garbage\n");
  assertEquals(await revocation.reload(), false);
  assertMatch(
    log.lines.at(-1)!,
    /^ERROR CRL not reloaded; keeping the previous list crl=.*crl\.pem/,
  );
  assertEquals(revocation.revokedAt(await serialOf(p2.certPem)) !== null, true);
  assertEquals(srv.admitted[0].destroyed, false);

  await write([await serialOf(p2.certPem), await serialOf(p1.certPem)]);
  assertEquals(await revocation.reload(), true);
  await live.closed;
  assert(srv.admitted[0].destroyed, "p1's connection is closed");
  assert(
    log.lines.some((l) =>
      /^WARN closed a connection: the peer's certificate is revoked cn=p1 serial=/.test(l)
    ),
    log.lines.join("\n"),
  );
  revocation.close();
});

Deno.test("an older CRL, though signed by the CA, is not taken: it would take revocations back", async () => {
  const d = await deployment();
  const p1 = await d.player("p1");
  await using dir = await tempDir();
  const crl = join(dir.path, "crl.pem");
  const serial = await serialOf(p1.certPem);
  const write = async (serials: string[], now: Date) =>
    await Deno.writeTextFile(
      crl,
      await createCrl(d.ca, serials.map((s) => ({ serial: s, revokedAt: now })), {
        now,
        nextUpdate: new Date(now.getTime() + 2 * DAY),
      }),
    );
  await write([serial], NOW);
  const log = memoryLog();
  const revocation = await Revocation.open(crl, d.ca.certPem, log);
  await write([], new Date(NOW.getTime() - DAY));
  assertEquals(await revocation.reload(), false);
  assertMatch(log.lines.at(-1)!, /^ERROR CRL not reloaded: it is older than the one in force/);
  assert(revocation.revokedAt(serial) !== null, "p1 is still revoked");
  revocation.close();
});

Deno.test("a change of the CRL file is picked up without a signal, and close stops watching", async () => {
  const d = await deployment();
  const p1 = await d.player("p1");
  await using dir = await tempDir();
  const crl = join(dir.path, "crl.pem");
  const make = (serials: string[]) =>
    createCrl(d.ca, serials.map((serial) => ({ serial, revokedAt: NOW })), {
      now: NOW,
      nextUpdate: new Date(NOW.getTime() + DAY),
    });
  await Deno.writeTextFile(crl, await make([]));
  const revocation = await Revocation.open(crl, d.ca.certPem, memoryLog());
  revocation.watch();
  const serial = await serialOf(p1.certPem);
  assertEquals(revocation.revokedAt(serial), null);
  // Replaced the way operators do: written beside it, then renamed over it.
  await Deno.writeTextFile(join(dir.path, "crl.pem.new"), await make([serial]));
  await Deno.rename(join(dir.path, "crl.pem.new"), crl);
  await until("the new CRL is read", () => revocation.revokedAt(serial) !== null);
  revocation.close();
});

Deno.test("a client refuses a server whose certificate is revoked, expired or not yet valid, saying which", async () => {
  const d = await deployment();
  const p1 = await d.player("p1");
  await using dir = await tempDir();
  const crl = join(dir.path, "crl.pem");
  await Deno.writeTextFile(
    crl,
    await createCrl(d.ca, [{ serial: await serialOf(d.server.certPem), revokedAt: NOW }], {
      now: NOW,
      nextUpdate: new Date(NOW.getTime() + DAY),
    }),
  );
  const revocation = await Revocation.open(crl, d.ca.certPem, memoryLog());
  const client = material(d.ca, p1, "p1");
  const connect = (port: number, m: TlsMaterial) =>
    connectMutualTls({
      host: "127.0.0.1",
      port,
      expectName: "localhost",
      expectRole: "conductor",
      material: m,
      timeoutMs: 5000,
    });

  {
    await using srv = await serve(material(d.ca, d.server, "localhost"));
    await assertRejects(
      () => connect(srv.port, { ...client, revocation }),
      /cannot connect to 127\.0\.0\.1:\d+: the conductor's certificate \(CN localhost, serial [0-9A-F]+\) is revoked/,
    );
    // Without the CRL the same server is fine.
    (await connect(srv.port, client)).destroy();
  }
  for (
    const [from, to, says] of [
      [NOW.getTime() - 10 * DAY, NOW.getTime() - DAY, /has expired \(valid until /],
      [NOW.getTime() + DAY, NOW.getTime() + 10 * DAY, /is not yet valid \(valid from /],
    ] as const
  ) {
    const stale = await issueCertificate(d.ca, {
      name: "localhost",
      role: "conductor",
      sans: ["127.0.0.1"],
      days: 1,
      now: NOW,
      notBefore: new Date(from),
      notAfter: new Date(to),
    });
    await using srv = await serve(material(d.ca, stale, "localhost"));
    const err = await assertRejects(() => connect(srv.port, client));
    assertMatch(err.message, /the conductor's certificate \(CN localhost, serial [0-9A-F]+\) /);
    assertMatch(err.message, says);
  }
  revocation.close();
});
