import { assertEquals, assertMatch } from "../../_helpers/assert.ts";
import { tlsError, tlsProblem } from "../../../lib/client/_tls_words.ts";

/** The runtime's error for `message` (Deno 2.9.6 reports rustls failures as InvalidData). */
const invalid = (message: string) => new Deno.errors.InvalidData(message);

Deno.test("the runtime's TLS errors are read: a name mismatch with the names the certificate holds", () => {
  assertEquals(
    tlsProblem(invalid(
      'invalid peer certificate: certificate not valid for name "conductor.example.com"; certificate is only valid for DnsName("conductor"), DnsName("localhost") or IpAddress(127.0.0.1)',
    )),
    {
      kind: "name",
      expected: "conductor.example.com",
      names: ["conductor", "localhost", "127.0.0.1"],
    },
  );
  // Older wording, without the names: they are looked up on the error path.
  assertEquals(tlsProblem(invalid("invalid peer certificate: NotValidForName")), {
    kind: "name",
    expected: "",
    names: null,
  });
});

Deno.test("the runtime's TLS errors are read: unknown CA, expiry, purpose, alerts; other errors are not TLS problems", () => {
  const kinds = [
    ["invalid peer certificate: UnknownIssuer", "unknown_ca"],
    ["invalid peer certificate: BadSignature", "unknown_ca"],
    ["invalid peer certificate: Expired", "expired"],
    [
      "invalid peer certificate: certificate expired: verification time 1 (UNIX), but certificate is not valid after 0 (1 seconds ago)",
      "expired",
    ],
    ["invalid peer certificate: NotValidYet", "not_yet_valid"],
    [
      "invalid peer certificate: certificate does not allow extended key usage for server authentication, allows client authentication",
      "not_conductor",
    ],
    ["received fatal alert: CertificateRequired", "refused"],
  ];
  for (const [message, kind] of kinds) {
    assertEquals(tlsProblem(invalid(message))?.kind, kind, message);
  }
  assertEquals(
    tlsProblem(new Deno.errors.ConnectionRefused("Connection refused (os error 111)")),
    null,
  );
  assertEquals(tlsProblem("not an error"), null);
});

Deno.test("a name mismatch is told as the names held, the name wanted and where it came from, with the fixes", () => {
  const problem = {
    kind: "name" as const,
    expected: "10.0.0.5",
    names: ["orch1", "orch1.example"],
  };
  const dialled = tlsError(problem, {
    where: "https://10.0.0.5:2259",
    host: "10.0.0.5",
    expectName: "10.0.0.5",
  });
  assertEquals(dialled.code, "forbidden");
  assertEquals(
    dialled.message,
    "the conductor at https://10.0.0.5:2259 shows a certificate for orch1, orch1.example, not for 10.0.0.5, the name dialled",
  );
  assertMatch(
    dialled.hint!,
    /--conductor-name orch1 \(env ORCH_CONDUCTOR_NAME, or conductor_name in the client config\)/,
  );
  assertMatch(dialled.hint!, /orch ca issue NAME --role conductor --san 10\.0\.0\.5$/);
  const asked = tlsError(problem, {
    where: "https://10.0.0.5:2259",
    host: "10.0.0.5",
    expectName: "orch2",
  });
  assertMatch(asked.message, /not for orch2, the name asked for \(--conductor-name\)$/);
  const fromFile = tlsError(problem, {
    where: "https://10.0.0.5:2259",
    host: "10.0.0.5",
    expectName: "orch2",
    nameFrom: "/etc/orchestra/client.yaml:2",
  });
  assertMatch(fromFile.message, /the name asked for \(\/etc\/orchestra\/client\.yaml:2\)$/);
});
