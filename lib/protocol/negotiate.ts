/**
 * Choosing the protocol version of a connection: the player says which
 * majors it speaks in its hello, and the conductor picks the highest one
 * both speak, or refuses the hello naming both ranges.
 *
 * @module
 */

import type { Hello, ProtocolRange } from "./messages.ts";

/** What {@linkcode negotiate} decides. */
export type Negotiation =
  | { ok: true; major: number }
  | { ok: false; message: string };

/** The majors a hello says its player speaks (`protocol` alone when it gives no range). */
export function helloRange(hello: Pick<Hello, "protocol" | "protocols">): ProtocolRange {
  return hello.protocols ?? { min: hello.protocol, max: hello.protocol };
}

/** A range as people read it: `1` or `1..3`. */
export function formatRange(range: ProtocolRange): string {
  return range.min === range.max ? `${range.min}` : `${range.min}..${range.max}`;
}

/**
 * The highest major in both `ours` (the conductor's) and `theirs` (the
 * player's), or why there is none.
 *
 * @example
 * ```ts
 * negotiate({ min: 1, max: 2 }, { min: 1, max: 3 }); // { ok: true, major: 2 }
 * ```
 */
export function negotiate(ours: ProtocolRange, theirs: ProtocolRange): Negotiation {
  const major = Math.min(ours.max, theirs.max);
  if (major >= Math.max(ours.min, theirs.min)) return { ok: true, major };
  return {
    ok: false,
    message: `no protocol version in common: the player speaks ${
      formatRange(theirs)
    }, this conductor speaks ${formatRange(ours)}`,
  };
}
