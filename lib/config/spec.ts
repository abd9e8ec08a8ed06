/**
 * Configuration keys are declared once — name, type, default, doc — and the
 * same declaration drives the YAML file, the command-line flags, validation
 * and the documentation.
 *
 * @module
 */

import { PLAYER_NAME, PLAYER_NAME_DESC } from "../protocol/names.ts";
import { describe } from "../protocol/validate.ts";
import { formatDuration, parseDuration, readSize } from "./units.ts";

/** One configuration key. */
export interface Key<T> {
  /** One sentence for `--help` and the README. */
  doc: string;
  /** The value when neither the file nor a flag sets it. */
  default: T;
  /** What the flag takes, e.g. `<duration>`. */
  placeholder: string;
  /** Relative paths in a config file are taken from the file's folder. */
  isPath?: boolean;
  /** A config file may give it a YAML list of values (`parse` gets them as an array). */
  list?: boolean;
  /**
   * Turns a YAML value or a flag's text into a value; throws an `Error`
   * saying what is wrong. `source` is the value as written in the file, for
   * keys whose meaning depends on the notation (a file mode).
   */
  parse(value: unknown, source?: string): T;
}

/** A set of keys. */
export type Spec = Record<string, Key<unknown>>;

/** The typed values of a spec. */
export type Values<S extends Spec> = { [K in keyof S]: S[K] extends Key<infer T> ? T : never };

function bad(value: unknown, expected: string): never {
  throw new Error(`${describe(value)} is not ${expected}`);
}

/** A free-form string. */
export function str(def: string, doc: string, opts: { allowEmpty?: boolean } = {}): Key<string> {
  return {
    doc,
    default: def,
    placeholder: "<text>",
    parse(v) {
      if (typeof v === "number") v = String(v);
      if (typeof v !== "string") bad(v, "a string");
      if (!opts.allowEmpty && v === "") bad(v, "a non-empty string");
      return v;
    },
  };
}

/** A file-system path; relative paths in a file are taken from the file's folder. */
export function path(def: string, doc: string, opts: { allowEmpty?: boolean } = {}): Key<string> {
  return { ...str(def, doc, opts), placeholder: "<path>", isPath: true };
}

/** A host name, as players and conductors are named. */
export function hostName(def: string, doc: string): Key<string> {
  return {
    doc,
    default: def,
    placeholder: "<name>",
    parse(v) {
      // An all-digit name is a valid label, though YAML reads it as a number.
      if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) v = String(v);
      if (typeof v !== "string" || !PLAYER_NAME.test(v)) bad(v, PLAYER_NAME_DESC);
      return v.toLowerCase();
    },
  };
}

/** A listen or connect address, `host:port`; `defaultPort` fills in a bare host. */
export interface Address {
  host: string;
  port: number;
}

/** A `host:port` address, `[v6]:port` for IPv6; "" or "off" when `allowOff`. */
export function address(
  def: Address | null,
  defaultPort: number,
  doc: string,
  opts: { allowOff?: boolean } = {},
): Key<Address | null> {
  return {
    doc,
    default: def,
    placeholder: "<host:port>",
    parse(v) {
      if (opts.allowOff && (v === "" || v === "off" || v === false)) return null;
      if (typeof v !== "string") bad(v, "an address (host:port)");
      const parsed = parseAddress(v, defaultPort);
      if (!parsed) bad(v, `an address (host:port${opts.allowOff ? `, or "off"` : ""})`);
      return parsed;
    },
  };
}

/**
 * A list of `host:port` addresses, tried in order: a YAML list, or one string
 * of addresses separated by commas (as a flag gives it). At least one, at
 * most `max`; none repeated; a host must be named (no bare `:port`).
 */
export function addressList(defaultPort: number, doc: string, max = 16): Key<Address[]> {
  return {
    doc,
    default: [],
    placeholder: "<host:port,...>",
    list: true,
    parse(v) {
      const items = typeof v === "string" ? v.split(",") : v;
      if (!Array.isArray(items)) bad(v, "a list of addresses (host:port)");
      if (items.length === 0) throw new Error("the list is empty: give at least one host:port");
      if (items.length > max) throw new Error(`${items.length} addresses are more than ${max}`);
      const out: Address[] = [];
      for (const [i, item] of items.entries()) {
        const parsed = typeof item === "string" && !item.trim().startsWith(":")
          ? parseAddress(item, defaultPort)
          : undefined;
        if (!parsed) {
          bad(item, `an address (host:port)${items.length > 1 ? `, at entry ${i + 1}` : ""}`);
        }
        if (out.some((a) => a.host === parsed.host && a.port === parsed.port)) {
          throw new Error(`${formatAddress(parsed)} is listed twice`);
        }
        out.push(parsed);
      }
      return out;
    },
  };
}

/** Parses `host:port`, `[v6]:port`, `:port` or `host`; undefined when malformed. */
export function parseAddress(text: string, defaultPort: number): Address | undefined {
  if (text.trim() === "") return undefined;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s\[\]]*))(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) return undefined;
  const host = m[1] ?? (m[2] || "0.0.0.0");
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port > 65535) return undefined;
  return { host, port };
}

/** Formats an address for messages. */
export function formatAddress(a: Address): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** A duration in milliseconds, written `15s`, `2m`, `500ms`. */
export function duration(def: number, doc: string, min = 1, max = 400 * 86_400_000): Key<number> {
  return {
    doc,
    default: def,
    placeholder: "<duration>",
    parse(v) {
      const ms = typeof v === "number"
        ? Math.round(v * 1000)
        : typeof v === "string"
        ? parseDuration(v)
        : undefined;
      if (ms === undefined || !Number.isFinite(ms)) bad(v, "a duration (e.g. 500ms, 15s, 2m)");
      if (ms < min || ms > max) throw new Error(`${ms}ms is out of range (${min}ms..${max}ms)`);
      return ms;
    },
  };
}

/** An integer within [min, max]. */
export function int(def: number, doc: string, min: number, max: number): Key<number> {
  return {
    doc,
    default: def,
    placeholder: "<n>",
    parse(v) {
      const n = typeof v === "number"
        ? v
        : typeof v === "string" && /^-?\d+$/.test(v)
        ? Number(v)
        : NaN;
      if (!Number.isSafeInteger(n)) bad(v, "an integer");
      if (n < min || n > max) throw new Error(`${n} is out of range (${min}..${max})`);
      return n;
    },
  };
}

/** A size in bytes, written `64KiB`, `1MiB` or a number. */
export function size(def: number, doc: string, min: number, max: number): Key<number> {
  return {
    doc,
    default: def,
    placeholder: "<size>",
    parse(v) {
      const n = typeof v === "number" ? v : typeof v === "string" ? readSize(v) : undefined;
      if (typeof n === "string") throw new Error(`${describe(v)} is not a size: ${n}`);
      if (n === undefined || !Number.isSafeInteger(n)) bad(v, "a size (e.g. 65536, 64KiB, 1MiB)");
      if (n < min || n > max) throw new Error(`${n} bytes is out of range (${min}..${max})`);
      return n;
    },
  };
}

/** One of a fixed set of words. */
export function oneOf<T extends string>(def: T, values: readonly T[], doc: string): Key<T> {
  return {
    doc,
    default: def,
    placeholder: `<${values.join("|")}>`,
    parse(v) {
      if (typeof v !== "string" || !(values as readonly string[]).includes(v)) {
        bad(v, `one of ${values.join(", ")}`);
      }
      return v as T;
    },
  };
}

/** A file mode, written in octal: `0660`, `660` or `0o660`. */
export function mode(def: number, doc: string): Key<number> {
  return {
    doc,
    default: def,
    placeholder: "<octal>",
    parse(v, source) {
      // YAML reads 0660 as decimal 660 and 0o660 as 432: the notation, not the number, says the mode.
      const text = source ?? (typeof v === "number" ? String(v) : v);
      const m = typeof text === "string" ? /^(?:0o|0)?([0-7]{3})$/.exec(text.trim()) : null;
      if (!m) bad(v, "a file mode in octal (e.g. 0660)");
      return parseInt(m[1], 8);
    },
  };
}

/** A yes/no switch: `true`/`false` in YAML, "true"/"false" as a flag. */
export function bool(def: boolean, doc: string): Key<boolean> {
  return {
    doc,
    default: def,
    placeholder: "<true|false>",
    parse(v) {
      if (v === true || v === "true") return true;
      if (v === false || v === "false") return false;
      bad(v, "true or false");
    },
  };
}

/** How key `k`'s default is written in `--help` and the man page; undefined when it has none. */
export function showDefault(k: Key<unknown>): string | undefined {
  const d = k.default;
  if (d === null || d === undefined || d === "") return undefined;
  if (Array.isArray(d)) {
    return d.length === 0 ? undefined : d.map((x) => showValue(k, x)).join(",");
  }
  return showValue(k, d);
}

function showValue(k: Key<unknown>, v: unknown): string {
  if (typeof v === "number") {
    if (k.placeholder === "<duration>") return formatDuration(v);
    if (k.placeholder === "<octal>") return `0${v.toString(8)}`;
    return String(v);
  }
  if (typeof v === "object" && v !== null && "host" in v && "port" in v) {
    return formatAddress(v as Address);
  }
  return String(v);
}
