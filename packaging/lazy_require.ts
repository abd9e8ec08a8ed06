/**
 * Makes the bundle's `require` lazy. `deno bundle` gives the bundle's
 * helpers `import { createRequire } from "node:module"` at the top, for the
 * npm packages written as CommonJS; importing any `node:` module starts
 * Deno's Node layer, which costs more than the rest of `orch --version` or
 * `orch status` together (measured: 20–25 ms of a 45 ms start). The
 * rewritten helper reaches `node:module` through `process.getBuiltinModule`
 * the first time a CommonJS module asks for `require`, and not before.
 *
 * Usage: deno run --allow-read --allow-write packaging/lazy_require.ts FILE.js…
 * Fails when no file has the line it rewrites (a new deno bundle that writes
 * it otherwise must be looked at, not shipped slower without notice).
 *
 * @module
 */

const EAGER =
  /^import \{ createRequire as (__deno_internal_createRequire) \} from "node:module";\nvar __require = \1\(import\.meta\.url\);$/m;

const LAZY = "var __deno_internal_require;\n" +
  "var __require = (id) => (__deno_internal_require ??= globalThis.process\n" +
  '  .getBuiltinModule("node:module").createRequire(import.meta.url))(id);';

let rewritten = 0;
for (const file of Deno.args) {
  const text = await Deno.readTextFile(file);
  if (!EAGER.test(text)) continue;
  await Deno.writeTextFile(file, text.replace(EAGER, LAZY));
  rewritten++;
}
if (rewritten === 0) {
  console.error(
    `lazy_require: no file of ${Deno.args.length} imports createRequire from node:module as expected`,
  );
  Deno.exit(1);
}
