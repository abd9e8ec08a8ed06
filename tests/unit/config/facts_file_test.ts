import { assert, assertEquals, assertThrows } from "../../_helpers/assert.ts";
import { OrchError } from "../../../lib/errors.ts";
import { parseFactsFile } from "../../../lib/config/facts_file.ts";
import { mergeFacts } from "../../../lib/player/facts.ts";

function configError(fn: () => unknown, message: RegExp): void {
  const err = assertThrows(fn);
  assert(err instanceof OrchError, `expected an OrchError, got ${err}`);
  assertEquals(err.code, "config");
  assert(message.test(err.message), err.message);
}

Deno.test("a facts file is key=value lines or a flat YAML mapping", () => {
  assertEquals(parseFactsFile("# rack\nrack = r12\nowner=payments\n\n", "f"), {
    rack: "r12",
    owner: "payments",
  });
  assertEquals(parseFactsFile("rack: r12\nfloor: 3\n", "f"), { rack: "r12", floor: "3" });
  assertEquals(parseFactsFile("", "f"), {});
});

Deno.test("a bad fact is an error naming the file and the line", () => {
  configError(
    () => parseFactsFile("rack=r12\nowner=pay ments\n", "/etc/f"),
    /^\/etc\/f:2: the value of owner/,
  );
  configError(
    () => parseFactsFile("rack=r12\nrack=r13\n", "f"),
    /^f:2: the fact rack is given twice$/,
  );
  configError(
    () => parseFactsFile("rack: r12\nlist: [1, 2]\n", "f"),
    /^f:2: expected a key with a single value$/,
  );
  configError(
    () => mergeFacts({ os: "linux" }, { os: "plan9" }, "f"),
    /the fact os is reported by the player itself/,
  );
});
