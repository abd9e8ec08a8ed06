/**
 * Architecture: lib/ is layered, and a few capabilities have one owner each.
 * These tests read the source of every .ts file under lib/ and check its
 * imports against the map below; a new folder must be placed in the map.
 */

import { assert, assertEquals } from "../_helpers/assert.ts";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const LIB = join(ROOT, "lib");

/**
 * What each unit of lib/ may import from the rest of lib/. A unit is a
 * top-level file (`errors.ts`) or a folder; a file may always import from
 * its own unit. `config/units.ts` names one file that `score` may use;
 * `exec/accounts.ts` one that `conductor` may (local users' names).
 */
const ALLOWED: Record<string, readonly string[]> = {
  "errors.ts": [],
  "log.ts": [],
  "version.ts": [],
  "read_at_most.ts": [],
  cli: ["errors.ts"],
  protocol: ["errors.ts", "version.ts"],
  score: ["errors.ts", "protocol", "config/units.ts"],
  tls: ["errors.ts", "protocol"],
  exec: ["errors.ts"],
  config: ["errors.ts", "protocol", "log.ts", "read_at_most.ts"],
  store: ["errors.ts", "protocol"],
  client: ["errors.ts", "protocol", "tls", "read_at_most.ts"],
  metrics: ["errors.ts", "log.ts", "config", "tls"],
  dashboard: ["protocol/glob.ts"],
  conductor: [
    "errors.ts",
    "log.ts",
    "protocol",
    "score",
    "store",
    "tls",
    "config",
    "exec/accounts.ts",
    "metrics",
    "dashboard",
  ],
  player: ["errors.ts", "log.ts", "protocol", "score", "store", "tls", "exec", "config", "metrics"],
  bench: ["errors.ts", "log.ts", "protocol", "tls", "client", "config", "exec", "store"],
};

/** `node:` modules with a single owner, and the units allowed to import them. */
const NODE_OWNERS: Record<string, readonly string[]> = {
  "node:sqlite": ["store"],
  "node:tls": ["tls", "client"],
  "node:https": ["tls", "client"],
};

/** Removes comments, keeping strings, template literals and regular expressions intact. */
function stripComments(src: string): string {
  let out = "";
  let i = 0;
  const n = src.length;
  /** Brace depth at which each open `${` of a template literal started. */
  const templates: number[] = [];
  let depth = 0;
  /** The last significant code character emitted, and the last word. */
  let last = "";
  let word = "";
  const regexAfterWord = new Set([
    "return",
    "typeof",
    "case",
    "do",
    "else",
    "in",
    "of",
    "new",
    "delete",
    "void",
    "throw",
    "instanceof",
    "yield",
    "await",
  ]);

  const readQuoted = (q: string) => {
    const start = i++;
    while (i < n && src[i] !== q && src[i] !== "\n") i += src[i] === "\\" ? 2 : 1;
    i++;
    out += src.slice(start, i);
    last = q;
    word = "";
  };
  /** Reads template text from `i` up to its end or to a `${`; returns true at `${`. */
  const readTemplateText = (): boolean => {
    const start = i;
    while (i < n) {
      if (src[i] === "\\") {
        i += 2;
      } else if (src[i] === "`") {
        i++;
        out += src.slice(start, i);
        last = "`";
        word = "";
        return false;
      } else if (src[i] === "$" && src[i + 1] === "{") {
        i += 2;
        out += src.slice(start, i);
        templates.push(depth);
        depth++;
        last = "{";
        word = "";
        return true;
      } else i++;
    }
    out += src.slice(start);
    return false;
  };

  while (i < n) {
    const c = src[i];
    const d = src[i + 1];
    if (c === "/" && d === "/") {
      while (i < n && src[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && d === "*") {
      const end = src.indexOf("*/", i + 2);
      i = end < 0 ? n : end + 2;
      out += " ";
      continue;
    }
    if (c === '"' || c === "'") {
      readQuoted(c);
      continue;
    }
    if (c === "`") {
      i++;
      out += "`";
      readTemplateText();
      continue;
    }
    if (c === "}" && templates.length > 0 && templates[templates.length - 1] === depth - 1) {
      templates.pop();
      depth--;
      i++;
      out += "}";
      readTemplateText();
      continue;
    }
    if (
      c === "/" &&
      (last === "" || "(,=:[!&|?{};+-*%<>~^".includes(last) || regexAfterWord.has(word))
    ) {
      const start = i++;
      let inClass = false;
      while (i < n && src[i] !== "\n") {
        if (src[i] === "\\") i += 2;
        else if (src[i] === "[") (inClass = true), i++;
        else if (src[i] === "]") (inClass = false), i++;
        else if (src[i] === "/" && !inClass) break;
        else i++;
      }
      i++;
      while (i < n && /[a-z]/.test(src[i])) i++;
      out += src.slice(start, i);
      last = "/";
      word = "";
      continue;
    }
    if (c === "{") depth++;
    if (c === "}") depth--;
    out += c;
    i++;
    if (/[A-Za-z0-9_$]/.test(c)) {
      word = /[A-Za-z0-9_$]/.test(src[i - 2] ?? "") ? word + c : c;
      last = c;
    } else if (!/\s/.test(c)) {
      last = c;
      word = "";
    }
  }
  return out;
}

/** Every module specifier imported or re-exported by `code` (comments already removed). */
function importsOf(code: string): string[] {
  const found: string[] = [];
  const statement =
    /(?:^|[;\n}])\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s*)?["']([^"']+)["']/g;
  for (const m of code.matchAll(statement)) found.push(m[1]);
  for (const m of code.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g)) found.push(m[1]);
  return found;
}

interface Source {
  /** Path relative to lib/, with '/'. */
  rel: string;
  unit: string;
  code: string;
}

function unitOf(rel: string): string {
  const slash = rel.indexOf("/");
  return slash < 0 ? rel : rel.slice(0, slash);
}

function readLib(): Source[] {
  const out: Source[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const full = join(dir, e.name);
      if (e.isDirectory) walk(full);
      else if (e.name.endsWith(".ts")) {
        const rel = relative(LIB, full).replaceAll("\\", "/");
        out.push({ rel, unit: unitOf(rel), code: stripComments(Deno.readTextFileSync(full)) });
      }
    }
  };
  walk(LIB);
  return out.sort((a, b) => a.rel.localeCompare(b.rel));
}

const SOURCES = readLib();
const BARE_ALLOWED = Object.keys(
  (JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json"))) as {
    imports: Record<string, string>;
  })
    .imports,
);

// --- the scanner itself --------------------------------------------------------

Deno.test("the import scanner finds every form of import and ignores comments and strings", () => {
  const src = `
import "reflect-metadata";
import { a, b } from "./a.ts";
import type { T } from '../errors.ts';
import * as x from "yaml";
import def, {
  c,
  type D,
} from "../protocol/mod.ts";
export * from "./b.ts";
export { e } from "./e.ts";
export type { F } from "./f.ts";
const lazy = await import("./lazy.ts");
// import { no } from "../cmd/commented.ts";
/* import { no } from "../cmd/block.ts"; */
/**
 * import { no } from "../cmd/jsdoc.ts";
 */
const s = "import { no } from '../cmd/string.ts'";
export const value = 1;
export function f() { return "x"; }
`;
  assertEquals(importsOf(stripComments(src)), [
    "reflect-metadata",
    "./a.ts",
    "../errors.ts",
    "yaml",
    "../protocol/mod.ts",
    "./b.ts",
    "./e.ts",
    "./f.ts",
    "./lazy.ts",
  ]);
});

Deno.test("comment stripping keeps strings, regular expressions and template literals", () => {
  const src = [
    'const url = "http://example.com"; // a comment',
    "const re = /[\"'/]+\\/\\/x/g; /* block */ const q = '//';",
    "const t = `a ${`b ${c /* in code */}`} // not a comment`;",
    "const d = a / b; // divide",
    "if (x) console.log(1);",
  ].join("\n");
  assertEquals(
    stripComments(src),
    [
      'const url = "http://example.com"; ',
      "const re = /[\"'/]+\\/\\/x/g;   const q = '//';",
      "const t = `a ${`b ${c  }`} // not a comment`;",
      "const d = a / b; ",
      "if (x) console.log(1);",
    ].join("\n"),
  );
});

Deno.test("every folder and top-level file of lib/ has a place in the layer map", () => {
  const units = [...new Set(SOURCES.map((s) => s.unit))].sort();
  const unplaced = units.filter((u) => !Object.hasOwn(ALLOWED, u));
  assertEquals(unplaced, []);
  // The scan saw the code at all.
  assert(SOURCES.length >= 40, `only ${SOURCES.length} files found under lib/`);
  const conductor = SOURCES.find((s) => s.rel === "conductor/conductor.ts")!;
  assert(importsOf(conductor.code).includes("../store/mod.ts"));
});

// --- the rules ----------------------------------------------------------------

Deno.test("lib/ imports only downward, per the layer map", () => {
  const violations: string[] = [];
  for (const s of SOURCES) {
    for (const spec of importsOf(s.code)) {
      if (!spec.startsWith(".")) continue;
      const target = relative(LIB, resolve(LIB, dirname(s.rel), spec)).replaceAll("\\", "/");
      if (target.startsWith("..")) {
        violations.push(`${s.rel} imports ${spec}, outside lib/`);
        continue;
      }
      const unit = unitOf(target);
      if (unit === s.unit) continue;
      const allowed = ALLOWED[s.unit] ?? [];
      if (!allowed.includes(unit) && !allowed.includes(target)) {
        violations.push(`${s.rel} imports ${spec} (${s.unit} may not use ${target})`);
      }
    }
  }
  assertEquals(violations, []);
});

Deno.test("conductor/ and player/ never import each other", () => {
  const crossing = SOURCES.flatMap((s) =>
    importsOf(s.code)
      .filter((spec) =>
        (s.unit === "conductor" && /(^|\/)player\//.test(spec)) ||
        (s.unit === "player" && /(^|\/)conductor\//.test(spec))
      )
      .map((spec) => `${s.rel} imports ${spec}`)
  );
  assertEquals(crossing, []);
});

Deno.test("nothing in lib/ imports cmd/, the entry point or anything outside lib/", () => {
  const outside = SOURCES.flatMap((s) =>
    importsOf(s.code)
      .filter((spec) => spec.startsWith("."))
      .filter((spec) => relative(LIB, resolve(LIB, dirname(s.rel), spec)).startsWith(".."))
      .map((spec) => `${s.rel} imports ${spec}`)
  );
  assertEquals(outside, []);
});

Deno.test("bare imports are node: built-ins or packages pinned in deno.json", () => {
  const bad = SOURCES.flatMap((s) =>
    importsOf(s.code)
      .filter((spec) => !spec.startsWith("."))
      .filter((spec) => !spec.startsWith("node:") && !BARE_ALLOWED.includes(spec))
      .map((spec) => `${s.rel} imports ${spec}`)
  );
  assertEquals(bad, []);
});

Deno.test("node:sqlite is imported only under lib/store, node:tls and node:https only under lib/tls and lib/client", () => {
  const bad = SOURCES.flatMap((s) =>
    importsOf(s.code)
      .filter((spec) => Object.hasOwn(NODE_OWNERS, spec) && !NODE_OWNERS[spec].includes(s.unit))
      .map((spec) => `${s.rel} imports ${spec}`)
  );
  assertEquals(bad, []);
});

Deno.test("Deno.Command appears only under lib/exec", () => {
  const bad = SOURCES.filter((s) => s.unit !== "exec" && /\bDeno\s*\.\s*Command\b/.test(s.code))
    .map((s) => s.rel);
  assertEquals(bad, []);
  assert(SOURCES.some((s) => s.unit === "exec" && /\bDeno\.Command\b/.test(s.code)));
});

Deno.test("nothing in lib/ calls Deno.exit or console.log", () => {
  const bad = SOURCES.flatMap((s) => {
    const found: string[] = [];
    if (/\bDeno\s*\.\s*exit\b/.test(s.code)) found.push(`${s.rel}: Deno.exit`);
    if (/\bconsole\s*\.\s*log\b/.test(s.code)) found.push(`${s.rel}: console.log`);
    return found;
  });
  assertEquals(bad, []);
});

Deno.test("the regular expression engine (re2js) is imported only by lib/score/pattern.ts", () => {
  const users = SOURCES.filter((s) => importsOf(s.code).includes("re2js")).map((s) => s.rel);
  assertEquals(users, ["score/pattern.ts"]);
});
