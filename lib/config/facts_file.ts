/**
 * A player's facts file: what the operator says of the host (`rack=r12`,
 * `owner=payments`), reported to the conductor in the hello and selectable
 * there as `fact.KEY=VALUE`. Either `key=value` lines (`#` comments) or a
 * flat YAML mapping (`key: value`).
 *
 * @module
 */

import { isMap, isScalar, LineCounter, parseDocument } from "yaml";
import { OrchError } from "../errors.ts";
import { readAtMost } from "../read_at_most.ts";
import { checkLabel, type Labels, TARGET_LIMITS } from "../protocol/targets.ts";

/** Largest facts file read, in bytes. */
const MAX_FACTS_FILE = 65536;

const KEY_VALUE_LINE = /^\s*(#.*)?$|^\s*[^\s:=#]+\s*=/;

/** Parses a facts file's text; throws `OrchError("config")` naming FILE:LINE. */
export function parseFactsFile(text: string, file: string): Labels {
  const facts: Record<string, string> = {};
  const add = (key: string, value: string, line: number) => {
    const fail = (msg: string): never => {
      throw new OrchError("config", `${file}:${line}: ${msg}`);
    };
    checkLabel(key, value, fail);
    if (Object.hasOwn(facts, key)) fail(`the fact ${key} is given twice`);
    if (Object.keys(facts).length >= TARGET_LIMITS.maxLabels) {
      fail(`more than ${TARGET_LIMITS.maxLabels} facts`);
    }
    facts[key] = value;
  };
  const lines = text.split("\n");
  if (lines.every((l) => KEY_VALUE_LINE.test(l))) {
    for (const [i, raw] of lines.entries()) {
      const line = raw.replace(/#.*/, "").trim();
      if (line === "") continue;
      const eq = line.indexOf("=");
      add(line.slice(0, eq).trim(), line.slice(eq + 1).trim(), i + 1);
    }
    return facts;
  }
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line ?? counter.linePos(e.pos[0]).line;
    throw new OrchError("config", `${file}:${line}: ${e.message.split("\n")[0]}`);
  }
  if (doc.contents === null) return facts;
  if (!isMap(doc.contents)) {
    throw new OrchError(
      "config",
      `${file}:1: expected key=value lines or a mapping of keys to values`,
    );
  }
  for (const pair of doc.contents.items) {
    const k = pair.key;
    const v = pair.value;
    const line = isScalar(k) && k.range ? counter.linePos(k.range[0]).line : 1;
    if (!isScalar(k) || !isScalar(v) || v.value === null || typeof v.value === "object") {
      throw new OrchError("config", `${file}:${line}: expected a key with a single value`);
    }
    add(String(k.value), String(v.value), line);
  }
  return facts;
}

/** Reads and parses a facts file. */
export async function readFactsFile(file: string): Promise<Labels> {
  let text: string;
  try {
    const f = await Deno.open(file);
    try {
      const bytes = await readAtMost(f, MAX_FACTS_FILE);
      if (bytes.length > MAX_FACTS_FILE) {
        throw new OrchError("config", `facts file ${file} is over ${MAX_FACTS_FILE} bytes`);
      }
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } finally {
      f.close();
    }
  } catch (err) {
    if (err instanceof OrchError) throw err;
    const why = err instanceof Deno.errors.NotFound ? "does not exist" : (err as Error).message;
    throw new OrchError("config", `facts file ${file} ${why}`);
  }
  return parseFactsFile(text, file);
}
