/**
 * `orch ca init DIR`, `orch ca issue NAME --role ROLE`, `orch ca revoke
 * NAME|SERIAL` and `orch ca list`: the deployment CA, the certificates its
 * conductor, players and audience need, what it issued, and the CRL of what
 * it revoked.
 *
 * @module
 */

import { command } from "../lib/cli/spec.ts";
import { join } from "node:path";
import { OrchError } from "../lib/errors.ts";
import {
  CERT_NAME,
  certificateState,
  checkSans,
  createCA,
  createCrl,
  CRL_FILE,
  indexPath,
  issueCertificate,
  type IssuedCertificate,
  loadX509,
  normalizeSerial,
  parseCertificate,
  readIndex,
  readTextFile,
  recordIssued,
  recordRevoked,
  type Role,
  ROLES,
} from "../lib/tls/mod.ts";
import { out, printJson } from "./_common.ts";
import { summaryOf } from "./_commands.ts";
import { safe, table } from "./_format.ts";

const DAY = 86_400_000;

function days(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1) {
    throw new OrchError(
      "usage",
      `--days ${JSON.stringify(text)} is not a number of days (1..99999)`,
    );
  }
  return Number(text);
}

/** Refuses when any of `paths` exists, unless `force`; checked before anything is written. */
async function ensureAbsent(paths: string[], force: boolean): Promise<void> {
  if (force) return;
  for (const path of paths) {
    const exists = await Deno.lstat(path).then(() => true, () => false);
    if (exists) {
      throw new OrchError("usage", `${path} exists already; not replacing it`, {
        hint: "remove it first, or pass --force",
      });
    }
  }
}

/** Writes `text` to `path` with `mode`. */
async function write(path: string, text: string, mode: number): Promise<void> {
  try {
    await Deno.remove(path).catch(() => {});
    await Deno.writeTextFile(path, text, { mode, createNew: true });
    await Deno.chmod(path, mode);
  } catch (err) {
    throw new OrchError("usage", `cannot write ${path}: ${(err as Error).message}`);
  }
}

/** The role `--role` names; it must be given. */
function roleFlag(text: string | undefined): Role {
  if (text === undefined) {
    throw new OrchError("usage", `--role is needed: what the holder is (${ROLES.join(", ")})`);
  }
  if (!(ROLES as readonly string[]).includes(text)) {
    throw new OrchError(
      "usage",
      `--role ${JSON.stringify(text)} is not a role; the roles are ${ROLES.join(", ")}`,
    );
  }
  return text as Role;
}

const CA_DIR_OPTION = {
  long: "ca-dir",
  value: "dir",
  help: "folder holding ca.crt, ca.key and the record of what was issued",
  default: ".",
  complete: "dir",
} as const;

const initCommand = command({
  name: "init",
  summary: "make a new CA in DIR: ca.crt and ca.key (mode 0600)",
  description:
    "Refuses to replace an existing CA unless --force is given: every certificate the old one " +
    "issued would stop working.",
  args: [{
    name: "dir",
    help: "folder for the CA (made when absent)",
    required: true,
    complete: "dir",
  }],
  options: [
    { long: "name", value: "name", help: "the CA's common name", default: "orch CA" },
    { long: "days", value: "n", help: "validity in days", default: "3650" },
    { long: "force", help: "replace an existing CA (every certificate it issued stops working)" },
  ],
  examples: [
    {
      says: "Make the deployment's CA in ./ca",
      cmd: "orch ca init ./ca",
    },
    {
      says: "A CA for a test deployment, named and valid for a year",
      cmd: "orch ca init ./ca --name 'test CA' --days 365",
    },
  ],
  async run(input) {
    const [dir] = input.args;
    const validity = days(input.str("days")!);
    await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
    const [key, cert] = [join(dir, "ca.key"), join(dir, "ca.crt")];
    const [index, crl] = [indexPath(dir), join(dir, CRL_FILE)];
    await ensureAbsent([key, cert, index, crl], input.flag("force"));
    const made = await createCA({ name: input.str("name")!, days: validity, now: new Date() });
    // What the old CA issued and revoked means nothing to the new one.
    for (const old of [index, crl]) await Deno.remove(old).catch(() => {});
    await write(key, made.keyPem, 0o600);
    await write(cert, made.certPem, 0o644);
    out(`wrote ${join(dir, "ca.crt")} and ${join(dir, "ca.key")} (valid ${validity} days)`);
  },
});

const issueCommand = command({
  name: "issue",
  summary: "issue a certificate and key for a conductor, a player or an audience member",
  description:
    "Writes NAME.crt and NAME.key (mode 0600) and records the certificate in the CA folder, so " +
    "that orch ca list shows it and orch ca revoke can revoke it by name.",
  args: [
    {
      name: "name",
      help: "the holder's name: a player's host name, the conductor's, or a user's",
      required: true,
      complete: "host",
    },
  ],
  options: [
    {
      long: "role",
      value: "role",
      help: `what the holder is: ${ROLES.join(", ")}; needed`,
      complete: ROLES,
    },
    {
      long: "san",
      value: "name",
      help: "another host name or IP address the holder is reached by",
      repeat: true,
      complete: "host",
    },
    { ...CA_DIR_OPTION, help: "folder holding ca.crt and ca.key" },
    {
      long: "out",
      value: "dir",
      help: "folder for NAME.crt and NAME.key",
      shows: "the CA folder",
      complete: "dir",
    },
    { long: "days", value: "n", help: "validity in days", default: "825" },
    { long: "force", help: "replace existing files" },
  ],
  examples: [
    {
      says: "A certificate for the conductor, also reached by its address",
      cmd: "orch ca issue conductor.example.net --role conductor --san 10.0.0.5 --ca-dir ./ca",
    },
    {
      says: "A certificate for the player web1, written to a folder of its own",
      cmd: "orch ca issue web1.example.net --role player --ca-dir ./ca --out ./web1",
    },
    {
      says: "A certificate for the user alice, to use the API over HTTPS",
      cmd: "orch ca issue alice --role audience --ca-dir ./ca",
    },
  ],
  async run(input) {
    const [name] = input.args;
    const validity = days(input.str("days")!);
    const role = roleFlag(input.str("role"));
    if (!CERT_NAME.test(name)) {
      throw new OrchError("usage", `certificate name ${JSON.stringify(name)} is not valid`, {
        hint:
          "use a host name (letters, digits, '-', '.'), or for the audience a user name ('@' allowed)",
      });
    }
    const sans = input.list("san");
    checkSans(sans);
    const caDir = input.str("ca-dir")!;
    const dir = input.str("out") ?? caDir;
    const [key, cert] = [join(dir, `${name}.key`), join(dir, `${name}.crt`)];
    await ensureAbsent([key, cert], input.flag("force"));
    const caCertPath = join(caDir, "ca.crt");
    const caKeyPath = join(caDir, "ca.key");
    const caCert = await readTextFile(caCertPath, "CA certificate");
    const caKey = await readTextFile(caKeyPath, "CA key");
    await parseCertificate(caCert, "CA certificate", caCertPath);
    const made = await issueCertificate({ certPem: caCert, keyPem: caKey }, {
      name,
      role,
      sans,
      days: validity,
      now: new Date(),
    });
    // Recorded before the files are written: a certificate that exists is always in the index.
    const x509 = await loadX509();
    const issued = new x509.X509Certificate(made.certPem);
    await recordIssued(caDir, {
      serial: issued.serialNumber,
      cn: name,
      role,
      sans,
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      issuedAt: new Date(),
    });
    await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
    await write(key, made.keyPem, 0o600);
    await write(cert, made.certPem, 0o644);
    out(`wrote ${cert} and ${key} (${role}, valid ${validity} days)`);
  },
});

const CRL_DAYS_OPTION = {
  long: "days",
  value: "n",
  help: "the CRL's validity in days (its next update)",
  default: "365",
} as const;

const revokeCommand = command({
  name: "revoke",
  summary:
    `revoke certificates by holder name (every one not yet revoked) or by serial, and write ${CRL_FILE}`,
  description:
    `Then copy ${CRL_FILE} to where the conductor and the players read it (their crl key); they ` +
    "reload it when it changes.",
  args: [
    {
      name: "name-or-serial",
      help: "a holder's name, or a certificate's serial number (hex)",
    },
  ],
  options: [
    {
      long: "cert",
      value: "file",
      help: "revoke this certificate file instead (one this CA issued before it kept a record)",
      complete: "file",
    },
    CA_DIR_OPTION,
    CRL_DAYS_OPTION,
  ],
  examples: [
    {
      says: "Revoke every certificate of the player web3",
      cmd: "orch ca revoke web3.example.net --ca-dir ./ca",
    },
    {
      says: "Revoke one certificate by its serial",
      cmd: "orch ca revoke 5F3A9C01D2 --ca-dir ./ca",
    },
    {
      says: "Revoke a certificate file issued before the CA kept a record",
      cmd: "orch ca revoke --cert ./old/web3.crt --ca-dir ./ca",
    },
  ],
  async run(input) {
    const given = input.args[0] as string | undefined;
    const certFile = input.str("cert");
    const caDir = input.str("ca-dir")!;
    const validity = days(input.str("days")!);
    if ((given === undefined) === (certFile === undefined)) {
      throw new OrchError(
        "usage",
        "name a certificate: a holder's name or serial, or --cert FILE",
      );
    }
    // The CA must be able to sign the CRL before anything is recorded as revoked.
    const caCertPath = join(caDir, "ca.crt");
    const caCert = await readTextFile(caCertPath, "CA certificate");
    await readTextFile(join(caDir, "ca.key"), "CA key");
    const caX509 = await parseCertificate(caCert, "CA certificate", caCertPath);
    const which = given ?? await recordFromFile(caDir, certFile!, caX509);
    const all = await readIndex(caDir);
    const targets = pick(all, which);
    if (targets.length === 0) {
      throw new OrchError(
        "usage",
        `no certificate named or with serial ${JSON.stringify(which)} in ${indexPath(caDir)}`,
        { hint: "orch ca list shows what this CA issued" },
      );
    }
    const fresh = targets.filter((c) => c.revokedAt === null);
    const now = new Date();
    for (const c of fresh) await recordRevoked(caDir, c.serial, now);
    for (const c of fresh) c.revokedAt = now;
    const { path: crlPath, count } = await writeCrl(caDir, all, validity, now);
    const already = targets.length - fresh.length;
    if (fresh.length > 0) {
      out(
        `revoked ${fresh.length} certificate${fresh.length === 1 ? "" : "s"}: ${
          fresh.map((c) => `${safe(c.cn)} (serial ${c.serial})`).join(", ")
        }`,
      );
    }
    if (already > 0) out(`${already} already revoked`);
    out(
      `wrote ${crlPath} (${count} revoked, next update in ${validity} days); ` +
        "copy it to where the conductor and the players read it (their crl key)",
    );
  },
});

const crlCommand = command({
  name: "crl",
  summary:
    `write ${CRL_FILE} again from what was revoked: a first, empty one, or a fresh one before its next update`,
  options: [CA_DIR_OPTION, CRL_DAYS_OPTION],
  examples: [
    {
      says: "Write a fresh CRL before the old one's next update (from cron, say)",
      cmd: "orch ca crl --ca-dir ./ca",
    },
    { says: "A first, empty CRL valid for 30 days", cmd: "orch ca crl --ca-dir ./ca --days 30" },
  ],
  async run(input) {
    const caDir = input.str("ca-dir")!;
    const validity = days(input.str("days")!);
    const all = await readIndex(caDir);
    const { path, count } = await writeCrl(caDir, all, validity, new Date());
    out(`wrote ${path} (${count} revoked, next update in ${validity} days)`);
  },
});

const listCommand = command({
  name: "list",
  summary: "list the certificates this CA issued, with their state",
  description:
    "One line each: holder, role, serial, last day of validity, and state (valid, expired, " +
    "revoked with when).",
  options: [
    { ...CA_DIR_OPTION, help: "folder holding the record of what was issued" },
    { long: "json", help: 'print one JSON object, {"certificates": [...]}, for scripts' },
  ],
  examples: [
    {
      says: "What the CA in ./ca issued",
      cmd: "orch ca list --ca-dir ./ca",
    },
    {
      says: "The names of the revoked certificates, for a script",
      cmd:
        "orch ca list --ca-dir ./ca --json | jq -r '.certificates[] | select(.state == \"revoked\") | .name'",
    },
  ],
  async run(input) {
    const all = await readIndex(input.str("ca-dir")!);
    const now = new Date();
    if (input.flag("json")) {
      printJson({
        certificates: all.map((c) => ({
          serial: c.serial,
          name: c.cn,
          role: c.role,
          sans: c.sans,
          not_before: c.notBefore.toISOString(),
          not_after: c.notAfter.toISOString(),
          issued_at: c.issuedAt.toISOString(),
          state: certificateState(c, now),
          revoked_at: c.revokedAt?.toISOString() ?? null,
        })),
      });
      return;
    }
    const rows = all.map((c) => {
      const state = certificateState(c, now);
      return [
        safe(c.cn),
        c.role,
        safe(c.serial),
        day(c.notAfter),
        state === "revoked" ? `revoked ${c.revokedAt!.toISOString()}` : state,
      ];
    });
    for (const line of table(["NAME", "ROLE", "SERIAL", "NOT AFTER", "STATE"], rows)) {
      out(line);
    }
  },
});

/** `orch ca`. */
export const caCommand = command({
  name: "ca",
  summary: summaryOf("ca"),
  description:
    "Run on a safe machine: ca.key never leaves it. The CA folder holds ca.crt, ca.key, " +
    "the record of what it issued " +
    `and ${CRL_FILE}. Every node needs ca.crt and a certificate of its role.`,
  commands: [initCommand, issueCommand, revokeCommand, crlCommand, listCommand],
  examples: [
    { says: "Make a CA", cmd: "orch ca init ./ca" },
    {
      says: "Issue the certificate of the player web1",
      cmd: "orch ca issue web1.example.net --role player --ca-dir ./ca",
    },
    { says: "Revoke it", cmd: "orch ca revoke web1.example.net --ca-dir ./ca" },
  ],
});

/** Signs and writes the CA folder's CRL listing every revoked certificate of `all`. */
async function writeCrl(
  dir: string,
  all: IssuedCertificate[],
  validity: number,
  now: Date,
): Promise<{ path: string; count: number }> {
  const caCertPath = join(dir, "ca.crt");
  const caCert = await readTextFile(caCertPath, "CA certificate");
  const caKey = await readTextFile(join(dir, "ca.key"), "CA key");
  await parseCertificate(caCert, "CA certificate", caCertPath);
  const revoked = all.filter((c) => c.revokedAt !== null);
  const crl = await createCrl(
    { certPem: caCert, keyPem: caKey },
    revoked.map((c) => ({ serial: c.serial, revokedAt: c.revokedAt! })),
    { now, nextUpdate: new Date(now.getTime() + validity * DAY) },
  );
  const path = join(dir, CRL_FILE);
  // Written beside and renamed over: a node watching the file never reads half of it.
  const tmp = `${path}.tmp`;
  await write(tmp, crl, 0o644);
  try {
    await Deno.rename(tmp, path);
  } catch (err) {
    throw new OrchError("usage", `cannot write ${path}: ${(err as Error).message}`);
  }
  return { path, count: revoked.length };
}

/** The certificates `which` names: the one with that serial, or all with that name. */
/**
 * Reads a certificate file, checks this CA signed it, and records it as
 * issued when the index does not know it (it was issued before the CA kept
 * one); returns its serial.
 */
async function recordFromFile(
  dir: string,
  path: string,
  ca: Awaited<ReturnType<typeof parseCertificate>>,
): Promise<string> {
  const cert = await parseCertificate(await readTextFile(path, "certificate"), "certificate", path);
  if (!(await cert.verify({ publicKey: await ca.publicKey.export(), signatureOnly: true }))) {
    throw new OrchError("usage", `certificate ${path} was not issued by the CA in ${dir}`);
  }
  const serial = normalizeSerial(cert.serialNumber);
  if (!(await readIndex(dir)).some((c) => c.serial === serial)) {
    const cn = /(?:^|,\s*)CN=([^,]+)/.exec(cert.subject)?.[1] ?? "";
    const ou = /(?:^|,\s*)OU=([^,]+)/.exec(cert.subject)?.[1] ?? "";
    if (!(ROLES as readonly string[]).includes(ou)) {
      throw new OrchError("usage", `certificate ${path} holds no orch role (its OU)`);
    }
    await recordIssued(dir, {
      serial,
      cn,
      role: ou as Role,
      sans: [],
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      issuedAt: cert.notBefore,
    });
  }
  return serial;
}

function pick(all: IssuedCertificate[], which: string): IssuedCertificate[] {
  if (/^[0-9A-Fa-f:]{1,100}$/.test(which)) {
    const serial = normalizeSerial(which);
    const bySerial = all.filter((c) => c.serial === serial);
    if (bySerial.length > 0) return bySerial;
  }
  const name = which.toLowerCase();
  return all.filter((c) => c.cn.toLowerCase() === name);
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}
