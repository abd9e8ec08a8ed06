/**
 * The digest of a submit: what a request id sent again is compared with,
 * so that a request id reused for a different submit is refused rather
 * than answered with the first one's job.
 *
 * @module
 */

import type { SubmitRequest } from "../protocol/mod.ts";

/**
 * SHA-256 (hex) of a canonical form of `req`: score, scope, the targets as
 * asked (in the order given), params, and every option, as JSON with sorted
 * keys. A param of `secret` counts by its key only, never by its value: the
 * digest is stored with the job, and a digest of a secret value would let
 * anyone who can read the database test guesses of it.
 */
export async function requestDigest(
  req: SubmitRequest,
  secret: Iterable<string>,
): Promise<string> {
  const hidden = new Set(secret);
  const params: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(req.params)) params[k] = hidden.has(k) ? null : v;
  const canonical = {
    score: req.score,
    scope: req.scope,
    targets: req.asked ?? req.targets,
    params,
    secret: [...req.secret].sort(),
    timeout_ms: req.timeout_ms,
    deadline: req.deadline,
    retries: req.retries,
    quorum: req.quorum,
    batch: req.batch,
    max_errors: req.max_errors,
    batch_wait_ms: req.batch_wait_ms,
    some: req.some ?? null,
    offline_wait_ms: req.offline_wait_ms ?? null,
  };
  const bytes = new TextEncoder().encode(canonicalJson(canonical));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** JSON with every object's keys sorted, so that equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
