/**
 * Times on the audience API's wire: RFC 3339 strings in UTC with
 * milliseconds (`2026-11-23T03:30:00.123Z`), sent for every time the API
 * answers with; requests give an RFC 3339 time with its zone, or epoch
 * milliseconds. Inside the conductor, the store and the CLI a time stays
 * a number of epoch milliseconds; this module is where the two meet.
 *
 * @module
 */

import { OrchError } from "../errors.ts";

/** The latest time the API takes or gives: the end of the year 9999 (epoch ms). */
export const MAX_TIME_MS = 253_402_300_799_999;

/** Epoch ms as the API sends it: RFC 3339, UTC, milliseconds (`2026-11-23T03:30:00.123Z`). */
export function timeText(ms: number): string {
  return new Date(ms).toISOString();
}

/** {@linkcode timeText}, or null for null. */
export function timeTextOrNull(ms: number | null): string | null {
  return ms === null ? null : timeText(ms);
}

/**
 * An RFC 3339 date-time with its zone (`Z` or `±HH:MM`), as epoch ms; null
 * when `text` is not one (a date that does not exist included). A `T` or a
 * space separates date and time; fractions finer than a millisecond are cut.
 */
export function parseTimeText(text: string): number | null {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/
      .exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const oh = m[10] === undefined ? 0 : Number(m[10]);
  const om = m[11] === undefined ? 0 : Number(m[11]);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59 || oh > 23 || om > 59) return null;
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (d > days) return null;
  const frac = Number((m[7] ?? "0").padEnd(3, "0").slice(0, 3));
  // Date.UTC reads years 0..99 as 1900..1999: the year is set apart.
  const at = new Date(Date.UTC(2000, mo - 1, d, h, mi, s, frac));
  at.setUTCFullYear(y);
  const local = at.getTime();
  const offset = (m[9] === "-" ? -1 : 1) * (oh * 60 + om) * 60_000;
  return local - offset;
}

/**
 * A time a request gives: an RFC 3339 string with its zone, or an integer
 * of epoch ms, within [`min`, `max`]. Throws `OrchError("invalid")` naming
 * `where` (`deadline`, `query parameter since`).
 */
export function decodeTime(value: unknown, where: string, min = 0, max = MAX_TIME_MS): number {
  let ms: number | null;
  if (typeof value === "string") {
    ms = value.length <= 40 ? parseTimeText(value) : null;
    if (ms === null) {
      throw new OrchError(
        "invalid",
        `${where}: expected an RFC 3339 time with its zone such as 2026-11-23T03:30:00Z, got ${
          JSON.stringify(value.slice(0, 40))
        }`,
      );
    }
  } else if (typeof value === "number" && Number.isSafeInteger(value)) {
    ms = value;
  } else {
    throw new OrchError(
      "invalid",
      `${where}: expected an RFC 3339 time (or epoch milliseconds), got ${
        value === null ? "null" : Array.isArray(value) ? "an array" : typeof value
      }`,
    );
  }
  if (ms < min || ms > max) {
    throw new OrchError(
      "invalid",
      `${where}: expected a time from ${timeText(min)} to ${timeText(max)}, got ${
        Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? timeText(ms) : String(ms)
      }`,
    );
  }
  return ms;
}

/**
 * A time in a query parameter: an RFC 3339 time with its zone (a `+`
 * written as `%2B`), or digits of epoch ms; as {@linkcode decodeTime}.
 */
export function decodeTimeParam(text: string, where: string, min = 0, max = MAX_TIME_MS): number {
  return decodeTime(/^\d{1,16}$/.test(text) ? Number(text) : text, where, min, max);
}

/**
 * A time the API sent, as epoch ms, for a client that computes with it
 * (durations, "ago"); NaN when it is not RFC 3339.
 */
export function timeMs(text: string): number {
  // A conductor of an earlier version sends epoch ms: read as they are.
  if (typeof text === "number") return text;
  return typeof text === "string" ? parseTimeText(text) ?? NaN : NaN;
}

/** {@linkcode timeMs}, or null for null. */
export function timeMsOrNull(text: string | null): number | null {
  return text === null ? null : timeMs(text);
}
