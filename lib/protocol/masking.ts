/**
 * Secret parameters (`secret: true` in a score's conf, or marked so by the
 * submitter): the player needs their values to run the score, but no result
 * it journals or sends holds them in clear, and the conductor masks them
 * again in whatever a player sends back before it is stored (a player of an
 * older version may not have masked them). Before a result leaves the run, every occurrence of each
 * secret value in the output tails, the error text and the response (keys
 * and values, at any depth) is replaced by {@linkcode SECRET_MARK}.
 *
 * Values shorter than {@linkcode MIN_SECRET_LENGTH} characters are not
 * masked: masking `1` or `no` would blank out every such string in the
 * output, which mangles it and, by where the marks fall, tells the value
 * anyway. A secret worth the name is longer.
 *
 * @module
 */

import type { ParamSpec, ResultBody } from "./messages.ts";

/** What replaces a secret value. */
export const SECRET_MARK = "[secret]";

/** Secret values shorter than this are not masked (see the module doc). */
export const MIN_SECRET_LENGTH = 4;

/**
 * The values of `params` that are secret — `declared` marks them, or the
 * assignment names them in `marked` — and long enough to mask, longest first.
 */
export function secretValues(
  declared: Record<string, ParamSpec> | null,
  params: Record<string, string>,
  marked: readonly string[] = [],
): string[] {
  const keys = new Set(marked);
  for (const [key, spec] of Object.entries(declared ?? {})) if (spec.secret) keys.add(key);
  const out = new Set<string>();
  for (const key of keys) {
    if (!Object.hasOwn(params, key)) continue;
    const v = params[key];
    if (v.length >= MIN_SECRET_LENGTH) out.add(v);
  }
  // Longest first, so that a secret holding another is masked whole.
  return [...out].sort((a, b) => b.length - a.length);
}

/** `text` with every occurrence of each of `secrets` replaced by {@linkcode SECRET_MARK}. */
export function maskText(text: string, secrets: readonly string[]): string {
  for (const s of secrets) if (text.includes(s)) text = text.split(s).join(SECRET_MARK);
  return text;
}

/** The marker line where bytes were dropped between an output's head and tail. */
const CUT_MARK = /\n?\[… \d+ bytes dropped …\]\n/;

/**
 * `text` (an output's head, a marker line, its tail) with a secret cut in
 * two where bytes were dropped also masked: a head that ends with the start
 * of a secret, and a tail that begins with the end of one. Without a marker
 * it is returned as it is.
 */
export function maskCut(text: string, secrets: readonly string[]): string {
  const m = CUT_MARK.exec(text);
  if (m === null) return text;
  let head = text.slice(0, m.index);
  let tail = text.slice(m.index + m[0].length);
  for (const s of secrets) {
    for (let k = Math.min(s.length - 1, head.length); k > 0; k--) {
      if (head.endsWith(s.slice(0, k))) {
        head = head.slice(0, head.length - k) + SECRET_MARK;
        break;
      }
    }
    for (let k = Math.min(s.length - 1, tail.length); k > 0; k--) {
      if (tail.startsWith(s.slice(s.length - k))) {
        tail = SECRET_MARK + tail.slice(k);
        break;
      }
    }
  }
  return head + m[0] + tail;
}

/** `result` with `secrets` masked in its tails, error and response. */
export function maskResult(result: ResultBody, secrets: readonly string[]): ResultBody {
  if (secrets.length === 0) return result;
  const mask = (t: string) => maskText(t, secrets);
  const output = (t: string, dropped: number | undefined) =>
    dropped ? maskCut(mask(t), secrets) : mask(t);
  return {
    ...result,
    stdout_tail: output(result.stdout_tail, result.stdout_dropped),
    stderr_tail: output(result.stderr_tail, result.stderr_dropped),
    error: result.error === null ? null : mask(result.error),
    response: maskJson(result.response, mask) as Record<string, unknown>,
  };
}

/** A copy of a JSON value with `mask` applied to every string and key; iterative, so depth is no limit. */
function maskJson(root: unknown, mask: (s: string) => string): unknown {
  const box: Record<string, unknown> = { v: root };
  const stack: [Record<string | number, unknown>, string | number][] = [[box, "v"]];
  while (stack.length > 0) {
    const [holder, key] = stack.pop()!;
    const v = holder[key];
    if (typeof v === "string") holder[key] = mask(v);
    else if (Array.isArray(v)) {
      const copy = v.slice();
      holder[key] = copy;
      for (let i = 0; i < copy.length; i++) {
        stack.push([copy as unknown as Record<number, unknown>, i]);
      }
    } else if (typeof v === "object" && v !== null) {
      // No prototype: a key such as __proto__ is just a key.
      const copy: Record<string, unknown> = Object.create(null);
      for (const [k, x] of Object.entries(v)) {
        const mk = mask(k);
        copy[mk] = x;
        stack.push([copy, mk]);
      }
      holder[key] = copy;
    }
  }
  return box.v;
}
