/**
 * orch: reliable execution of predefined tasks on many hosts.
 *
 * `main.ts` turns the command line into one subcommand from `cmd/`, and is
 * the only place that decides the exit status and prints errors. It loads
 * only the module of the command being run (see `cmd/_commands.ts`):
 * `orch --version` loads nothing else, `orch status` no `node:` module.
 *
 * @module
 */

import { ORCH_VERSION } from "./lib/version.ts";
import { COMMANDS, ROOT } from "./cmd/_commands.ts";
import { err, EXIT, exitState, out } from "./cmd/_io.ts";
import { safe } from "./cmd/_safe.ts";
import { errorMessage, isUserError, OrchError } from "./lib/errors.ts";
import { helpText } from "./lib/cli/help.ts";
import { parseCommand, unknownCommand } from "./lib/cli/parse.ts";
import type { CommandSpec } from "./lib/cli/spec.ts";

/** The terminal's width for `--help`, or 80 when stdout is not one. */
function columns(): number {
  try {
    return Deno.stdout.isTerminal() ? Deno.consoleSize().columns : 80;
  } catch {
    return 80;
  }
}

/** The top-level command `word` names, loaded. */
function load(word: string): Promise<CommandSpec> {
  const entry = COMMANDS.find((c) => c.name === word);
  if (!entry) throw unknownCommand(ROOT, word, []);
  return entry.load();
}

/** Runs the command line `args`; resolves with the exit status. */
async function dispatch(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first === "-V" || first === "--version") {
    out(ORCH_VERSION);
    return EXIT.ok;
  }
  if (first === undefined || first === "-h" || first === "--help") {
    if (first === undefined) {
      // Help on stderr, as a usage error: the command was missing.
      err(helpText(ROOT, [], columns()));
      return EXIT.usage;
    }
    out(helpText(ROOT, [], columns()));
    return EXIT.ok;
  }
  if (first === "help") {
    // `orch help submit`, `orch help schedule add`.
    if (rest.length === 0) {
      out(helpText(ROOT, [], columns()));
      return EXIT.ok;
    }
    const parsed = parseCommand(await load(rest[0]), [...rest.slice(1), "--help"], [rest[0]]);
    out(helpText(parsed.spec, parsed.kind === "help" ? parsed.path : [rest[0]], columns()));
    return EXIT.ok;
  }
  if (first.startsWith("-")) {
    throw new OrchError("usage", `orch has no option ${JSON.stringify(first)}`, {
      hint: "options come after the command: run 'orch --help' for the commands",
    });
  }
  const parsed = parseCommand(await load(first), rest, [first]);
  if (parsed.kind === "help") {
    out(helpText(parsed.spec, parsed.path, columns()));
    return EXIT.ok;
  }
  await parsed.spec.run!(parsed.input);
  return exitState.code;
}

/** True when the command line asks for JSON (`--json` before any `--`). */
function wantsJson(args: string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).includes("--json");
}

/** Prints error `e` in the one shape every orch error has; returns the exit status. */
function report(e: unknown, json: boolean): number {
  const user = isUserError(e);
  const oe = e instanceof OrchError ? e : null;
  const code = user ? oe!.code : "internal";
  const message = user ? oe!.message : `internal error: ${errorMessage(e)}`;
  const hint = user ? oe!.hint : undefined;
  if (json) {
    // The API's error shape; on stderr, so that stdout holds only results.
    err(JSON.stringify({ error: { code, message, ...(hint ? { hint } : {}) } }));
  } else {
    // Messages may quote what a user, a player or the conductor sent.
    err(`orch: ${safe(message)}`);
    if (hint) err(`hint: ${safe(hint)}`);
  }
  if (!user) {
    if (!json && e instanceof Error && e.stack) err(safe(e.stack));
    return EXIT.internal;
  }
  if (code === "finished") return EXIT.finished;
  // Only standbys answered: no conductor that serves could be reached.
  return code === "unavailable" || code === "not_leader" ? EXIT.unavailable : EXIT.usage;
}

/** Runs orch with `args`; resolves with the exit status. */
export async function main(args: string[]): Promise<number> {
  try {
    return await dispatch(args);
  } catch (e) {
    return report(e, wantsJson(args));
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
