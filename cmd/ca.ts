/**
 * `orch ca init DIR` and `orch ca issue NAME --role ROLE`: the deployment
 * CA and the certificates its conductor, players and audience need.
 *
 * @module
 */

import { Command, type CommandUnknownOpts, Option } from "@commander-js/extra-typings";
import { join } from "node:path";
import { OrchError } from "../lib/errors.ts";
import {
  CERT_NAME,
  checkSans,
  createCA,
  issueCertificate,
  parseCertificate,
  readTextFile,
  type Role,
  ROLES,
} from "../lib/tls/mod.ts";
import { out } from "./_common.ts";

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
      await ensureAbsent([key, cert], !!opts.force);
      const made = await createCA({ name: opts.name, days: validity, now: new Date() });
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
      await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
      await write(key, made.keyPem, 0o600);
      await write(cert, made.certPem, 0o644);
      out(`wrote ${cert} and ${key} (${opts.role}, valid ${validity} days)`);
    });
  return ca;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
