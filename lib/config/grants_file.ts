/**
 * The grants file: who may do what through the audience API. YAML, one
 * list of grants; each names identities (`who`), what they may do (`may`),
 * and on which scores and targets (globs; every one when left out):
 *
 * ```yaml
 * grants:
 *   - who: [local:root, group:wheel]
 *     may: [all]
 *   - who: audience:deploy-bot
 *     may: [submit, read, cancel]
 *     scores: [deploy-*, uptime]
 *     targets: [web*]
 * ```
 *
 * Identities: `audience:NAME` (an audience certificate's name), `local:USER`
 * (a local user on the Unix socket), `group:GROUP` (local users in that
 * group); NAME, USER and GROUP may be globs.
 *
 * @module
 */

import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { OrchError } from "../errors.ts";
import { closest } from "./load.ts";

/** What a grant may allow. */
export type Verb =
  | "submit"
  | "read"
  | "cancel"
  | "read_all"
  | "cancel_all"
  | "audit"
  | "drain"
  | "schedule"
  | "prune";

/** Every verb, in the order the README lists them; `all` in a file stands for these. */
export const VERBS: readonly Verb[] = [
  "submit",
  "read",
  "cancel",
  "read_all",
  "cancel_all",
  "audit",
  "drain",
  "schedule",
  "prune",
];

/** One grant, as written. */
export interface Grant {
  /** Where it is written: `FILE:LINE`, or `built-in`. */
  where: string;
  /** Identities it applies to: `audience:…`, `local:…`, `group:…`. */
  who: string[];
  may: ReadonlySet<Verb>;
  /** Score globs. */
  scores: string[];
  /** Target globs. */
  targets: string[];
}

/** Kinds of identity a grant can name. */
export const IDENTITY_KINDS = ["audience", "local", "group"] as const;

const IDENTITY = /^(audience|local|group):([A-Za-z0-9._@:*?-]{1,253})$/;
const GLOB = /^[A-Za-z0-9._@*?-]{1,253}$/;
const GRANT_KEYS = ["who", "may", "scores", "targets"];
/** Grants in one file, at most. */
export const MAX_GRANTS = 10_000;
/** Entries in one list of a grant, at most. */
const MAX_LIST = 1000;

/** Parses the grants file's text; throws `OrchError("config")` naming FILE:LINE. */
export function parseGrantsFile(text: string, file: string): Grant[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  });
  const lineOf = (n: Node | null | undefined): number =>
    n?.range ? lines.linePos(n.range[0]).line : 1;
  const fail = (n: Node | null | undefined, msg: string): never => {
    throw new OrchError("config", `${file}:${lineOf(n)}: ${msg}`);
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line;
    throw new OrchError("config", `${file}:${line}: ${e.message.split("\n")[0]}`);
  }
  if (doc.contents === null) return [];
  const root = doc.contents;
  if (!isMap(root)) return fail(root, "expected a mapping with the key 'grants'");
  let list: Node | null = null;
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    if (key !== "grants") {
      fail(pair.key as Node, `unknown key '${key}' (the file has one key: 'grants')`);
    }
    list = pair.value as Node | null;
  }
  if (list === null || (isScalar(list) && list.value === null)) return [];
  if (!isSeq(list)) return fail(list, "'grants' must be a list of grants");
  if (list.items.length > MAX_GRANTS) fail(list, `more than ${MAX_GRANTS} grants`);
  const grants: Grant[] = [];
  for (const item of list.items as Node[]) {
    if (!isMap(item)) fail(item, "a grant must be a mapping with 'who' and 'may'");
    const g = item as unknown as { items: { key: Node; value: Node | null }[] };
    const fields = new Map<string, Node | null>();
    for (const pair of g.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : "";
      if (!GRANT_KEYS.includes(key)) {
        const hint = closest(key, GRANT_KEYS);
        fail(
          pair.key,
          `unknown key '${key}' in a grant${
            hint ? ` (did you mean '${hint}'?)` : ` (known: ${GRANT_KEYS.join(", ")})`
          }`,
        );
      }
      fields.set(key, pair.value);
    }
    const where = `${file}:${lineOf(item)}`;
    if (!fields.has("who")) fail(item, "a grant needs 'who': the identities it applies to");
    if (!fields.has("may")) fail(item, "a grant needs 'may': what they may do");
    const who = strings(fields.get("who")!, "who", fail).map((w, i) => {
      const m = IDENTITY.exec(w);
      if (!m) {
        fail(
          fields.get("who")!,
          `'who' entry ${i + 1}: ${
            JSON.stringify(w)
          } is not an identity (audience:NAME, local:USER or group:GROUP; NAME may be a glob)`,
        );
      }
      return w;
    });
    const may = new Set<Verb>();
    for (const v of strings(fields.get("may")!, "may", fail)) {
      if (v === "all") { for (const x of VERBS) may.add(x); }
      else if ((VERBS as readonly string[]).includes(v)) may.add(v as Verb);
      else {
        const hint = closest(v, [...VERBS, "all"]);
        fail(
          fields.get("may")!,
          `'may': unknown verb ${JSON.stringify(v)}${
            hint ? ` (did you mean '${hint}'?)` : ""
          }; known: ${VERBS.join(", ")}, all`,
        );
      }
    }
    const globs = (key: "scores" | "targets"): string[] => {
      const n = fields.get(key);
      if (n === undefined) return ["*"];
      return strings(n, key, fail).map((s) => {
        if (!GLOB.test(s)) {
          fail(n, `'${key}': ${JSON.stringify(s)} is not a name or a glob of * and ?`);
        }
        return s;
      });
    };
    grants.push({ where, who, may, scores: globs("scores"), targets: globs("targets") });
  }
  return grants;
}

/** A scalar string or a list of them, each non-empty. */
function strings(
  n: Node | null,
  key: string,
  fail: (n: Node | null, msg: string) => never,
): string[] {
  const one = (x: Node | null): string => {
    if (isAlias(x)) return fail(x, `'${key}': YAML aliases are not allowed in the grants file`);
    if (!isScalar(x) || typeof x.value !== "string" || x.value === "") {
      return fail(x, `'${key}': expected a non-empty string or a list of them`);
    }
    return x.value;
  };
  if (isSeq(n)) {
    if (n.items.length === 0) fail(n, `'${key}': the list is empty`);
    if (n.items.length > MAX_LIST) fail(n, `'${key}': more than ${MAX_LIST} entries`);
    return (n.items as Node[]).map(one);
  }
  return [one(n)];
}

/**
 * Reads the grants file; null when it does not exist (the conductor then
 * applies its built-in grants, and says so).
 */
export async function readGrantsFile(file: string): Promise<Grant[] | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new OrchError("config", `cannot read grants file ${file}: ${(err as Error).message}`);
  }
  return parseGrantsFile(text, file);
}
