/**
 * orch: reliable execution of predefined tasks on many hosts.
 *
 * `main.ts` turns the command line into one subcommand from `cmd/`, and is
 * the only place that decides the exit status.
 *
 * @module
 */

import { Command, CommanderError } from "@commander-js/extra-typings";
import { errorMessage, isUserError, OrchError } from "./lib/errors.ts";
import { ORCH_VERSION } from "./lib/protocol/mod.ts";
import { err, EXIT, exitState, out } from "./cmd/_common.ts";
import { safe } from "./cmd/_format.ts";
import { benchCommand } from "./cmd/bench.ts";
import { caCommand } from "./cmd/ca.ts";
import { cancelCommand } from "./cmd/cancel.ts";
import { drainCommand } from "./cmd/drain.ts";
import { conductorCommand } from "./cmd/conductor.ts";
import { dashboardCommand } from "./cmd/dashboard.ts";
import { auditCommand } from "./cmd/audit.ts";
import { pruneCommand } from "./cmd/prune.ts";
import { jobsCommand } from "./cmd/jobs.ts";
import { playerCommand } from "./cmd/player.ts";
import { playersCommand } from "./cmd/players.ts";
import { scoreCommand } from "./cmd/score.ts";
import { statusCommand } from "./cmd/status.ts";
import { scheduleCommand } from "./cmd/schedule.ts";
import { submitCommand } from "./cmd/submit.ts";
import { storeCommand } from "./cmd/store.ts";

/** The whole command tree. */
export function program(): Command {
  const root = new Command("orch")
    .description(
      "orch runs predefined tasks (scores) reliably on many hosts (players), coordinated by a conductor",
    )
    .version(ORCH_VERSION, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (s) => out(s.replace(/\n$/, "")),
      writeErr: (s) => err(s.replace(/\n$/, "")),
    });
  for (
    const sub of [
      conductorCommand(),
      playerCommand(),
      submitCommand(),
      statusCommand(),
      cancelCommand(),
      scheduleCommand(),
      jobsCommand(),
      playersCommand(),
      drainCommand(true),
      drainCommand(false),
      auditCommand(),
      pruneCommand(),
      dashboardCommand(),
      scoreCommand(),
      caCommand(),
      benchCommand(),
      storeCommand(),
    ]
  ) root.addCommand(sub);
  exitOverrideAll(root);
  return root;
}

function exitOverrideAll(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) exitOverrideAll(sub as Command);
}

/** Runs orch with `args`; resolves with the exit status. */
export async function main(args: string[]): Promise<number> {
  try {
    await program().parseAsync(args, { from: "user" });
    return exitState.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has printed its message; help and version are not errors.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (isUserError(e)) {
      const oe = e as OrchError;
      // Messages may quote what a user, a player or the conductor sent.
      err(`orch: ${safe(oe.message)}`);
      if (oe.hint) err(`hint: ${safe(oe.hint)}`);
      if (oe.code === "finished") return EXIT.finished;
      // Only standbys answered: no conductor that serves could be reached.
      return oe.code === "unavailable" || oe.code === "not_leader" ? EXIT.unavailable : EXIT.usage;
    }
    err(`orch: internal error: ${safe(errorMessage(e))}`);
    if (e instanceof Error && e.stack) err(e.stack);
    return EXIT.internal;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
