/**
 * The little DER that re-signing a certificate needs: reading an element's
 * extent, writing one, and the ECDSA signature's encoding.
 *
 * @module
 */

import { OrchError } from "../errors.ts";

/** ASN.1 tags: SEQUENCE, INTEGER, BIT STRING, and [0] (a certificate's version). */
export const TAG = { seq: 0x30, int: 0x02, bits: 0x03, version: 0xa0 } as const;

/** A DER element at `at`: where its content starts and where it ends. */
export function readTlv(
  der: Uint8Array,
  at: number,
  tag: number,
): { at: number; start: number; end: number } {
  if (der[at] !== tag) {
    throw new OrchError("internal", `certificate DER: expected tag ${tag} at ${at}`);
  }
  let length = der[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n < 1 || n > 3) throw new OrchError("internal", `certificate DER: bad length at ${at}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + der[start++];
  }
  if (start + length > der.length) {
    throw new OrchError("internal", `certificate DER: element at ${at} runs past the end`);
  }
  return { at, start, end: start + length };
}

/** A DER element with `tag` around `content`. */
export function tlv(tag: number, content: Uint8Array): Uint8Array<ArrayBuffer> {
  const n = content.length;
  const head = n < 0x80
    ? [tag, n]
    : n < 0x100
    ? [tag, 0x81, n]
    : n < 0x10000
    ? [tag, 0x82, n >> 8, n & 0xff]
    : [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concat([new Uint8Array(head), content]);
}

export function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** WebCrypto's ECDSA signature (r ‖ s) as X.509 wants it: SEQUENCE { INTEGER r, INTEGER s }. */
export function ecdsaSignatureDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  const int = (bytes: Uint8Array) => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    const v = bytes.subarray(i);
    return tlv(TAG.int, v[0] & 0x80 ? concat([new Uint8Array([0]), v]) : v);
  };
  return tlv(TAG.seq, concat([int(raw.subarray(0, half)), int(raw.subarray(half))]));
}
