/**
 * `orch players`: the players the conductor knows, whether they are
 * connected, their labels and facts; filtered by target expressions.
 *
 * @module
 */

import { command } from "../lib/cli/spec.ts";
import { matchTarget, parseTarget, splitTargetList } from "../lib/protocol/mod.ts";
import { AUDIENCE_OPTIONS, audienceClient, err, JSON_OPTION, out, printJson } from "./_common.ts";
import { summaryOf } from "./_commands.ts";
import { formatPlayers } from "./_format.ts";
import { safe } from "./_safe.ts";

/** `orch players`. */
export const playersCommand = command({
  name: "players",
  summary: summaryOf("players"),
  description:
    "One line each: name, state (connected, offline, not listed; draining), address, version, " +
    "running tasks and slots, scores, when it was last seen, its labels and its facts. " +
    "Targets are matched as a job's --target is: any of them.",
  args: [
    {
      name: "target",
      help:
        "names, globs (web*) or selectors (role=web,dc!=mel, fact.os=linux); several: any of them",
      variadic: true,
      complete: "host",
    },
  ],
  options: [...JSON_OPTION, ...AUDIENCE_OPTIONS],
  examples: [
    { says: "Every player the conductor knows", cmd: "orch players" },
    { says: "The web players in Sydney", cmd: "orch players role=web,dc=syd" },
    { says: "Players running a 6.x kernel, as JSON", cmd: "orch players 'fact.kernel=6.*' --json" },
  ],
  async run(input) {
    // Checked before the conductor is asked: a bad expression is the caller's mistake.
    const exprs = input.args.flatMap(splitTargetList).map((t) => parseTarget(t, "target"));
    const client = await audienceClient(input);
    const all = await client.players();
    const players = exprs.length === 0
      ? all
      : all.filter((p) => exprs.some((e) => matchTarget(e, p)));
    // GET /v1/players?target=… answers {players: [...]}, filtered the same way.
    if (input.flag("json")) printJson({ players });
    else {
      for (const line of formatPlayers(players)) out(line);
      if (players.length === 0 && exprs.length > 0) {
        err(`no player matches ${exprs.map((e) => safe(e.text)).join(" or ")}`);
      }
    }
  },
});
