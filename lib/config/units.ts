/**
 * Durations (`500ms`, `15s`, `10m`, `2h`, `1d`) and sizes (`64KiB`, `1MiB`)
 * as people write them, and back.
 *
 * @module
 */

// Maps, not plain objects: a unit is looked up by what a user wrote, and
// "constructor" or "__proto__" must not find anything.
const DURATION_UNITS: ReadonlyMap<string, number> = new Map([
  ["ms", 1],
  ["s", 1000],
  ["m", 60_000],
  ["h", 3_600_000],
  ["d", 86_400_000],
]);

/**
 * Milliseconds in a duration such as `15s`, `1m30s` or `250ms`; a bare
 * number is seconds. Returns undefined when `text` is not a duration, or
 * when it is too long to count in whole milliseconds exactly.
 */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  // Bounded before any regular expression runs over it.
  if (t.length > 100) return undefined;
  let total: number;
  if (/^\d+(\.\d+)?$/.test(t)) total = Number(t) * 1000;
  else {
    if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(t)) return undefined;
    total = 0;
    for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
      const unit = DURATION_UNITS.get(m[2]);
      if (unit === undefined) return undefined;
      total += Number(m[1]) * unit;
    }
  }
  const ms = Math.round(total);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** A duration in ms written the short way people read: `250ms`, `1.5s`, `2m05s`, `3h10m`. */
export function formatDuration(ms: number): string {
  if (Math.round(ms) < 1000) return `${Math.round(ms)}ms`;
  // Round before choosing the unit, so that 59.99s reads 1m00s rather than 60s.
  const secs = Number((ms / 1000).toFixed(ms < 10_000 ? 2 : 1));
  if (secs < 60) return `${secs}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  // From the milliseconds, not from the rounded seconds: 23h22m29.5s is 23h22m, not 23h23m.
  const m = Math.round(ms / 60_000);
  if (m < 1440) return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(m / 1440)}d${String(Math.floor((m % 1440) / 60)).padStart(2, "0")}h`;
}

const SIZE_UNITS: ReadonlyMap<string, number> = new Map([
  ["", 1],
  ["b", 1],
  ["k", 1000],
  ["kb", 1000],
  ["kib", 1024],
  ["m", 1_000_000],
  ["mb", 1_000_000],
  ["mib", 1 << 20],
  ["g", 1_000_000_000],
  ["gb", 1_000_000_000],
  ["gib", 1 << 30],
]);

/** The size units, as people write them. */
export const SIZE_UNIT_NAMES = "B, k, kB, KiB, M, MB, MiB, G, GB, GiB";

/** Bytes in a size such as `1MiB`, `64KiB`, `4096`; undefined when not a size. */
export function parseSize(text: string): number | undefined {
  const n = readSize(text);
  return typeof n === "number" ? n : undefined;
}

/**
 * Bytes in a size such as `1MiB`, `64KiB`, `4096`; a sentence saying why
 * not when `text` is a number with a unit that is unknown or a size too
 * large to count; undefined when it is not written like a size at all.
 */
export function readSize(text: string): number | string | undefined {
  const t = text.trim();
  if (t.length > 100) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(t);
  if (!m) return undefined;
  const unit = SIZE_UNITS.get(m[2].toLowerCase());
  if (unit === undefined) {
    return `unknown unit ${JSON.stringify(m[2])} (known: ${SIZE_UNIT_NAMES})`;
  }
  const n = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : "it is too large";
}
