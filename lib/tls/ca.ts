/**
 * A deployment's certificate authority and the certificates it issues,
 * made with WebCrypto (ECDSA P-256, SHA-256); no openssl needed.
 *
 * Each leaf certificate says what its holder is in the subject's
 * organizational unit (`OU=player`, `OU=conductor`, `OU=audience`), so a
 * player's certificate cannot be used to submit jobs, nor an audience
 * certificate to pose as a player.
 *
 * @module
 */

import type * as X509 from "./_x509.ts";
import { OrchError } from "../errors.ts";

/** The certificate library, loaded on first use. */
export const loadX509 = (): Promise<typeof X509> => import("./_x509.ts");

/** What a certificate's holder is. */
export type Role = "conductor" | "player" | "audience";
/** Every role. */
export const ROLES: readonly Role[] = ["conductor", "player", "audience"];

/** A certificate and its private key, both PEM. */
export interface CertifiedKey {
  certPem: string;
  keyPem: string;
}

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const DAY = 86_400_000;
/** Certificates are valid from a little before their making, to absorb clock skew. */
const BACKDATE = 5 * 60_000;

/** A name for a leaf certificate: host names, and for the audience user-like names. */
export const CERT_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,252}$/;

/** A new key pair of the kind every orch certificate holds (ECDSA P-256). */
export async function newKeys(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as CryptoKeyPair;
}

async function keyToPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey("pkcs8", key);
  return (await loadX509()).PemConverter.encode(der, "PRIVATE KEY");
}

function serial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f; // positive
  bytes[0] |= 0x01; // no leading zero byte
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Makes a new CA: a self-signed certificate allowed to sign certificates only. */
export async function createCA(
  opts: { name: string; days: number; now: Date },
): Promise<CertifiedKey> {
  const x509 = await loadX509();
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [opts.name] }, { O: ["orch"] }],
    notBefore: new Date(opts.now.getTime() - BACKDATE),
    notAfter: new Date(opts.now.getTime() + opts.days * DAY),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await keyToPem(keys.privateKey) };
}

/** What to put in a leaf certificate. */
export interface IssueOptions {
  /** The holder's name: the player's host name, the conductor's, or an audience member's. */
  name: string;
  role: Role;
  /** More names: host names and IP addresses the holder is reached by. */
  sans: string[];
  days: number;
  now: Date;
  /** The holder's key pair; a new one when left out. */
  keys?: CryptoKeyPair;
  /** Start of validity, instead of `now` less a few minutes (tests make not-yet-valid certificates). */
  notBefore?: Date;
  /** End of validity, instead of `now` plus `days` (tests make expired certificates). */
  notAfter?: Date;
}

/** Issues a leaf certificate signed by `ca`. */
export async function issueCertificate(
  ca: CertifiedKey,
  opts: IssueOptions,
): Promise<CertifiedKey> {
  if (!CERT_NAME.test(opts.name)) {
    throw new OrchError("invalid", `certificate name ${JSON.stringify(opts.name)} is not valid`, {
      hint: "use a host name (letters, digits, '-', '.'), or for the audience a user name",
    });
  }
  const x509 = await loadX509();
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importPrivateKey(ca.keyPem, "CA key");
  const keys = opts.keys ?? await newKeys();
  const names = new Map<string, X509.JsonGeneralName>();
  for (const n of [opts.name, ...opts.sans]) {
    const gn = generalName(n);
    if (gn) names.set(`${gn.type}:${gn.value.toLowerCase()}`, gn);
  }
  const eku = opts.role === "conductor" ? [SERVER_AUTH, CLIENT_AUTH] : [CLIENT_AUTH];
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(eku, false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
  ];
  if (names.size > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension([...names.values()], false));
  }
  const notAfter = opts.notAfter?.getTime() ??
    Math.min(opts.now.getTime() + opts.days * DAY, caCert.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: [{ CN: [opts.name] }, { OU: [opts.role] }, { O: ["orch"] }],
    issuer: caCert.subjectName,
    notBefore: opts.notBefore ?? new Date(opts.now.getTime() - BACKDATE),
    notAfter: new Date(notAfter),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ALG,
    extensions,
  });
  return { certPem: cert.toString("pem"), keyPem: await keyToPem(keys.privateKey) };
}

/** Imports a PEM PKCS#8 ECDSA P-256 private key; `what` names it in errors. */
export async function importPrivateKey(pem: string, what: string): Promise<CryptoKey> {
  try {
    const der = (await loadX509()).PemConverter.decodeFirst(pem);
    return await crypto.subtle.importKey("pkcs8", der, ALG, true, ["sign"]);
  } catch (err) {
    throw new OrchError("invalid", `${what} is not a PEM PKCS#8 ECDSA P-256 private key`, {
      cause: err,
    });
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const DNS_NAME =
  /^(?=.{1,253}$)(\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A SAN entry for `name`: an IP address, a DNS name, or nothing for other names. */
function generalName(name: string): X509.JsonGeneralName | undefined {
  if (IPV4.test(name)) return { type: "ip", value: name };
  if (name.includes(":")) {
    try {
      new URL(`http://[${name}]/`);
      return { type: "ip", value: name };
    } catch {
      throw new OrchError(
        "invalid",
        `SAN ${JSON.stringify(name)} is neither an IP address nor a host name`,
      );
    }
  }
  if (DNS_NAME.test(name)) return { type: "dns", value: name.toLowerCase() };
  return undefined;
}

/** Checks SAN entries given by a person before anything is made. */
export function checkSans(sans: string[]): void {
  for (const s of sans) {
    if (generalName(s) === undefined) {
      throw new OrchError(
        "invalid",
        `SAN ${JSON.stringify(s)} is neither an IP address nor a host name`,
      );
    }
  }
}
