/**
 * `orch ca init DIR`, `orch ca issue NAME --role ROLE`, `orch ca revoke
 * NAME|SERIAL` and `orch ca list`: the deployment CA, the certificates its
 * conductor, players and audience need, what it issued, and the CRL of what
 * it revoked.
 *
 * @module
 */

import { Command, type CommandUnknownOpts, Option } from "@commander-js/extra-typings";
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
import { out } from "./_common.ts";
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

/** `orch ca`. */
export function caCommand(): CommandUnknownOpts {
  const ca = new Command("ca").description("make the deployment CA and the certificates it issues");

  ca.command("init")
    .description("make a new CA in DIR: ca.crt and ca.key (mode 0600)")
    .argument("<dir>", "folder for the CA (made when absent)")
    .option("--name <name>", "the CA's common name", "orch CA")
    .option("--days <n>", "validity in days", "3650")
    .option("--force", "replace an existing CA (every certificate it issued stops working)")
    .action(async (dir, opts) => {
      const validity = days(opts.days);
      await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
      const [key, cert] = [join(dir, "ca.key"), join(dir, "ca.crt")];
      const [index, crl] = [indexPath(dir), join(dir, CRL_FILE)];
      await ensureAbsent([key, cert, index, crl], !!opts.force);
      const made = await createCA({ name: opts.name, days: validity, now: new Date() });
      // What the old CA issued and revoked means nothing to the new one.
      for (const old of [index, crl]) await Deno.remove(old).catch(() => {});
      await write(key, made.keyPem, 0o600);
      await write(cert, made.certPem, 0o644);
      out(`wrote ${join(dir, "ca.crt")} and ${join(dir, "ca.key")} (valid ${validity} days)`);
    });

  ca.command("issue")
    .description("issue a certificate and key for a conductor, a player or an audience member")
    .argument("<name>", "the holder's name: a player's host name, the conductor's, or a user's")
    .addOption(
      new Option("--role <role>", "what the holder is").choices(ROLES).makeOptionMandatory(),
    )
    .option(
      "--san <name>",
      "another host name or IP address the holder is reached by (repeatable)",
      collect,
      [],
    )
    .option("--ca-dir <dir>", "folder holding ca.crt and ca.key", ".")
    .option("--out <dir>", "folder for NAME.crt and NAME.key (default: the CA folder)")
    .option("--days <n>", "validity in days", "825")
    .option("--force", "replace existing files")
    .action(async (name, opts) => {
      const validity = days(opts.days);
      if (!CERT_NAME.test(name)) {
        throw new OrchError("usage", `certificate name ${JSON.stringify(name)} is not valid`, {
          hint:
            "use a host name (letters, digits, '-', '.'), or for the audience a user name ('@' allowed)",
        });
      }
      checkSans(opts.san);
      const dir = opts.out ?? opts.caDir;
      const [key, cert] = [join(dir, `${name}.key`), join(dir, `${name}.crt`)];
      await ensureAbsent([key, cert], !!opts.force);
      const caCertPath = join(opts.caDir, "ca.crt");
      const caKeyPath = join(opts.caDir, "ca.key");
      const caCert = await readTextFile(caCertPath, "CA certificate");
      const caKey = await readTextFile(caKeyPath, "CA key");
      await parseCertificate(caCert, "CA certificate", caCertPath);
      const made = await issueCertificate({ certPem: caCert, keyPem: caKey }, {
        name,
        role: opts.role as Role,
        sans: opts.san,
        days: validity,
        now: new Date(),
      });
      // Recorded before the files are written: a certificate that exists is always in the index.
      const x509 = await loadX509();
      const issued = new x509.X509Certificate(made.certPem);
      await recordIssued(opts.caDir, {
        serial: issued.serialNumber,
        cn: name,
        role: opts.role as Role,
        sans: opts.san,
        notBefore: issued.notBefore,
        notAfter: issued.notAfter,
        issuedAt: new Date(),
      });
      await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
      await write(key, made.keyPem, 0o600);
      await write(cert, made.certPem, 0o644);
      out(`wrote ${cert} and ${key} (${opts.role}, valid ${validity} days)`);
    });

  ca.command("revoke")
    .description(
      `revoke certificates by holder name (every one not yet revoked) or by serial, and write ${CRL_FILE}`,
    )
    .argument("[name-or-serial]", "a holder's name, or a certificate's serial number (hex)")
    .option(
      "--cert <file>",
      "revoke this certificate file instead (one this CA issued before it kept a record)",
    )
    .option(
      "--ca-dir <dir>",
      "folder holding ca.crt, ca.key and the record of what was issued",
      ".",
    )
    .option("--days <n>", "the CRL's validity in days (its next update)", "365")
    .action(async (given, opts) => {
      const validity = days(opts.days);
      if ((given === undefined) === (opts.cert === undefined)) {
        throw new OrchError(
          "usage",
          "name a certificate: a holder's name or serial, or --cert FILE",
        );
      }
      // The CA must be able to sign the CRL before anything is recorded as revoked.
      const caCertPath = join(opts.caDir, "ca.crt");
      const caCert = await readTextFile(caCertPath, "CA certificate");
      await readTextFile(join(opts.caDir, "ca.key"), "CA key");
      const caX509 = await parseCertificate(caCert, "CA certificate", caCertPath);
      const which = given ?? await recordFromFile(opts.caDir, opts.cert!, caX509);
      const all = await readIndex(opts.caDir);
      const targets = pick(all, which);
      if (targets.length === 0) {
        throw new OrchError(
          "usage",
          `no certificate named or with serial ${JSON.stringify(which)} in ${
            indexPath(opts.caDir)
          }`,
          { hint: "orch ca list shows what this CA issued" },
        );
      }
      const fresh = targets.filter((c) => c.revokedAt === null);
      const now = new Date();
      for (const c of fresh) await recordRevoked(opts.caDir, c.serial, now);
      for (const c of fresh) c.revokedAt = now;
      const { path: crlPath, count } = await writeCrl(opts.caDir, all, validity, now);
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
    });

  ca.command("crl")
    .description(
      `write ${CRL_FILE} again from what was revoked: a first, empty one, or a fresh one before its next update`,
    )
    .option(
      "--ca-dir <dir>",
      "folder holding ca.crt, ca.key and the record of what was issued",
      ".",
    )
    .option("--days <n>", "the CRL's validity in days (its next update)", "365")
    .action(async (opts) => {
      const validity = days(opts.days);
      const all = await readIndex(opts.caDir);
      const { path, count } = await writeCrl(opts.caDir, all, validity, new Date());
      out(`wrote ${path} (${count} revoked, next update in ${validity} days)`);
    });

  ca.command("list")
    .description("list the certificates this CA issued, with their state")
    .option("--ca-dir <dir>", "folder holding the record of what was issued", ".")
    .option("--json", "one JSON array, for scripts")
    .action(async (opts) => {
      const all = await readIndex(opts.caDir);
      const now = new Date();
      if (opts.json) {
        out(JSON.stringify(
          all.map((c) => ({
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
        ));
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
    });
  return ca;
}

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

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
