/**
 * `orch players`: the players the conductor knows, and whether they are connected.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { addAudienceFlags, clientFromFlags, out } from "./_common.ts";
import { formatPlayers } from "./_format.ts";

/** `orch players`. */
export function playersCommand(): CommandUnknownOpts {
  const cmd = new Command("players")
    .description("list the players: listed, connected, running, their scores")
    .option("--json", "print JSON instead of text");
  addAudienceFlags(cmd);
  cmd.action(async (opts) => {
    const client = await clientFromFlags(opts);
    const players = await client.players();
    if (opts.json) out(JSON.stringify(players, null, 2));
    else for (const line of formatPlayers(players)) out(line);
  });
  return cmd;
}
