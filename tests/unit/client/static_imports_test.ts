/**
 * The audience client is on the path of every audience command, so what it
 * loads before it runs is start-up time: its static imports (not `import
 * type`, not `import()`) must reach no `node:` module, no npm package (the
 * YAML reader, the certificate library) and nothing of lib/tls.
 */

import { assertEquals } from "../../_helpers/assert.ts";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** The modules `entry` loads before it runs: paths from the root, or bare specifiers. */
function staticClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [resolve(ROOT, entry)];
  const statement = /^\s*(?:import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?["']([^"']+)["']/gm;
  while (todo.length > 0) {
    const file = todo.pop()!;
    const key = relative(ROOT, file);
    if (seen.has(key)) continue;
    seen.add(key);
    for (const m of Deno.readTextFileSync(file).matchAll(statement)) {
      if (m[1]) continue;
      if (m[2].startsWith(".")) todo.push(resolve(dirname(file), m[2]));
      else seen.add(m[2]);
    }
  }
  return seen;
}

/** What must not be loaded. */
function heavy(mods: Set<string>): string[] {
  return [...mods].filter((m) => !m.endsWith(".ts") || m.startsWith("lib/tls/")).sort();
}

Deno.test("lib/client loads no node: module, npm package or certificate code before it is used", () => {
  assertEquals(heavy(staticClosure("lib/client/mod.ts")), []);
});

Deno.test("the import follower catches what it must: the dashboard proxy's node:http, the diagnosis's node:tls", () => {
  assertEquals(heavy(staticClosure("lib/client/dashboard_proxy.ts")).includes("node:http"), true);
  const diagnosis = heavy(staticClosure("lib/client/_diagnose.ts"));
  assertEquals(["node:tls", "lib/tls/verdict.ts"].every((m) => diagnosis.includes(m)), true);
  assertEquals(heavy(staticClosure("lib/client/_client_file.ts")), ["yaml"]);
});
