/**
 * Reading a client config file (`client.yaml`): a YAML mapping with only
 * the keys {@linkcode CLIENT_FILE_KEYS}, each a string (`conductor` also a
 * list of strings). Loaded only when such a file exists, since the YAML
 * reader costs start-up time. Every error names the file, the line and
 * the key.
 *
 * @module
 */

import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import { OrchError } from "../errors.ts";

/** The keys a client config file may hold. */
export const CLIENT_FILE_KEYS = [
  "conductor",
  "conductor_name",
  "cert",
  "key",
  "ca",
  "socket",
] as const;

/** One key of a client config file. */
export type ClientFileKey = (typeof CLIENT_FILE_KEYS)[number];

/** A value read from the file, with its line. */
export interface FileValue {
  /** The text; for `conductor`, every entry of a list. */
  values: string[];
  line: number;
}

/**
 * The keys set in the client config file `path` whose text is `text` (its
 * size bounded by the reader, settings.ts);
 * throws `OrchError("config")` naming `path`, the line and the key.
 */
export function parseClientFile(
  path: string,
  text: string,
): Partial<Record<ClientFileKey, FileValue>> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line;
    throw new OrchError("config", `${path}:${line}: ${e.message.split("\n")[0]}`);
  }
  const out: Partial<Record<ClientFileKey, FileValue>> = {};
  if (doc.contents === null) return out;
  if (!isMap(doc.contents)) {
    throw new OrchError("config", `${path}:1: expected a mapping of keys to values`, {
      hint: `keys: ${CLIENT_FILE_KEYS.join(", ")}`,
    });
  }
  for (const pair of doc.contents.items) {
    const keyNode = pair.key;
    const line = isScalar(keyNode) && keyNode.range ? lines.linePos(keyNode.range[0]).line : 1;
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    if (!(CLIENT_FILE_KEYS as readonly string[]).includes(key)) {
      throw new OrchError(
        "config",
        `${path}:${line}: unknown key ${JSON.stringify(key)}`,
        { hint: `a client config file holds only: ${CLIENT_FILE_KEYS.join(", ")}` },
      );
    }
    const bad = (expected: string) =>
      new OrchError("config", `${path}:${line}: key '${key}': expected ${expected}`);
    const node = pair.value;
    if (key === "conductor" && isSeq(node)) {
      const values = node.items.map((item) => {
        if (!isScalar(item) || typeof item.value !== "string") throw bad("a list of host:port");
        return item.value;
      });
      if (values.length === 0) throw bad("at least one host:port");
      out.conductor = { values, line };
      continue;
    }
    if (!isScalar(node) || typeof node.value !== "string" || node.value === "") {
      throw bad(key === "conductor" ? "host:port or a list of them" : "a non-empty string");
    }
    out[key as ClientFileKey] = { values: [node.value], line };
  }
  return out;
}
