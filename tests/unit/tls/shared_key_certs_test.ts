import { assert, assertEquals, assertRejects } from "../../_helpers/assert.ts";
import { join } from "node:path";
import { OrchError } from "../../../lib/errors.ts";
import { createCA, loadX509 } from "../../../lib/tls/ca.ts";
import { loadTlsMaterial } from "../../../lib/tls/files.ts";
import { issueSharedKeyCertificates } from "../../../lib/tls/shared_key_certs.ts";

const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const ca = await createCA({ name: "orch test CA", days: 30, now: NOW });

Deno.test("certificates sharing one key each hold their own name and serial, signed by the CA", async () => {
  // Two name lengths: each gets its own template.
  const names = [
    ...Array.from({ length: 20 }, (_, i) => `bench-${String(i + 1).padStart(5, "0")}`),
    "node-a",
    "node-b",
  ];
  const made = await issueSharedKeyCertificates(ca, { names, role: "player", days: 7, now: NOW });
  assertEquals(made.certPems.length, names.length);
  const x509 = await loadX509();
  const caCert = new x509.X509Certificate(ca.certPem);
  const serials = new Set<string>();
  for (const [i, pem] of made.certPems.entries()) {
    const cert = new x509.X509Certificate(pem);
    assertEquals(cert.subjectName.getField("CN"), [names[i]]);
    assertEquals(cert.subjectName.getField("OU"), ["player"]);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    assertEquals(san?.names.items.map((n) => n.value), [names[i]]);
    assert(
      await cert.verify({ publicKey: caCert.publicKey, signatureOnly: true }),
      `${names[i]}: the CA's signature does not verify`,
    );
    serials.add(cert.serialNumber);
    assertMinimalSignature(new Uint8Array(cert.rawData), names[i]);
  }
  assertEquals(serials.size, names.length, "serial numbers repeat");

  // What a node checks before it uses them: issuer, role, dates, and that the shared key fits.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "ca.crt"), ca.certPem);
    await Deno.writeTextFile(join(dir, "p.key"), made.keyPem, { mode: 0o600 });
    for (const [i, pem] of made.certPems.entries()) {
      await Deno.writeTextFile(join(dir, "p.crt"), pem);
      const m = await loadTlsMaterial(
        { ca: join(dir, "ca.crt"), cert: join(dir, "p.crt"), key: join(dir, "p.key") },
        "player",
        NOW,
      );
      assertEquals(m.names, [names[i]]);
      assertEquals(m.notAfter.getTime(), NOW.getTime() + 7 * 86_400_000);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("certificates sharing one key are refused for names that are not lower-case host names", async () => {
  for (const name of ["Bench-1", "bench 1", "", "alice@example"]) {
    const e = await assertRejects(() =>
      issueSharedKeyCertificates(ca, { names: ["ok-1", name], role: "player", days: 1, now: NOW })
    );
    assert(e instanceof OrchError && e.code === "invalid", String(e));
    assert(e.message.includes(JSON.stringify(name)), e.message);
  }
});

/**
 * Fails unless the certificate's ECDSA signature is strict DER: two positive
 * INTEGERs without needless leading zero bytes (what TLS peers insist on).
 */
function assertMinimalSignature(der: Uint8Array, name: string): void {
  const tlv = (at: number) => {
    let len = der[at + 1];
    let start = at + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[start++];
    }
    return { tag: der[at], start, end: start + len };
  };
  const cert = tlv(0);
  const tbs = tlv(cert.start);
  const alg = tlv(tbs.end);
  const bits = tlv(alg.end);
  assertEquals([bits.tag, der[bits.start]], [0x03, 0], `${name}: signature BIT STRING`);
  const seq = tlv(bits.start + 1);
  assertEquals(seq.tag, 0x30, `${name}: signature SEQUENCE`);
  let at = seq.start;
  for (const part of ["r", "s"]) {
    const int = tlv(at);
    assertEquals(int.tag, 0x02, `${name}: ${part} is not an INTEGER`);
    assert((der[int.start] & 0x80) === 0, `${name}: ${part} is negative`);
    assert(
      int.end - int.start === 1 || der[int.start] !== 0 || (der[int.start + 1] & 0x80) !== 0,
      `${name}: ${part} has a needless leading zero`,
    );
    at = int.end;
  }
  assertEquals(at, seq.end, `${name}: signature SEQUENCE holds more than r and s`);
}
