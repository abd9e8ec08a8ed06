/**
 * `orch drain PLAYER` and `orch undrain PLAYER`: stop new work going to a
 * player (what it runs finishes, its queued all-of tasks wait, one-of tasks
 * go to other targets), and let it take work again. Kept across restarts.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { addAudienceFlags, clientFromFlags, out } from "./_common.ts";
import { safe } from "./_safe.ts";

/** `orch drain` (`on`) or `orch undrain`. */
export function drainCommand(on: boolean): CommandUnknownOpts {
  const cmd = new Command(on ? "drain" : "undrain")
    .description(
      on
        ? "stop new work going to a player; its running work finishes"
        : "let a drained player take new work again",
    )
    .argument("<player>", "the player's name")
    .option("--json", "print JSON instead of text");
  addAudienceFlags(cmd);
  cmd.action(async (player, opts) => {
    const client = await clientFromFlags(opts);
    const r = await client.drain(player, on);
    if (opts.json) out(JSON.stringify(r));
    else if (on) {
      out(`${safe(r.name)}: draining, ${r.running} task${r.running === 1 ? "" : "s"} still there`);
    } else out(`${safe(r.name)}: takes new work`);
  });
  return cmd;
}
