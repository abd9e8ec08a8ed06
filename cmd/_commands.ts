/**
 * The top-level commands: each one's name and summary, and how to load its
 * module. Only the module of the command being run is loaded, so that
 * `orch submit` does not load the conductor, the player, SQLite or the
 * certificate library, and `orch --version` loads nothing at all.
 *
 * @module
 */

import type { CommandSpec } from "../lib/cli/spec.ts";

/** One top-level command, before its module is loaded. */
export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<CommandSpec>;
}

/** The top-level commands, in the order `orch --help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: "conductor",
    summary:
      "run the conductor: the durable queue that players connect to and the audience submits to",
    load: () => import("./conductor.ts").then((m) => m.conductorCommand),
  },
  {
    name: "player",
    summary: "run a player: connect to the conductor and run the scores it assigns",
    load: () => import("./player.ts").then((m) => m.playerCommand),
  },
  {
    name: "submit",
    summary: "submit a job: run SCORE on all of, or one of, the target hosts",
    load: () => import("./submit.ts").then((m) => m.submitCommand),
  },
  {
    name: "status",
    summary:
      "show a job: its summary, and a page of its tasks with state, exit, duration, response and output",
    load: () => import("./status.ts").then((m) => m.statusCommand),
  },
  {
    name: "cancel",
    summary: "cancel a job: queued tasks end at once, running ones are stopped",
    load: () => import("./cancel.ts").then((m) => m.cancelCommand),
  },
  {
    name: "schedule",
    summary: "jobs submitted when they are due: add, list, remove, run-now",
    load: () => import("./schedule.ts").then((m) => m.scheduleCommand),
  },
  {
    name: "jobs",
    summary: "list the newest jobs, optionally filtered",
    load: () => import("./jobs.ts").then((m) => m.jobsCommand),
  },
  {
    name: "players",
    summary:
      "list the players: listed, connected, running, labels, facts; only those a target matches when given",
    load: () => import("./players.ts").then((m) => m.playersCommand),
  },
  {
    name: "drain",
    summary: "stop new work going to a player; its running work finishes",
    load: () => import("./drain.ts").then((m) => m.drainCommand),
  },
  {
    name: "undrain",
    summary: "let new work go to a drained player again",
    load: () => import("./drain.ts").then((m) => m.undrainCommand),
  },
  {
    name: "audit",
    summary:
      "list the audit trail: submits, reads of parameters, cancels and refused connections, newest first",
    load: () => import("./audit.ts").then((m) => m.auditCommand),
  },
  {
    name: "prune",
    summary:
      "prune finished jobs (with their tasks and output) now; jobs not finished are never pruned",
    load: () => import("./prune.ts").then((m) => m.pruneCommand),
  },
  {
    name: "dashboard",
    summary:
      "serve the dashboard on loopback through the audience socket, as the user who runs it; prints the address to open",
    load: () => import("./dashboard.ts").then((m) => m.dashboardCommand),
  },
  {
    name: "score",
    summary: "work with scores: lint them",
    load: () => import("./score.ts").then((m) => m.scoreCommand),
  },
  {
    name: "ca",
    summary: "make the deployment CA and the certificates it issues",
    load: () => import("./ca.ts").then((m) => m.caCommand),
  },
  {
    name: "bench",
    summary:
      "benchmark the conductor against simulated players, in a throwaway deployment of its own",
    load: () => import("./bench.ts").then((m) => m.benchCommand),
  },
  {
    name: "store",
    summary: "work on the conductor's store itself: migrate it to another",
    load: () => import("./store.ts").then((m) => m.storeCommand),
  },
  {
    name: "completion",
    summary: "print the shell completion script for bash, zsh or fish",
    load: () => import("./completion.ts").then((m) => m.completionCommand),
  },
  {
    name: "man",
    summary: "print the manual page (roff), made from the same declarations as --help",
    load: () => import("./completion.ts").then((m) => m.manCommand),
  },
];

/** The summary of top-level command `name`: each module takes its own from here. */
export function summaryOf(name: string): string {
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) throw new Error(`no top-level command ${name}`);
  return entry.summary;
}

/** The root command as `orch --help` shows it, with every command unloaded. */
export const ROOT: CommandSpec = {
  name: "orch",
  summary:
    "orch runs predefined tasks (scores) reliably on many hosts (players), coordinated by a conductor",
  commands: COMMANDS.map(({ name, summary }) => ({ name, summary })),
  examples: [
    {
      says: "Run the hello score on every host whose name starts with web, and wait",
      cmd: "orch submit hello --all --target 'web*' --wait",
    },
    { says: "Show job 42 and the tails of its output", cmd: "orch status 42" },
    { says: "List the players a selector matches", cmd: "orch players role=web" },
  ],
};

/** Every command loaded: for the man page and the completions. */
export async function loadAll(): Promise<CommandSpec> {
  return { ...ROOT, commands: await Promise.all(COMMANDS.map((c) => c.load())) };
}
