/**
 * Loading a node's certificate material from PEM files, with every check an
 * operator would otherwise discover the hard way at the first handshake: the
 * key file's mode, the certificate's issuer, role, validity, and that the key
 * belongs to the certificate.
 *
 * @module
 */

import type * as X509 from "./_x509.ts";
import { OrchError } from "../errors.ts";
import { importPrivateKey, loadX509, type Role } from "./ca.ts";
import type { Revocation } from "./revocation.ts";

/** Paths of the three files a node needs. */
export interface TlsPaths {
  /** The deployment CA certificate. */
  ca: string;
  /** This node's certificate. */
  cert: string;
  /** This node's private key. */
  key: string;
}

/** Checked certificate material, ready for `node:tls`. */
export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
  /** The name in this node's certificate (its CN). */
  name: string;
  /** All names the certificate holds (CN and DNS / IP SANs), lower case. */
  names: string[];
  notAfter: Date;
  /**
   * The deployment's revocations, when this node reads a CRL: peers whose
   * certificate it lists are refused, and cut off when it is reloaded.
   */
  revocation?: Revocation | null;
}

/** Reads a text file, turning file-system errors into clear messages. */
export async function readTextFile(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new OrchError("config", `${what} ${path} does not exist`);
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new OrchError("config", `${what} ${path} cannot be read: permission denied`);
    }
    if (err instanceof Deno.errors.IsADirectory) {
      throw new OrchError("config", `${what} ${path} is a directory, not a file`);
    }
    throw new OrchError("config", `${what} ${path} cannot be read: ${(err as Error).message}`);
  }
}

/** Parses one PEM certificate; `what` and `path` name it in errors. */
export async function parseCertificate(
  pem: string,
  what: string,
  path: string,
): Promise<X509.X509Certificate> {
  const x509 = await loadX509();
  try {
    return new x509.X509Certificate(pem);
  } catch (err) {
    throw new OrchError("config", `${what} ${path} is not a PEM certificate`, { cause: err });
  }
}

/**
 * Loads and checks `paths` for a node acting as `role` at time `now`.
 * Throws an `OrchError("config")` that names the file and what is wrong.
 */
export async function loadTlsMaterial(
  paths: TlsPaths,
  role: Role,
  now: Date,
): Promise<TlsMaterial> {
  const caPem = await readTextFile(paths.ca, "CA certificate");
  const certPem = await readTextFile(paths.cert, "certificate");
  const keyPem = await readTextFile(paths.key, "key file");
  await checkKeyMode(paths.key);
  const x509 = await loadX509();
  const ca = await parseCertificate(caPem, "CA certificate", paths.ca);
  const cert = await parseCertificate(certPem, "certificate", paths.cert);
  const key = await importPrivateKey(keyPem, `key file ${paths.key}`).catch((err) => {
    throw new OrchError("config", (err as Error).message);
  });

  const signed = await cert.verify({ publicKey: ca.publicKey, signatureOnly: true }).catch(() =>
    false
  );
  if (!signed) {
    throw new OrchError(
      "config",
      `certificate ${paths.cert} is not issued by the CA in ${paths.ca}`,
      {
        hint: `issue it with: orch ca issue NAME --role ${role}`,
      },
    );
  }
  const ou = cert.subjectName.getField("OU");
  if (!ou.includes(role)) {
    throw new OrchError(
      "config",
      `certificate ${paths.cert} is for ${
        ou.length ? withArticle(ou.join("/")) : "no orch role"
      }, not ${withArticle(role)}`,
      { hint: `issue one with: orch ca issue NAME --role ${role}` },
    );
  }
  if (now < cert.notBefore) {
    throw new OrchError(
      "config",
      `certificate ${paths.cert} is not valid before ${cert.notBefore.toISOString()}`,
    );
  }
  if (now > cert.notAfter) {
    throw new OrchError(
      "config",
      `certificate ${paths.cert} expired on ${cert.notAfter.toISOString()}`,
    );
  }
  if (now > ca.notAfter) {
    throw new OrchError(
      "config",
      `CA certificate ${paths.ca} expired on ${ca.notAfter.toISOString()}`,
    );
  }
  if (!(await keyMatches(key, cert))) {
    throw new OrchError(
      "config",
      `key file ${paths.key} does not belong to certificate ${paths.cert}`,
    );
  }
  const cn = cert.subjectName.getField("CN")[0] ?? "";
  return {
    ca: caPem,
    cert: certPem,
    key: keyPem,
    name: cn,
    names: certNames(cert, x509),
    notAfter: cert.notAfter,
  };
}

/** "a player", "an audience". */
function withArticle(word: string): string {
  return `${/^[aeiou]/i.test(word) ? "an" : "a"} ${word}`;
}

/** Refuses a private key that others than its owner may read, as ssh does. */
async function checkKeyMode(path: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  const info = await Deno.stat(path);
  const mode = info.mode ?? 0;
  if ((mode & 0o077) !== 0) {
    throw new OrchError(
      "config",
      `key file ${path} is accessible by others (mode ${
        (mode & 0o777).toString(8).padStart(4, "0")
      })`,
      { hint: `chmod 600 ${path}` },
    );
  }
}

async function keyMatches(key: CryptoKey, cert: X509.X509Certificate): Promise<boolean> {
  const jwk = await crypto.subtle.exportKey("jwk", key);
  const certJwk = await crypto.subtle.exportKey("jwk", await cert.publicKey.export());
  return jwk.x === certJwk.x && jwk.y === certJwk.y;
}

function certNames(cert: X509.X509Certificate, x509: typeof X509): string[] {
  const names = new Set<string>();
  for (const cn of cert.subjectName.getField("CN")) names.add(cn.toLowerCase());
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  for (const n of san?.names.items ?? []) {
    if (n.type === "dns" || n.type === "ip") names.add(n.value.toLowerCase());
  }
  return [...names];
}
