import { assert, assertEquals, assertRejects } from "../../_helpers/assert.ts";
import { join } from "node:path";
import { createCA, issueCertificate, loadX509 } from "../../../lib/tls/ca.ts";
import { createCrl, loadCrl, normalizeSerial, parseCrl } from "../../../lib/tls/crl.ts";
import { withTempDir } from "../../_helpers/proc.ts";

const DAY = 86_400_000;
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);

async function serialOf(pem: string): Promise<string> {
  return normalizeSerial(new (await loadX509()).X509Certificate(pem).serialNumber);
}

Deno.test("a CRL made by the CA lists what it revoked, and nothing else", async () => {
  const ca = await createCA({ name: "test CA", days: 10, now: NOW });
  const a = await issueCertificate(ca, { name: "a", role: "player", sans: [], days: 5, now: NOW });
  const b = await issueCertificate(ca, { name: "b", role: "player", sans: [], days: 5, now: NOW });
  const revokedAt = new Date(NOW.getTime() - 60_000);
  const pem = await createCrl(ca, [{ serial: await serialOf(a.certPem), revokedAt }], {
    now: NOW,
    nextUpdate: new Date(NOW.getTime() + 30 * DAY),
  });
  assert(pem.startsWith("-----BEGIN X509 CRL-----"), "openssl reads the X509 CRL label");
  const list = await parseCrl(pem, ca.certPem, "crl.pem");
  assertEquals(list.revoked.get(await serialOf(a.certPem))?.getTime(), revokedAt.getTime());
  assertEquals(list.revoked.has(await serialOf(b.certPem)), false);
  assertEquals(list.nextUpdate?.getTime(), NOW.getTime() + 30 * DAY);
});

Deno.test("a CRL signed by another CA is refused, naming the file", async () => {
  const ca = await createCA({ name: "orch CA", days: 10, now: NOW });
  // Same name, other key: only the signature tells them apart.
  const other = await createCA({ name: "orch CA", days: 10, now: NOW });
  const pem = await createCrl(other, [], { now: NOW, nextUpdate: new Date(NOW.getTime() + DAY) });
  await assertRejects(
    () => parseCrl(pem, ca.certPem, "/etc/orchestra/crl.pem"),
    /CRL \/etc\/orchestra\/crl\.pem is not signed by the deployment CA/,
  );
});

Deno.test("an unreadable, missing or tampered CRL is refused, naming the file", async () => {
  const ca = await createCA({ name: "test CA", days: 10, now: NOW });
  await withTempDir(async (dir) => {
    const path = join(dir, "crl.pem");
    await assertRejects(() => loadCrl(path, ca.certPem), /CRL .*crl\.pem does not exist/);
    await Deno.writeTextFile(path, "not a crl\n");
    await assertRejects(
      () => loadCrl(path, ca.certPem),
      /CRL .*crl\.pem is not a PEM certificate revocation list/,
    );
    const good = await createCrl(ca, [{ serial: "01", revokedAt: NOW }], {
      now: NOW,
      nextUpdate: new Date(NOW.getTime() + DAY),
    });
    const x509 = await loadX509();
    const der = new Uint8Array(x509.PemConverter.decodeFirst(good));
    // Change the revoked serial inside the signed part: the signature no longer matches.
    const at = der.findIndex((v, i) => v === 0x02 && der[i + 1] === 0x01 && der[i + 2] === 0x01);
    assert(at > 0, "the serial 01 is in the CRL");
    der[at + 2] = 0x02;
    await Deno.writeTextFile(path, x509.PemConverter.encode(der.buffer, "X509 CRL"));
    await assertRejects(() => loadCrl(path, ca.certPem), /is not signed by the deployment CA/);
  });
});

Deno.test("serials are compared in one spelling", () => {
  assertEquals(normalizeSerial("0a:bc:DE"), "ABCDE");
  assertEquals(normalizeSerial("000F"), "F");
  assertEquals(normalizeSerial("0"), "0");
});
