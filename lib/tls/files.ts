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
import { loadX509, type Role } from "./ca.ts";
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

/**
 * Parses one PEM certificate with the certificate library, for the commands
 * that make and inspect certificates; `what` and `path` name it in errors.
 */
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

/** What `node:crypto` offers for checking certificates, loaded on first use. */
type NodeCrypto = typeof import("node:crypto");
type NodeCertificate = InstanceType<NodeCrypto["X509Certificate"]>;

/**
 * Parses one PEM certificate with the runtime's own X.509 code (`node:crypto`,
 * loaded on first use): much lighter than the certificate library, which only
 * the commands that make certificates need. `what` and `path` name it in errors.
 */
function parseNodeCertificate(
  c: NodeCrypto,
  pem: string,
  what: string,
  path: string,
): NodeCertificate {
  try {
    return new c.X509Certificate(pem);
  } catch (err) {
    throw new OrchError("config", `${what} ${path} is not a PEM certificate`, { cause: err });
  }
}

/** A PEM PKCS#8 ECDSA P-256 private key, the kind `orch ca` makes; `what` names it in errors. */
function parsePrivateKey(c: NodeCrypto, pem: string, what: string) {
  const fail = (cause?: unknown) =>
    new OrchError("config", `${what} is not a PEM PKCS#8 ECDSA P-256 private key`, { cause });
  if (!/-----BEGIN PRIVATE KEY-----/.test(pem)) throw fail();
  let key;
  try {
    key = c.createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    throw fail(err);
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw fail();
  }
  return key;
}

/** A distinguished name's attribute as `node:crypto` gives it: absent, one value, or several. */
function values(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
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
  const c = await import("node:crypto");
  const ca = parseNodeCertificate(c, caPem, "CA certificate", paths.ca);
  const cert = parseNodeCertificate(c, certPem, "certificate", paths.cert);
  const key = parsePrivateKey(c, keyPem, `key file ${paths.key}`);

  let signed = false;
  try {
    signed = cert.verify(ca.publicKey);
  } catch {
    // A key of another kind: not signed by this CA either.
  }
  if (!signed) {
    throw new OrchError(
      "config",
      `certificate ${paths.cert} is not issued by the CA in ${paths.ca}`,
      {
        hint: `issue it with: orch ca issue NAME --role ${role}`,
      },
    );
  }
  const legacy = cert.toLegacyObject();
  const ou = values(legacy.subject?.OU);
  if (!ou.includes(role)) {
    throw new OrchError(
      "config",
      `certificate ${paths.cert} is for ${
        ou.length ? withArticle(ou.join("/")) : "no orch role"
      }, not ${withArticle(role)}`,
      { hint: `issue one with: orch ca issue NAME --role ${role}` },
    );
  }
  const notBefore = cert.validFromDate;
  const notAfter = cert.validToDate;
  if (now < notBefore) {
    throw new OrchError(
      "config",
      `certificate ${paths.cert} is not valid before ${notBefore.toISOString()}`,
    );
  }
  if (now > notAfter) {
    throw new OrchError(
      "config",
      `certificate ${paths.cert} expired on ${notAfter.toISOString()}`,
    );
  }
  if (now > ca.validToDate) {
    throw new OrchError(
      "config",
      `CA certificate ${paths.ca} expired on ${ca.validToDate.toISOString()}`,
    );
  }
  if (!cert.checkPrivateKey(key)) {
    throw new OrchError(
      "config",
      `key file ${paths.key} does not belong to certificate ${paths.cert}`,
    );
  }
  const cn = values(legacy.subject?.CN)[0] ?? "";
  return {
    ca: caPem,
    cert: certPem,
    key: keyPem,
    name: cn,
    names: certNames(cn, legacy.subjectaltname ?? ""),
    notAfter,
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

/**
 * The names a certificate holds: its CN and its DNS and IP SANs, lower case;
 * `san` as `node:crypto` writes it (`DNS:a, IP Address:10.0.0.1`). IPv6
 * addresses are written as URLs write them (`::1`).
 */
function certNames(cn: string, san: string): string[] {
  const names = new Set<string>();
  if (cn) names.add(cn.toLowerCase());
  for (const part of san.split(",")) {
    const [kind, value] = part.trim().split(/:(.*)/s);
    if (kind === "DNS" && value) names.add(value.toLowerCase());
    if (kind === "IP Address" && value) names.add(ipText(value));
  }
  return [...names];
}

/** An IP address as a URL writes it: IPv4 as it is, IPv6 compressed, lower case. */
function ipText(ip: string): string {
  if (!ip.includes(":")) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}
