/**
 * `orch players`: the players the conductor knows, whether they are
 * connected, their labels and facts; filtered by target expressions.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { matchTarget, parseTarget, splitTargetList } from "../lib/protocol/mod.ts";
import { addAudienceFlags, clientFromFlags, err, out } from "./_common.ts";
import { formatPlayers } from "./_format.ts";
import { safe } from "./_safe.ts";

/** `orch players`. */
export function playersCommand(): CommandUnknownOpts {
  const cmd = new Command("players")
    .description(
      "list the players: listed, connected, running, labels, facts; only those a target matches when given",
    )
    .argument(
      "[target...]",
      "names, globs (web*) or selectors (role=web,dc!=mel, fact.os=linux); several: any of them",
    )
    .option("--json", "print JSON instead of text");
  addAudienceFlags(cmd);
  cmd.action(async (targets: string[], opts) => {
    // Checked before the conductor is asked: a bad expression is the caller's mistake.
    const exprs = targets.flatMap(splitTargetList).map((t) => parseTarget(t, "target"));
    const client = await clientFromFlags(opts);
    const all = await client.players();
    const players = exprs.length === 0
      ? all
      : all.filter((p) => exprs.some((e) => matchTarget(e, p)));
    if (opts.json) out(JSON.stringify(players, null, 2));
    else {
      for (const line of formatPlayers(players)) out(line);
      if (players.length === 0 && exprs.length > 0) {
        err(`no player matches ${exprs.map((e) => safe(e.text)).join(" or ")}`);
      }
    }
  });
  return cmd;
}
