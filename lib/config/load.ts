/**
 * Turns a YAML config file plus command-line flags into typed, validated
 * values. Flags win over the file, the file over defaults. Every error names
 * where the bad value came from: `FILE:LINE: key 'k': …` or `flag --k: …`.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import { OrchError } from "../errors.ts";
import type { Spec, Values } from "./spec.ts";

/** Where to read configuration from. */
export interface LoadOptions {
  /** The config file; `undefined` for none. */
  file?: string;
  /** When false, a missing `file` is not an error (the default path may be absent). */
  fileRequired: boolean;
  /** Flag values by key (`players_file`), as typed on the command line. */
  flags: Record<string, string | undefined>;
  /** Folder that relative paths from flags are resolved against. */
  cwd: string;
}

/** The flag that sets `key`: `players_file` → `--players-file`. */
export function flagName(key: string): string {
  return `--${key.replaceAll("_", "-")}`;
}

/** Loads configuration for `spec`; throws `OrchError("config")` on the first bad value. */
export async function loadConfig<S extends Spec>(spec: S, opts: LoadOptions): Promise<Values<S>> {
  const values: Record<string, unknown> = {};
  for (const [key, k] of Object.entries(spec)) values[key] = k.default;

  if (opts.file !== undefined) {
    let text: string | undefined;
    try {
      text = await Deno.readTextFile(opts.file);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound) || opts.fileRequired) {
        const why = err instanceof Deno.errors.NotFound ? "does not exist" : (err as Error).message;
        throw new OrchError("config", `config file ${opts.file} ${why}`);
      }
    }
    if (text !== undefined) Object.assign(values, parseConfigText(spec, text, opts.file));
  }

  for (const [key, raw] of Object.entries(opts.flags)) {
    if (raw === undefined) continue;
    const k = spec[key];
    if (!k) throw new OrchError("internal", `flag for unknown config key ${key}`);
    try {
      const v = k.parse(raw);
      values[key] = k.isPath && typeof v === "string" && v !== "" ? resolve(opts.cwd, v) : v;
    } catch (err) {
      throw new OrchError("config", `flag ${flagName(key)}: ${(err as Error).message}`);
    }
  }
  return values as Values<S>;
}

/**
 * Parses the text of a config file into the values it sets. Relative paths
 * are resolved against the file's folder.
 */
export function parseConfigText(spec: Spec, text: string, file: string): Record<string, unknown> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line;
    throw new OrchError("config", `${file}:${line}: ${firstLine(e.message)}`);
  }
  const out: Record<string, unknown> = {};
  if (doc.contents === null) return out;
  if (!isMap(doc.contents)) {
    throw new OrchError("config", `${file}:1: expected a mapping of keys to values`);
  }
  const base = dirname(resolve(file));
  for (const pair of doc.contents.items) {
    const keyNode = pair.key;
    const line = isScalar(keyNode) && keyNode.range ? lines.linePos(keyNode.range[0]).line : 1;
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    const k = spec[key];
    if (!k) {
      const hint = closest(key, Object.keys(spec));
      throw new OrchError(
        "config",
        `${file}:${line}: unknown key '${key}'${hint ? ` (did you mean '${hint}'?)` : ""}`,
      );
    }
    const valueNode = pair.value;
    // A key that takes a list gets a YAML sequence of single values as an array.
    const list = k.list && isSeq(valueNode) && valueNode.items.every((i) => isScalar(i))
      ? valueNode.items.map((i) => (i as { value: unknown }).value)
      : undefined;
    const raw = list ??
      (isScalar(valueNode) ? valueNode.value : valueNode === null ? null : valueNode);
    // A number's notation matters to some keys (0o660); a quoted value is its text already.
    const source = isScalar(valueNode) && typeof raw === "number" && valueNode.range
      ? text.slice(valueNode.range[0], valueNode.range[1])
      : undefined;
    try {
      if (!isScalar(valueNode) && valueNode !== null && !list) {
        throw new Error(
          k.list ? "expected a value or a list of values" : "expected a single value",
        );
      }
      const v = k.parse(raw, source);
      out[key] = k.isPath && typeof v === "string" && v !== "" ? resolve(base, v) : v;
    } catch (err) {
      throw new OrchError("config", `${file}:${line}: key '${key}': ${(err as Error).message}`);
    }
  }
  return out;
}

function firstLine(s: string): string {
  return s.split("\n")[0];
}

/** The candidate closest to `word` by edit distance, when close enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}
