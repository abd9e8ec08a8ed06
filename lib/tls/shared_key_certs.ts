/**
 * Thousands of certificates in seconds, for load tests such as `orch bench`:
 * every holder shares one key pair and gets a certificate of its own.
 *
 * Building a certificate with the X.509 library costs milliseconds of
 * ASN.1 work. Here one certificate per name length is built in full (the
 * template); every other certificate is a copy of the template's signed
 * part with the serial number and the name (in the subject's CN and in the
 * SAN) replaced by bytes of the same length, signed again by the CA. What
 * the certificates say is exactly what {@linkcode issueCertificate} says.
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import { type CertifiedKey, importPrivateKey, issueCertificate, loadX509, newKeys } from "./ca.ts";
import type { Role } from "./ca.ts";
import { concat, ecdsaSignatureDer, readTlv, TAG, tlv } from "./_der.ts";

/** What the certificates hold. */
export interface SharedKeyOptions {
  /** One certificate per name: lower-case host names. */
  names: string[];
  role: Role;
  days: number;
  now: Date;
}

/** The shared key and a certificate for each name, in the order given. */
export interface SharedKeyCertificates {
  keyPem: string;
  certPems: string[];
}

/** Names these certificates may hold: the subject and SAN bytes are then the name's bytes. */
const LOWER_HOST = /^[a-z0-9][a-z0-9.-]{0,62}$/;
/** Signatures computed at once. */
const BATCH = 64;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
/** ASN.1 tags of the string kinds a name is in. */
const NAME_TAGS = new Set([0x0c, /* UTF8String */ 0x13, /* PrintableString */ 0x82 /* dNSName */]);

/** Issues a certificate for each of `opts.names`, all holding one new key pair. */
export async function issueSharedKeyCertificates(
  ca: CertifiedKey,
  opts: SharedKeyOptions,
): Promise<SharedKeyCertificates> {
  for (const name of opts.names) {
    if (!LOWER_HOST.test(name)) {
      throw new OrchError(
        "invalid",
        `certificate name ${JSON.stringify(name)} is not a lower-case host name`,
      );
    }
  }
  const x509 = await loadX509();
  const caKey = await importPrivateKey(ca.keyPem, "CA key");
  const keys = await newKeys();
  const templates = new Map<number, Template>();
  let keyPem = "";
  for (const name of opts.names) {
    if (templates.has(name.length)) continue;
    const made = await issueCertificate(ca, { ...opts, name, sans: [], keys });
    keyPem = made.keyPem;
    const der = new Uint8Array(new x509.X509Certificate(made.certPem).rawData);
    templates.set(name.length, templateOf(der, name));
  }
  const certPems: string[] = new Array(opts.names.length);
  for (let i = 0; i < opts.names.length; i += BATCH) {
    await Promise.all(
      opts.names.slice(i, i + BATCH).map(async (name, j) => {
        const t = templates.get(name.length)!;
        const tbs = t.tbs.slice();
        const serial = crypto.getRandomValues(new Uint8Array(t.serial.length));
        serial[0] = (serial[0] & 0x7f) | 0x01; // positive, no leading zero byte: same length
        tbs.set(serial, t.serial.start);
        const bytes = new TextEncoder().encode(name);
        for (const at of t.nameAt) tbs.set(bytes, at);
        const raw = new Uint8Array(await crypto.subtle.sign(SIGN, caKey, tbs));
        const signature = tlv(TAG.bits, concat([new Uint8Array([0]), ecdsaSignatureDer(raw)]));
        const der = tlv(TAG.seq, concat([tbs, t.sigAlg, signature]));
        certPems[i + j] = x509.PemConverter.encode(der.buffer, "CERTIFICATE");
      }),
    );
  }
  return { keyPem, certPems };
}

/** The parts of a template certificate that are copied, and where its serial and name lie. */
interface Template {
  /** The signed part (TBSCertificate), whole. */
  tbs: Uint8Array;
  /** The signature algorithm, whole. */
  sigAlg: Uint8Array;
  serial: { start: number; length: number };
  /** Offsets of the name's bytes in `tbs`. */
  nameAt: number[];
}

function templateOf(der: Uint8Array, name: string): Template {
  const cert = readTlv(der, 0, TAG.seq);
  const tbsTlv = readTlv(der, cert.start, TAG.seq);
  const sigAlgTlv = readTlv(der, tbsTlv.end, TAG.seq);
  const tbs = der.slice(tbsTlv.at, tbsTlv.end);
  const body = readTlv(tbs, 0, TAG.seq);
  const version = readTlv(tbs, body.start, TAG.version);
  const serial = readTlv(tbs, version.end, TAG.int);
  const bytes = new TextEncoder().encode(name);
  const found = occurrences(tbs, bytes);
  const nameAt = found.filter((at) => tbs[at - 1] === bytes.length && NAME_TAGS.has(tbs[at - 2]));
  if (nameAt.length === 0 || nameAt.length !== found.length) {
    throw new OrchError("internal", `the template certificate for ${name} holds its name oddly`);
  }
  return {
    tbs,
    sigAlg: der.slice(sigAlgTlv.at, sigAlgTlv.end),
    serial: { start: serial.start, length: serial.end - serial.start },
    nameAt,
  };
}

function occurrences(haystack: Uint8Array, needle: Uint8Array): number[] {
  const found: number[] = [];
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    found.push(i);
  }
  return found;
}
