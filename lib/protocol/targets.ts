/**
 * Target expressions: how a job (and `orch players`) says which players it
 * means. An expression is one or more parts joined by commas, all of which
 * a player must match (AND):
 *
 * - a name (`web1.example.com`): that player;
 * - a glob over names (`web*`, `db?`): `*` any run of characters, `?` one;
 * - a selector `KEY=VALUE` or `KEY!=VALUE` on the player's labels (from the
 *   players file), or on its facts (from its hello) as `fact.KEY=VALUE`;
 *   the value may be a glob too. `!=` also matches a player without the key.
 *
 * Several expressions are a union. Labels and facts share one shape
 * (keys {@linkcode LABEL_KEY}, values {@linkcode LABEL_VALUE}).
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import { globMatch, isGlob } from "./glob.ts";
import { normalizePlayerName, PLAYER_NAME, PLAYER_NAME_DESC } from "./names.ts";

/** A label or fact key: a letter, then letters, digits, `_` or `-`, at most 63. */
export const LABEL_KEY = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
/** How {@linkcode LABEL_KEY} reads to a person. */
export const LABEL_KEY_DESC =
  "a label key (a letter, then letters, digits, '_' or '-', at most 63)";
/** A label or fact value: letters, digits and `. _ : / + @ ~ -`, 1 to 128. */
export const LABEL_VALUE = /^[A-Za-z0-9._:/+@~-]{1,128}$/;
/** How {@linkcode LABEL_VALUE} reads to a person. */
export const LABEL_VALUE_DESC =
  "a label value (letters, digits, '.', '_', ':', '/', '+', '@', '~', '-', 1 to 128)";
/** The prefix that makes a selector look at a player's facts rather than its labels. */
export const FACT_PREFIX = "fact.";

/** Labels (or facts) of one player: key → value. */
export type Labels = Readonly<Record<string, string>>;

/** Limits on target expressions. */
export const TARGET_LIMITS = {
  /** Bytes in one expression. */
  maxExpression: 1024,
  /** Parts (comma-separated) in one expression. */
  maxParts: 16,
  /** Expressions of one job that are not plain names (each is matched against every player). */
  maxPatterns: 64,
  /** Labels one player may have; facts one player may report. */
  maxLabels: 64,
} as const;

/** One part of an expression. */
export type TargetPart =
  | { kind: "name"; name: string }
  | { kind: "glob"; glob: string }
  | { kind: "label"; key: string; fact: boolean; negated: boolean; value: string };

/** A parsed expression: the parts a player must all match, and the text it came from. */
export interface TargetExpr {
  text: string;
  parts: TargetPart[];
}

/** What a player is matched on. */
export interface Matchable {
  name: string;
  labels: Labels;
  facts: Labels;
}

const GLOB_NAME = /^[A-Za-z0-9*?][A-Za-z0-9.*?-]{0,252}$/;
const GLOB_VALUE = /^[A-Za-z0-9._:/+@~*?-]{1,128}$/;

/**
 * Parses one expression; throws `OrchError("invalid")` naming `where` and
 * the bad part.
 *
 * @example
 * ```ts
 * parseTarget("role=web,dc!=mel", "--target"); // two label parts
 * parseTarget("web*", "--target"); // a glob
 * ```
 */
export function parseTarget(text: string, where: string): TargetExpr {
  const bad = (msg: string): never => {
    throw new OrchError("invalid", `${where}: ${msg}`, {
      hint:
        "a target is a name (web1), a glob (web*), or selectors (role=web,dc!=mel, fact.os=linux), joined by commas",
    });
  };
  if (typeof text !== "string") return bad(`expected a string, got ${typeof text}`);
  if (text.length > TARGET_LIMITS.maxExpression) {
    bad(`a target expression is at most ${TARGET_LIMITS.maxExpression} characters`);
  }
  if (text.trim() === "") bad("a target is empty");
  const pieces = text.split(",").map((p) => p.trim());
  if (pieces.length > TARGET_LIMITS.maxParts) {
    bad(`${JSON.stringify(text)} has more than ${TARGET_LIMITS.maxParts} parts`);
  }
  const parts: TargetPart[] = [];
  for (const piece of pieces) {
    if (piece === "") bad(`${JSON.stringify(text)} has an empty part`);
    const eq = piece.indexOf("=");
    if (eq < 0) {
      if (isGlob(piece)) {
        if (!GLOB_NAME.test(piece)) {
          bad(
            `${
              JSON.stringify(piece)
            } is not a glob over host names (letters, digits, '-', '.', '*', '?')`,
          );
        }
        parts.push({ kind: "glob", glob: piece.toLowerCase() });
      } else {
        if (!PLAYER_NAME.test(piece)) bad(`${JSON.stringify(piece)} is not ${PLAYER_NAME_DESC}`);
        parts.push({ kind: "name", name: normalizePlayerName(piece) });
      }
      continue;
    }
    const negated = eq > 0 && piece[eq - 1] === "!";
    let key = piece.slice(0, negated ? eq - 1 : eq);
    const value = piece.slice(eq + 1);
    const fact = key.startsWith(FACT_PREFIX);
    if (fact) key = key.slice(FACT_PREFIX.length);
    if (!LABEL_KEY.test(key)) {
      bad(`in ${JSON.stringify(piece)}, ${JSON.stringify(key)} is not ${LABEL_KEY_DESC}`);
    }
    if (!GLOB_VALUE.test(value)) {
      bad(`in ${JSON.stringify(piece)}, ${JSON.stringify(value)} is not ${LABEL_VALUE_DESC}`);
    }
    parts.push({ kind: "label", key, fact, negated, value });
  }
  return { text: parts.map(formatPart).join(","), parts };
}

/**
 * How a command line's target argument reads: with a selector (`=`), one
 * expression whose commas join parts (AND); without, a comma-separated list
 * of names and globs, each its own target (as before selectors existed).
 *
 * @example
 * ```ts
 * splitTargetList("web1,web2"); // ["web1", "web2"]
 * splitTargetList("role=web,dc=syd"); // ["role=web,dc=syd"]
 * ```
 */
export function splitTargetList(text: string): string[] {
  if (text.includes("=")) return [text.trim()];
  return text.split(",").map((t) => t.trim()).filter((t) => t !== "");
}

/** A part as text, in its normal form. */
function formatPart(p: TargetPart): string {
  switch (p.kind) {
    case "name":
      return p.name;
    case "glob":
      return p.glob;
    case "label":
      return `${p.fact ? FACT_PREFIX : ""}${p.key}${p.negated ? "!=" : "="}${p.value}`;
  }
}

/** The plain name an expression is, or null when it is a glob or has selectors. */
export function plainName(e: TargetExpr): string | null {
  return e.parts.length === 1 && e.parts[0].kind === "name" ? e.parts[0].name : null;
}

/** True when the player `m` matches every part of `e`. */
export function matchTarget(e: TargetExpr, m: Matchable): boolean {
  return e.parts.every((p) => {
    switch (p.kind) {
      case "name":
        return m.name === p.name;
      case "glob":
        return globMatch(p.glob, m.name);
      case "label": {
        const v = (p.fact ? m.facts : m.labels)[p.key];
        const hit = v !== undefined && globMatch(p.value, v);
        return p.negated ? !hit : hit;
      }
    }
  });
}

/** What {@linkcode resolveTargets} chose. */
export interface Resolved {
  /** The hosts chosen: each once, in the order the expressions name them. */
  hosts: string[];
}

/**
 * The players `exprs` choose among `players` (the players file). A plain
 * name is looked up, not scanned. Throws `OrchError("invalid")` when a name
 * is not listed or an expression matches no player, naming each.
 */
export function resolveTargets(
  exprs: readonly TargetExpr[],
  players: {
    has(name: string): boolean;
    all(): Iterable<Matchable>;
    size: number;
  },
): Resolved {
  const hosts: string[] = [];
  const seen = new Set<string>();
  const unknown: string[] = [];
  const empty: string[] = [];
  let patterns = 0;
  for (const e of exprs) {
    const name = plainName(e);
    if (name !== null) {
      if (!players.has(name)) unknown.push(name);
      else if (!seen.has(name)) (seen.add(name), hosts.push(name));
      continue;
    }
    if (++patterns > TARGET_LIMITS.maxPatterns) {
      throw new OrchError(
        "invalid",
        `at most ${TARGET_LIMITS.maxPatterns} targets of a job may be globs or selectors`,
      );
    }
    let hit = false;
    for (const m of players.all()) {
      if (!matchTarget(e, m)) continue;
      hit = true;
      if (!seen.has(m.name)) (seen.add(m.name), hosts.push(m.name));
    }
    if (!hit) empty.push(e.text);
  }
  const problems: string[] = [];
  if (unknown.length > 0) {
    problems.push(
      `target${unknown.length > 1 ? "s" : ""} ${listed(unknown)} not in the players file`,
    );
  }
  if (empty.length > 0) {
    problems.push(
      `${empty.length > 1 ? "targets" : "target"} ${listed(empty.map((t) => JSON.stringify(t)))} ${
        empty.length > 1 ? "match" : "matches"
      } no player in the players file`,
    );
  }
  if (problems.length > 0) {
    throw new OrchError("invalid", problems.join("; "), {
      hint: `the conductor knows ${players.size} players; see their labels with: orch players`,
    });
  }
  return { hosts };
}

function listed(items: readonly string[]): string {
  return `${items.slice(0, 10).join(", ")}${
    items.length > 10 ? ` and ${items.length - 10} more` : ""
  }`;
}

/**
 * Checks a set of labels or facts; throws a `TypeError`-like message via
 * `fail` naming the bad key or value.
 */
export function checkLabel(key: string, value: string, fail: (msg: string) => never): void {
  if (!LABEL_KEY.test(key)) fail(`${JSON.stringify(key)} is not ${LABEL_KEY_DESC}`);
  if (!LABEL_VALUE.test(value)) {
    fail(`the value of ${key}, ${JSON.stringify(value)}, is not ${LABEL_VALUE_DESC}`);
  }
}
