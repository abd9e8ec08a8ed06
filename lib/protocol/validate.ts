/**
 * Small decoders from untrusted JSON values to typed values. Every failure
 * names the field path and says what was expected, e.g.
 * `assign.params.COUNT: expected a string of at most 65536 bytes`.
 *
 * @module
 */

import { type ErrorCode, OrchError } from "../errors.ts";

/** A JSON object read from an untrusted source, with the path it came from. */
export class Obj {
  constructor(
    /** The raw object. */
    readonly raw: Record<string, unknown>,
    /** Where it came from, for messages (`hello`, `request.params`). */
    readonly path: string,
    /** Code of the errors thrown for bad content. */
    readonly code: ErrorCode,
  ) {}

  /** Reads `value` as an object, or throws naming `path`. */
  static from(value: unknown, path: string, code: ErrorCode): Obj {
    if (!isPlainObject(value)) {
      const where = path === "" ? "" : `${path}: `;
      throw new OrchError(code, `${where}expected an object, got ${describe(value)}`);
    }
    return new Obj(value, path, code);
  }

  /** Throws an error about `key`. */
  fail(key: string, message: string): never {
    throw new OrchError(this.code, `${this.at(key)}: ${message}`);
  }

  /** Path of `key` within this object. */
  at(key: string): string {
    return this.path === "" ? key : `${this.path}.${key}`;
  }

  /** True when `key` is present and not null. */
  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  /** Throws when the object has a key not in `known`. */
  only(known: readonly string[]): this {
    for (const key of Object.keys(this.raw)) {
      if (!known.includes(key)) this.fail(key, `unknown field (known: ${known.join(", ")})`);
    }
    return this;
  }

  /** A required string, at most `max` UTF-8 bytes, optionally matching `pattern`. */
  str(key: string, opts: StrOpts = {}): string {
    const v = this.raw[key];
    if (typeof v !== "string") this.fail(key, `expected a string, got ${describe(v)}`);
    checkString(v, opts, (m) => this.fail(key, m));
    return v;
  }

  /** An optional string (absent or null gives undefined). */
  optStr(key: string, opts: StrOpts = {}): string | undefined {
    return this.has(key) ? this.str(key, opts) : undefined;
  }

  /** A required integer within [min, max]. */
  int(key: string, min: number, max: number): number {
    const v = this.raw[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v)) {
      this.fail(key, `expected an integer, got ${describe(v)}`);
    }
    if (v < min || v > max) this.fail(key, `expected ${min}..${max}, got ${v}`);
    return v;
  }

  /** An optional integer within [min, max] (absent or null gives undefined). */
  optInt(key: string, min: number, max: number): number | undefined {
    return this.has(key) ? this.int(key, min, max) : undefined;
  }

  /** A required boolean. */
  bool(key: string): boolean {
    const v = this.raw[key];
    if (typeof v !== "boolean") this.fail(key, `expected true or false, got ${describe(v)}`);
    return v;
  }

  /** An optional boolean, `fallback` when absent. */
  optBool(key: string, fallback: boolean): boolean {
    return this.has(key) ? this.bool(key) : fallback;
  }

  /** One of `values`. */
  oneOf<T extends string>(key: string, values: readonly T[]): T {
    const v = this.raw[key];
    if (typeof v !== "string" || !(values as readonly string[]).includes(v)) {
      this.fail(key, `expected one of ${values.join(", ")}, got ${describe(v)}`);
    }
    return v as T;
  }

  /** A nested object. */
  obj(key: string): Obj {
    return Obj.from(this.raw[key], this.at(key), this.code);
  }

  /** An optional nested object. */
  optObj(key: string): Obj | undefined {
    return this.has(key) ? this.obj(key) : undefined;
  }

  /** An array of at most `max` items, each decoded by `item`. */
  arr<T>(key: string, max: number, item: (v: unknown, path: string) => T): T[] {
    const v = this.raw[key];
    if (!Array.isArray(v)) this.fail(key, `expected an array, got ${describe(v)}`);
    if (v.length > max) this.fail(key, `expected at most ${max} items, got ${v.length}`);
    return v.map((x, i) => item(x, `${this.at(key)}[${i}]`));
  }

  /** An object whose values are all strings, with keys and values checked. */
  strMap(key: string, opts: StrMapOpts): Record<string, string> {
    const o: Obj = this.obj(key);
    const entries = Object.entries(o.raw);
    if (entries.length > opts.maxEntries) {
      this.fail(key, `expected at most ${opts.maxEntries} entries, got ${entries.length}`);
    }
    const out: Record<string, string> = {};
    let total = 0;
    for (const [k, v] of entries) {
      if (!opts.keyPattern.test(k)) {
        o.fail(k, `invalid key: ${opts.keyDesc}`);
      }
      if (typeof v !== "string") o.fail(k, `expected a string, got ${describe(v)}`);
      checkString(v, { max: opts.maxValue, noNul: true }, (m) => o.fail(k, m));
      total += utf8Length(k) + utf8Length(v);
      out[k] = v;
    }
    if (total > opts.maxTotal) {
      this.fail(key, `expected at most ${opts.maxTotal} bytes in all, got ${total}`);
    }
    return out;
  }
}

/** Limits for a string. */
export interface StrOpts {
  /** Largest length in UTF-8 bytes. */
  max?: number;
  /** Smallest length in characters. */
  min?: number;
  /** A pattern the whole string must match. */
  pattern?: RegExp;
  /** How to describe `pattern` to a person. */
  patternDesc?: string;
  /** Refuse NUL characters. */
  noNul?: boolean;
}

/** Limits for a map of strings. */
export interface StrMapOpts {
  keyPattern: RegExp;
  keyDesc: string;
  maxEntries: number;
  maxValue: number;
  maxTotal: number;
}

function checkString(v: string, opts: StrOpts, fail: (m: string) => never): void {
  if (opts.min !== undefined && v.length < opts.min) {
    fail(opts.min === 1 ? "must not be empty" : `expected at least ${opts.min} characters`);
  }
  if (opts.max !== undefined && utf8Length(v) > opts.max) {
    fail(`expected at most ${opts.max} bytes, got ${utf8Length(v)}`);
  }
  if (opts.noNul && v.includes("\0")) fail("must not contain NUL characters");
  if (opts.pattern && !opts.pattern.test(v)) {
    fail(`${JSON.stringify(clip(v))} is not ${opts.patternDesc ?? `matching ${opts.pattern}`}`);
  }
}

/** True for `{...}` values (not arrays, not null). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A short description of a value's type, for error messages. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(clip(v))}`;
  if (typeof v === "number") return `the number ${v}`;
  if (typeof v === "boolean") return String(v);
  return `a${typeof v === "object" ? "n" : ""} ${typeof v}`;
}

/** Length of `s` in UTF-8 bytes, without allocating for ASCII text. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** `s` cut to at most `max` characters, for quoting in messages. */
export function clip(s: string, max = 80): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/**
 * `s` with control characters (C0, DEL, C1) and line or paragraph
 * separators written as `\uXXXX`, so that text from another host cannot
 * act on a terminal or split a log line.
 */
export function printable(s: string): string {
  return s.replace(
    // deno-lint-ignore no-control-regex -- control characters are what is replaced
    /[\x00-\x1f\x7f-\x9f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
