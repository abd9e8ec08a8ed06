import { assert, assertEquals, assertRejects, assertThrows } from "../../_helpers/assert.ts";
import { join } from "node:path";
import { OrchError } from "../../../lib/errors.ts";
import {
  type CertifiedKey,
  checkSans,
  createCA,
  issueCertificate,
  type Role,
} from "../../../lib/tls/ca.ts";
import { loadTlsMaterial, type TlsPaths } from "../../../lib/tls/files.ts";

const DAY = 86_400_000;
/** Now, to the second: certificate times have no milliseconds. */
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes a CA certificate, a certificate and a key into `dir` (key mode `keyMode`). */
async function writeFiles(
  dir: string,
  ca: CertifiedKey,
  leaf: { certPem: string; keyPem: string },
  keyMode = 0o600,
): Promise<TlsPaths> {
  const paths = {
    ca: join(dir, "ca.crt"),
    cert: join(dir, "node.crt"),
    key: join(dir, "node.key"),
  };
  await Deno.writeTextFile(paths.ca, ca.certPem);
  await Deno.writeTextFile(paths.cert, leaf.certPem);
  await Deno.writeTextFile(paths.key, leaf.keyPem, { mode: keyMode });
  await Deno.chmod(paths.key, keyMode);
  return paths;
}

async function configError(fn: () => Promise<unknown>, message: string): Promise<OrchError> {
  const err = await assertRejects(fn);
  assert(err instanceof OrchError, `expected an OrchError, got ${err}`);
  assertEquals(err.code, "config");
  assertEquals(err.message, message);
  return err;
}

const ca = await createCA({ name: "orch test CA", days: 365, now: NOW });
const issue = (
  name: string,
  role: Role,
  extra: { sans?: string[]; days?: number; now?: Date } = {},
) =>
  issueCertificate(ca, {
    name,
    role,
    sans: extra.sans ?? [],
    days: extra.days ?? 30,
    now: extra.now ?? NOW,
  });

Deno.test("a certificate issued for a role loads for that role, with its names", async () => {
  const leaf = await issue("P1.example.com", "player", { sans: ["p1", "10.0.0.5", "::1"] });
  await withDir(async (dir) => {
    const paths = await writeFiles(dir, ca, leaf);
    const m = await loadTlsMaterial(paths, "player", NOW);
    assertEquals(m.name, "P1.example.com");
    assertEquals(m.names, ["p1.example.com", "p1", "10.0.0.5", "::1"]);
    assertEquals([m.ca, m.cert, m.key], [ca.certPem, leaf.certPem, leaf.keyPem]);
    assertEquals(m.notAfter.getTime(), NOW.getTime() + 30 * DAY);
  });
});

Deno.test("conductor and audience certificates load for their roles", async () => {
  for (const role of ["conductor", "audience"] as const) {
    const leaf = await issue(role === "audience" ? "alice@ops" : "conductor", role);
    await withDir(async (dir) => {
      const m = await loadTlsMaterial(await writeFiles(dir, ca, leaf), role, NOW);
      assertEquals(m.name, role === "audience" ? "alice@ops" : "conductor");
    });
  }
});

Deno.test("a certificate is not valid past its CA's end", async () => {
  const shortCa = await createCA({ name: "short", days: 2, now: NOW });
  const leaf = await issueCertificate(shortCa, {
    name: "p1",
    role: "player",
    sans: [],
    days: 30,
    now: NOW,
  });
  await withDir(async (dir) => {
    const m = await loadTlsMaterial(await writeFiles(dir, shortCa, leaf), "player", NOW);
    assertEquals(m.notAfter.getTime(), NOW.getTime() + 2 * DAY);
  });
});

Deno.test("a certificate for another role is refused", async () => {
  const leaf = await issue("p1", "player");
  await withDir(async (dir) => {
    const paths = await writeFiles(dir, ca, leaf);
    const err = await configError(
      () => loadTlsMaterial(paths, "conductor", NOW),
      `certificate ${paths.cert} is for a player, not a conductor`,
    );
    assertEquals(err.hint, "issue one with: orch ca issue NAME --role conductor");
  });
});

Deno.test("a key that does not belong to the certificate is refused", async () => {
  const leaf = await issue("p1", "player");
  const other = await issue("p2", "player");
  await withDir(async (dir) => {
    const paths = await writeFiles(dir, ca, { certPem: leaf.certPem, keyPem: other.keyPem });
    await configError(
      () => loadTlsMaterial(paths, "player", NOW),
      `key file ${paths.key} does not belong to certificate ${paths.cert}`,
    );
  });
});

Deno.test("a certificate from another CA is refused", async () => {
  const otherCa = await createCA({ name: "other CA", days: 365, now: NOW });
  const leaf = await issueCertificate(otherCa, {
    name: "p1",
    role: "player",
    sans: [],
    days: 30,
    now: NOW,
  });
  await withDir(async (dir) => {
    const paths = await writeFiles(dir, ca, leaf);
    const err = await configError(
      () => loadTlsMaterial(paths, "player", NOW),
      `certificate ${paths.cert} is not issued by the CA in ${paths.ca}`,
    );
    assertEquals(err.hint, "issue it with: orch ca issue NAME --role player");
  });
});

Deno.test("a key file others may read is refused", async () => {
  const leaf = await issue("p1", "player");
  for (const mode of [0o644, 0o640, 0o604]) {
    await withDir(async (dir) => {
      const paths = await writeFiles(dir, ca, leaf, mode);
      const err = await configError(
        () => loadTlsMaterial(paths, "player", NOW),
        `key file ${paths.key} is accessible by others (mode 0${mode.toString(8)})`,
      );
      assertEquals(err.hint, `chmod 600 ${paths.key}`);
    });
  }
});

Deno.test("a key file of mode 0400 is accepted", async () => {
  const leaf = await issue("p1", "player");
  await withDir(async (dir) => {
    const paths = await writeFiles(dir, ca, leaf, 0o400);
    assertEquals((await loadTlsMaterial(paths, "player", NOW)).name, "p1");
  });
});

Deno.test("an expired certificate is refused with its end date", async () => {
  const then = new Date(NOW.getTime() - 10 * DAY);
  const leaf = await issue("p1", "player", { now: then, days: 1 });
  await withDir(async (dir) => {
    const paths = await writeFiles(dir, ca, leaf);
    await configError(
      () => loadTlsMaterial(paths, "player", NOW),
      `certificate ${paths.cert} expired on ${new Date(then.getTime() + DAY).toISOString()}`,
    );
  });
});

Deno.test("a certificate not yet valid is refused with its start date", async () => {
  const later = new Date(NOW.getTime() + 10 * DAY);
  const leaf = await issue("p1", "player", { now: later, days: 1 });
  await withDir(async (dir) => {
    const paths = await writeFiles(dir, ca, leaf);
    await configError(
      () => loadTlsMaterial(paths, "player", NOW),
      `certificate ${paths.cert} is not valid before ${
        new Date(later.getTime() - 5 * 60_000).toISOString()
      }`,
    );
  });
});

Deno.test("missing and malformed files are named", async () => {
  const leaf = await issue("p1", "player");
  await withDir(async (dir) => {
    const paths = await writeFiles(dir, ca, leaf);
    await configError(
      () => loadTlsMaterial({ ...paths, ca: join(dir, "nope.crt") }, "player", NOW),
      `CA certificate ${join(dir, "nope.crt")} does not exist`,
    );
    await configError(
      () => loadTlsMaterial({ ...paths, cert: dir }, "player", NOW),
      `certificate ${dir} is a directory, not a file`,
    );
    await Deno.writeTextFile(paths.cert, "not a certificate");
    await configError(
      () => loadTlsMaterial(paths, "player", NOW),
      `certificate ${paths.cert} is not a PEM certificate`,
    );
    await Deno.writeTextFile(paths.cert, leaf.certPem);
    await Deno.writeTextFile(paths.key, "not a key");
    await configError(
      () => loadTlsMaterial(paths, "player", NOW),
      `key file ${paths.key} is not a PEM PKCS#8 ECDSA P-256 private key`,
    );
  });
});

Deno.test("a certificate name must be a host or user name", async () => {
  const err = await assertRejects(() => issue("bad name", "player"));
  assert(err instanceof OrchError);
  assertEquals([err.code, err.message], ["invalid", 'certificate name "bad name" is not valid']);
});

Deno.test("SANs must be IP addresses or host names", () => {
  checkSans(["p1.example.com", "10.0.0.1", "::1", "*.example.com"]);
  for (const bad of ["bad_name!", "a b", "1::2::3"]) {
    const err = assertThrows(() => checkSans(["ok", bad]));
    assert(err instanceof OrchError);
    assertEquals([err.code, err.message], [
      "invalid",
      `SAN ${JSON.stringify(bad)} is neither an IP address nor a host name`,
    ]);
  }
});
