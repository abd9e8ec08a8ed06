import type { PeerCertificate } from "node:tls";
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { checkServerCertificate, describeCertificate } from "../../../lib/tls/mod.ts";

/** The parts of a peer certificate that the check reads, as node:tls shows them. */
function cert(cn: string, ou: string, san: string): PeerCertificate {
  return {
    subject: { CN: cn, OU: ou },
    subjectaltname: san,
    serialNumber: "7D3C",
  } as unknown as PeerCertificate;
}

Deno.test("a certificate that holds the name checked, for the role expected, passes", () => {
  const c = cert("hub", "conductor", "DNS:hub, DNS:localhost, IP Address:127.0.0.1");
  for (const name of ["hub", "localhost", "127.0.0.1", "HUB"]) {
    assertEquals(checkServerCertificate(name, "conductor", c), undefined, name);
  }
});

Deno.test("a name mismatch names the name checked, the names held, and both fixes", () => {
  const err = checkServerCertificate(
    "127.0.0.1",
    "conductor",
    cert("hub", "conductor", "DNS:hub, DNS:hub.example"),
  );
  assert(err);
  assertEquals(err.code, "ERR_TLS_CERT_ALTNAME_INVALID");
  assertEquals(
    err.message,
    "the conductor's certificate (CN hub, serial 7D3C) holds the names hub, hub.example, not 127.0.0.1, the name checked",
  );
  assertEquals(
    err.hint,
    "dial the conductor by a name its certificate holds, or set the name to check with " +
      "--conductor-name NAME (the conductor_name key); or issue the conductor a certificate " +
      "that holds 127.0.0.1 too (orch ca issue hub --role conductor --san hub.example " +
      "--san 127.0.0.1 --force) and restart it",
  );
});

Deno.test("a certificate for another role is refused, naming it", () => {
  const err = checkServerCertificate("p1", "conductor", cert("p1", "player", "DNS:p1"));
  assert(err);
  assertEquals(
    err.message,
    "the server's certificate (CN p1, serial 7D3C) is for player, not a conductor",
  );
});

Deno.test("names a certificate holds are shown escaped: no control or bidirectional character gets through", () => {
  const err = checkServerCertificate(
    "127.0.0.1",
    "conductor",
    cert("a\u202eb", "conductor", "DNS:x\u001b[2Jy"),
  );
  assert(err);
  assert(!/[^\x20-\x7e]/.test(err.message), err.message);
  assert(!/[^\x20-\x7e]/.test(err.hint), err.hint);
  assertEquals(
    err.message,
    'the conductor\'s certificate (CN "a\\u202eb", serial 7D3C) holds the names "a\\u202eb", "x\\u001b[2jy", not 127.0.0.1, the name checked',
  );
  assertEquals(describeCertificate("ok.name", "ab"), "CN ok.name, serial AB");
});
