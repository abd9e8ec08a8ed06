/**
 * Certificate revocation lists: an X.509 CRL signed by the deployment CA,
 * written by `orch ca revoke` and read by the conductor and the players.
 *
 * A standard CRL rather than a home-made deny list: `openssl crl -CAfile`
 * reads and verifies it, it is signed by the one key every node already
 * trusts, and a node can tell a forged or foreign list from the real one.
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import { type CertifiedKey, importPrivateKey, loadX509 } from "./ca.ts";
import { readTextFile } from "./files.ts";

/** One revoked certificate. */
export interface RevokedEntry {
  /** The certificate's serial number, as {@linkcode normalizeSerial} writes it. */
  serial: string;
  revokedAt: Date;
}

/** A verified revocation list. */
export interface RevocationList {
  /** Revoked serials (normalised) and when each was revoked. */
  revoked: Map<string, Date>;
  thisUpdate: Date;
  nextUpdate: Date | null;
}

/** The PEM label openssl expects for a CRL. */
const CRL_LABEL = "X509 CRL";
const ALG = { name: "ECDSA", hash: "SHA-256" } as const;
/** Largest CRL file read: far beyond any deployment's revocations, small enough to bound memory. */
export const MAX_CRL_BYTES = 16 << 20;

/**
 * A serial number in one spelling: upper-case hex, no separators, no
 * leading zeros (how `node:tls` reports a peer's serial).
 */
export function normalizeSerial(serial: string): string {
  return serial.replace(/[:\s]/g, "").replace(/^0+(?=.)/, "").toUpperCase();
}

/** Makes a CRL listing `entries`, signed by `ca`, valid until `nextUpdate`; PEM. */
export async function createCrl(
  ca: CertifiedKey,
  entries: RevokedEntry[],
  opts: { now: Date; nextUpdate: Date },
): Promise<string> {
  const x509 = await loadX509();
  const caCert = new x509.X509Certificate(ca.certPem);
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCert.subjectName.toString(),
    thisUpdate: opts.now,
    nextUpdate: opts.nextUpdate,
    entries: entries.map((e) => ({
      serialNumber: evenHex(e.serial),
      revocationDate: e.revokedAt,
    })),
    signingKey: await importPrivateKey(ca.keyPem, "CA key"),
    signingAlgorithm: ALG,
  });
  return x509.PemConverter.encode(crl.rawData, CRL_LABEL);
}

/** Hex with an even number of digits, as DER integers are written. */
function evenHex(serial: string): string {
  const hex = normalizeSerial(serial);
  return hex.length % 2 === 0 ? hex : `0${hex}`;
}

/**
 * Parses a PEM CRL and checks that `caPem` signed it; `path` names it in
 * errors. Throws an `OrchError("config")` saying what is wrong.
 */
export async function parseCrl(pem: string, caPem: string, path: string): Promise<RevocationList> {
  const x509 = await loadX509();
  let crl;
  try {
    crl = new x509.X509Crl(x509.PemConverter.decodeFirst(pem));
  } catch (err) {
    throw new OrchError("config", `CRL ${path} is not a PEM certificate revocation list`, {
      cause: err,
    });
  }
  const ca = new x509.X509Certificate(caPem);
  const signed = await crl.verify({ publicKey: ca.publicKey }).catch(() => false);
  if (!signed) {
    throw new OrchError("config", `CRL ${path} is not signed by the deployment CA`, {
      hint: "make it with orch ca revoke in the folder of the CA that issued the certificates",
    });
  }
  const revoked = new Map<string, Date>();
  for (const e of crl.entries) revoked.set(normalizeSerial(e.serialNumber), e.revocationDate);
  return { revoked, thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate ?? null };
}

/** Reads, parses and verifies the CRL file at `path` against `caPem`. */
export async function loadCrl(path: string, caPem: string): Promise<RevocationList> {
  const info = await Deno.stat(path).catch(() => null);
  if (info && info.size > MAX_CRL_BYTES) {
    throw new OrchError("config", `CRL ${path} is larger than ${MAX_CRL_BYTES} bytes`);
  }
  return await parseCrl(await readTextFile(path, "CRL"), caPem, path);
}
