/**
 * The CA folder's record of what it issued and revoked: `issued.jsonl`,
 * one JSON object a line, only ever appended to (mode 0600). `orch ca
 * revoke` finds certificates in it by name or serial, `orch ca list` shows
 * it, and the CRL is made from its revocations.
 *
 * @module
 */

import { join } from "node:path";
import { OrchError } from "../errors.ts";
import type { Role } from "./ca.ts";
import { normalizeSerial } from "./crl.ts";

/** File name of the index in the CA folder. */
export const INDEX_FILE = "issued.jsonl";
/** File name of the CRL in the CA folder. */
export const CRL_FILE = "crl.pem";
/** Largest index read (about 200,000 certificates). */
const MAX_INDEX_BYTES = 64 << 20;

/** One issued certificate, as the index knows it. */
export interface IssuedCertificate {
  serial: string;
  cn: string;
  role: Role;
  sans: string[];
  notBefore: Date;
  notAfter: Date;
  issuedAt: Date;
  /** When it was revoked, or null. */
  revokedAt: Date | null;
}

type Line =
  | {
    event: "issued";
    serial: string;
    cn: string;
    role: Role;
    sans: string[];
    not_before: string;
    not_after: string;
    issued_at: string;
  }
  | { event: "revoked"; serial: string; revoked_at: string };

/** Path of the index in CA folder `dir`. */
export function indexPath(dir: string): string {
  return join(dir, INDEX_FILE);
}

/** Every certificate the CA in `dir` issued, oldest first; none when it has no index yet. */
export async function readIndex(dir: string): Promise<IssuedCertificate[]> {
  const path = indexPath(dir);
  let text: string;
  try {
    const info = await Deno.stat(path);
    if (info.size > MAX_INDEX_BYTES) {
      throw new OrchError("config", `${path} is larger than ${MAX_INDEX_BYTES} bytes`);
    }
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    if (err instanceof OrchError) throw err;
    throw new OrchError("config", `cannot read ${path}: ${(err as Error).message}`);
  }
  const bySerial = new Map<string, IssuedCertificate>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    const where = `${path} line ${i + 1}`;
    const l = parseLine(lines[i], where);
    const serial = normalizeSerial(l.serial);
    if (l.event === "issued") {
      bySerial.set(serial, {
        serial,
        cn: l.cn,
        role: l.role,
        sans: l.sans,
        notBefore: date(l.not_before, where),
        notAfter: date(l.not_after, where),
        issuedAt: date(l.issued_at, where),
        revokedAt: null,
      });
    } else {
      const c = bySerial.get(serial);
      if (!c) throw new OrchError("config", `${where}: revokes serial ${serial}, never issued`);
      c.revokedAt ??= date(l.revoked_at, where);
    }
  }
  return [...bySerial.values()];
}

function parseLine(text: string, where: string): Line {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new OrchError("config", `${where} is not JSON`);
  }
  const o = v as Record<string, unknown>;
  const str = (k: string) => typeof o?.[k] === "string";
  if (o?.event === "issued" && str("serial") && str("cn") && str("role") && str("not_before")) {
    if (str("not_after") && str("issued_at") && Array.isArray(o.sans)) return o as Line;
  }
  if (o?.event === "revoked" && str("serial") && str("revoked_at")) return o as Line;
  throw new OrchError("config", `${where} is not an issued or revoked record`);
}

function date(text: string, where: string): Date {
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) {
    throw new OrchError("config", `${where}: ${JSON.stringify(text)} is not a time`);
  }
  return d;
}

async function append(dir: string, line: Line): Promise<void> {
  const path = indexPath(dir);
  try {
    await Deno.writeTextFile(path, `${JSON.stringify(line)}\n`, { append: true, mode: 0o600 });
  } catch (err) {
    throw new OrchError("config", `cannot write ${path}: ${(err as Error).message}`);
  }
}

/** Records a certificate the CA in `dir` issued. */
export async function recordIssued(
  dir: string,
  c: Omit<IssuedCertificate, "revokedAt">,
): Promise<void> {
  await append(dir, {
    event: "issued",
    serial: normalizeSerial(c.serial),
    cn: c.cn,
    role: c.role,
    sans: c.sans,
    not_before: c.notBefore.toISOString(),
    not_after: c.notAfter.toISOString(),
    issued_at: c.issuedAt.toISOString(),
  });
}

/** Records that the certificate with `serial` was revoked at `at`. */
export async function recordRevoked(dir: string, serial: string, at: Date): Promise<void> {
  await append(dir, {
    event: "revoked",
    serial: normalizeSerial(serial),
    revoked_at: at.toISOString(),
  });
}

/** A certificate's state at `now`. */
export function certificateState(
  c: IssuedCertificate,
  now: Date,
): "revoked" | "expired" | "not yet valid" | "valid" {
  if (c.revokedAt !== null) return "revoked";
  if (now > c.notAfter) return "expired";
  if (now < c.notBefore) return "not yet valid";
  return "valid";
}
