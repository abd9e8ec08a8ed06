import { join } from "node:path";
import { assert } from "../_helpers/assert.ts";
import { ROOT } from "../_helpers/proc.ts";
import { conductorKeys, flagName, playerKeys } from "../../lib/config/mod.ts";
import { COMMANDS } from "../../cmd/_commands.ts";

const readme = await Deno.readTextFile(join(ROOT, "README.md"));

Deno.test("the README documents every config key with its flag", () => {
  for (const [what, spec] of [["conductor", conductorKeys], ["player", playerKeys]] as const) {
    for (const key of Object.keys(spec)) {
      assert(
        readme.includes(`| \`${key}\``) && readme.includes(`\`${flagName(key)}\``),
        `${what} key ${key} is missing from the README's tables`,
      );
    }
  }
});

Deno.test("the README names every subcommand, and the two set-up commands", () => {
  for (const { name } of COMMANDS) {
    assert(readme.includes(`orch ${name}`), `orch ${name} is missing from the README`);
  }
  assert(readme.includes("make demo") && readme.includes("make test"));
});
