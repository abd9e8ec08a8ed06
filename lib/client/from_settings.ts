/**
 * An {@linkcode AudienceClient} for resolved {@linkcode ClientSettings}: over
 * the socket, or over HTTPS with the PEM files read as text (the runtime's
 * TLS checks them; nothing parses a certificate here unless a connection
 * fails and its error needs explaining).
 *
 * @module
 */

import { readSmallFile, SmallFileError } from "./_read.ts";
import { OrchError } from "../errors.ts";
import { type AnswerCheck, AudienceClient } from "./client.ts";
import { type ClientSettings, describeSource, type Setting } from "./settings.ts";

/** Largest PEM file read. */
const MAX_PEM = 1 << 20;

/**
 * A client for `settings`. Over HTTPS, reads the CA, certificate and key
 * files; throws `OrchError("config")` naming a file that cannot be read,
 * where its path came from, and a key that others may read.
 */
export async function clientFromSettings(
  settings: ClientSettings,
  check?: AnswerCheck,
): Promise<AudienceClient> {
  if (settings.transport === "socket" || settings.conductors === null) {
    return new AudienceClient({ kind: "socket", path: settings.socket.value }, check);
  }
  const [ca, cert, key] = await Promise.all([
    readPem(
      settings.ca,
      "CA certificate",
      "the deployment's CA certificate is ca.crt in the folder orch ca init made",
    ),
    readPem(settings.cert, "certificate", "issue one with: orch ca issue NAME --role audience"),
    readPem(settings.key, "key file", "issue one with: orch ca issue NAME --role audience"),
  ]);
  await checkKeyMode(settings.key);
  const name = settings.conductorName?.value ?? null;
  const [first, ...others] = settings.conductors.value.map((a) => ({
    ...a,
    expectName: name ?? a.host,
  }));
  return new AudienceClient({
    kind: "https",
    ...first,
    tls: { ca, cert, key },
    others,
    files: { ca: settings.ca.value, cert: settings.cert.value, key: settings.key.value },
    nameFrom: settings.conductorName === null
      ? undefined
      : describeSource(settings.conductorName.from),
  }, check);
}

/** Reads a PEM file named by `setting`; `what` and `hint` are for errors. */
async function readPem(setting: Setting<string>, what: string, hint: string): Promise<string> {
  const path = setting.value;
  const named = `${what} ${path} (${fromWords(setting)})`;
  try {
    return await readSmallFile(path, MAX_PEM);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new OrchError("config", `${named} does not exist`, { hint });
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new OrchError("config", `${named} cannot be read: permission denied`);
    }
    if (err instanceof SmallFileError) throw new OrchError("config", `${named} ${err.message}`);
    throw new OrchError("config", `${named} cannot be read: ${(err as Error).message}`);
  }
}

/** Refuses a private key that others than its owner may read, as ssh does. */
async function checkKeyMode(setting: Setting<string>): Promise<void> {
  if (Deno.build.os === "windows") return;
  const mode = (await Deno.stat(setting.value)).mode ?? 0;
  if ((mode & 0o077) !== 0) {
    throw new OrchError(
      "config",
      `key file ${setting.value} (${fromWords(setting)}) is accessible by others (mode ${
        (mode & 0o777).toString(8).padStart(4, "0")
      })`,
      { hint: `chmod 600 ${setting.value}` },
    );
  }
}

/** "from --cert", "from ORCH_CERT", "from /etc/orchestra/client.yaml:3", "the default". */
function fromWords(setting: Setting<unknown>): string {
  return setting.from.kind === "default" ? "the default" : `from ${describeSource(setting.from)}`;
}
