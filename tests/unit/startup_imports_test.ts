/**
 * Start-up: what a command loads before it runs is what it costs. These
 * tests follow the static imports (not `import type`, not `import()`) from
 * the entry point and from the audience commands' modules, and check that
 * none of them reaches a `node:` module (Deno's Node layer costs 15–70 ms to
 * load), an npm package, or the conductor, the player, the stores or the
 * certificate library.
 */

import { assertEquals } from "../_helpers/assert.ts";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The specifiers a module imports for its values, statically. */
function staticImports(src: string): string[] {
  const found: string[] = [];
  const re = /^\s*(?:import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?["']([^"']+)["']/gm;
  for (const m of src.matchAll(re)) {
    if (m[1]) continue;
    found.push(m[2]);
  }
  return found;
}

/** Every module `entry` loads before it runs, as paths from the root or bare specifiers. */
function closure(entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [resolve(ROOT, entry)];
  while (todo.length) {
    const file = todo.pop()!;
    const key = relative(ROOT, file);
    if (seen.has(key)) continue;
    seen.add(key);
    for (const spec of staticImports(Deno.readTextFileSync(file))) {
      if (spec.startsWith(".")) todo.push(resolve(dirname(file), spec));
      else seen.add(spec);
    }
  }
  return seen;
}

/** What an audience command or `--version` must not load. */
function heavy(mods: Set<string>): string[] {
  return [...mods].filter((m) =>
    m.startsWith("node:") || !m.includes("/") && !m.endsWith(".ts") ||
    m.startsWith("@") || m.startsWith("npm:") ||
    /^lib\/(conductor|player|store|tls|bench|metrics|dashboard)\//.test(m) ||
    m === "lib/config/load.ts" || m === "lib/config/mod.ts"
  ).sort();
}

for (
  const entry of [
    "main.ts",
    "cmd/status.ts",
    "cmd/submit.ts",
  ]
) {
  Deno.test(`${entry} loads no node: module, npm package, daemon, store or certificate code before it runs`, () => {
    assertEquals(heavy(closure(entry)), []);
  });
}

Deno.test("the import follower sees what it must: a module that imports node:path is caught", () => {
  const mods = closure("tests/unit/startup_imports_test.ts");
  assertEquals(heavy(mods).includes("node:path"), true);
  assertEquals(mods.has(join("tests", "unit", "startup_imports_test.ts")), true);
});
