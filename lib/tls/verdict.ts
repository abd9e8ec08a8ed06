/**
 * Why a peer's certificate was not accepted, in words an operator can act
 * on: expired (and since when), not yet valid (and from when), not issued
 * by this deployment's CA, or none shown. The TLS stack only says that
 * verification failed; this looks at the certificate itself.
 *
 * @module
 */

import { loadX509 } from "./ca.ts";
import { normalizeSerial } from "./crl.ts";

/**
 * A name from a certificate as shown in a message: a plain name as it is,
 * anything else quoted, with every character outside printable ASCII
 * escaped (the name is its holder's to choose).
 */
export function shownCertName(name: string): string {
  if (/^[A-Za-z0-9._@:*-]{1,253}$/.test(name)) return name;
  return JSON.stringify(name.slice(0, 253)).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** "CN p1, serial 1F…": how a certificate is named in log lines and errors. */
export function describeCertificate(cn: string, serial: string): string {
  return `CN ${shownCertName(cn)}, serial ${normalizeSerial(serial).slice(0, 64) || "unknown"}`;
}

/** What is wrong with a certificate the TLS stack did not verify. */
export type UnverifiedKind =
  | "none"
  | "unreadable"
  | "foreign"
  | "expired"
  | "not_yet_valid"
  | "other";

/** Why a certificate was not verified: what is wrong, and the words for it. */
export interface UnverifiedVerdict {
  kind: UnverifiedKind;
  why: string;
}

/**
 * Explains why the certificate `raw` (DER; null when none was shown) was
 * not verified against the CA `caPem` at `now`. `who` names its holder
 * ("the peer", "the server"); `code` is the TLS stack's verdict, used when
 * nothing more precise is found.
 */
export async function explainUnverified(
  raw: Uint8Array<ArrayBuffer> | null,
  caPem: string,
  now: Date,
  code: string,
  who: string,
): Promise<string> {
  return (await explainUnverifiedVerdict(raw, caPem, now, code, who)).why;
}

/** {@linkcode explainUnverified}, with what is wrong told apart for a hint. */
export async function explainUnverifiedVerdict(
  raw: Uint8Array<ArrayBuffer> | null,
  caPem: string,
  now: Date,
  code: string,
  who: string,
): Promise<UnverifiedVerdict> {
  if (raw === null || raw.length === 0) {
    return {
      kind: "none",
      why: `${who} presented no ${who === "the peer" ? "client " : ""}certificate`,
    };
  }
  const x509 = await loadX509();
  let cert;
  try {
    cert = new x509.X509Certificate(raw);
  } catch {
    return { kind: "unreadable", why: `${who}'s certificate cannot be read` };
  }
  const name = describeCertificate(cert.subjectName.getField("CN")[0] ?? "", cert.serialNumber);
  const ca = new x509.X509Certificate(caPem);
  const signed = await cert.verify({ publicKey: ca.publicKey, signatureOnly: true })
    .catch(() => false);
  if (!signed) {
    return {
      kind: "foreign",
      why: `${who}'s certificate (${name}) is not issued by this deployment's CA`,
    };
  }
  if (now > cert.notAfter) {
    return {
      kind: "expired",
      why:
        `${who}'s certificate (${name}) has expired (valid until ${cert.notAfter.toISOString()})`,
    };
  }
  if (now < cert.notBefore) {
    return {
      kind: "not_yet_valid",
      why:
        `${who}'s certificate (${name}) is not yet valid (valid from ${cert.notBefore.toISOString()})`,
    };
  }
  return {
    kind: "other",
    why: `${who}'s certificate (${name}) was not accepted${code ? `: ${code}` : ""}`,
  };
}
