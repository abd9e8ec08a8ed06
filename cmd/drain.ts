/**
 * `orch drain PLAYER` and `orch undrain PLAYER`: stop new work going to a
 * player (what it runs finishes, its queued all-of tasks wait, one-of tasks
 * go to other targets), and let it take work again. Kept across restarts.
 *
 * @module
 */

import { command, type CommandSpec } from "../lib/cli/spec.ts";
import { AUDIENCE_OPTIONS, audienceClient, JSON_OPTION, out, printJson } from "./_common.ts";
import { summaryOf } from "./_commands.ts";
import { safe } from "./_safe.ts";

/** `orch drain` (`on`) or `orch undrain`. */
function drainOrUndrain(on: boolean): CommandSpec {
  const name = on ? "drain" : "undrain";
  return command({
    name,
    summary: summaryOf(name),
    description: on
      ? "Kept across restarts of the conductor. Its queued all-of tasks wait until it is undrained; " +
        "one-of tasks go to other targets. Prints how many tasks it still runs."
      : "Undoes orch drain: the player's queued tasks may start again.",
    args: [{ name: "player", help: "the player's name", required: true, complete: "host" }],
    options: [...JSON_OPTION, ...AUDIENCE_OPTIONS],
    examples: on
      ? [
        { says: "Take web3 out of rotation before maintenance", cmd: "orch drain web3" },
        {
          says: "Drain web3 and print {name, draining, running} for a script",
          cmd: "orch drain web3 --json",
        },
      ]
      : [
        { says: "Put web3 back into rotation", cmd: "orch undrain web3" },
        {
          says: "The same, over HTTPS",
          cmd: "orch undrain web3 --conductor conductor.example.net",
        },
      ],
    async run(input) {
      const client = await audienceClient(input);
      const r = await client.drain(input.args[0], on);
      if (input.flag("json")) printJson(r);
      else if (on) {
        out(
          `${safe(r.name)}: draining, ${r.running} task${r.running === 1 ? "" : "s"} still there`,
        );
      } else out(`${safe(r.name)}: takes new work`);
    },
  });
}

/** `orch drain`. */
export const drainCommand: CommandSpec = drainOrUndrain(true);

/** `orch undrain`. */
export const undrainCommand: CommandSpec = drainOrUndrain(false);
