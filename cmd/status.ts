/**
 * `orch status JOB`: a job's summary, and a page of its tasks with their
 * output tails.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { OrchError } from "../lib/errors.ts";
import {
  normalizePlayerName,
  PLAYER_NAME,
  PLAYER_NAME_DESC,
  TASK_STATES,
  type TaskState,
} from "../lib/protocol/mod.ts";
import { addAudienceFlags, clientFromFlags, exitState, parseJobId } from "./_common.ts";
import { followJob, waitWithProgress } from "./_follow.ts";
import { DEFAULT_STATUS_LIMIT, jobExit, MAX_STATUS_LIMIT, printJob } from "./_format.ts";
import { durationFlag, linesFlag } from "./submit.ts";

/** Highest `--page` accepted. */
const MAX_PAGE = 1_000_000;

/** Parses `--page N`: 1..1000000. */
export function pageFlag(text: string): number {
  if (!/^\d{1,7}$/.test(text) || Number(text) < 1 || Number(text) > MAX_PAGE) {
    throw new OrchError("usage", `--page ${JSON.stringify(text)} is not a number 1..${MAX_PAGE}`);
  }
  return Number(text);
}

/** Parses `--limit N`: tasks a page, 1..100. */
export function limitFlag(text: string): number {
  if (!/^\d{1,3}$/.test(text) || Number(text) < 1 || Number(text) > MAX_STATUS_LIMIT) {
    throw new OrchError(
      "usage",
      `--limit ${JSON.stringify(text)} is not a number 1..${MAX_STATUS_LIMIT}`,
    );
  }
  return Number(text);
}

/** Parses `--state STATE`: one of the task states. */
export function stateFlag(text: string): TaskState {
  if (!(TASK_STATES as readonly string[]).includes(text)) {
    throw new OrchError(
      "usage",
      `--state ${JSON.stringify(text)} is not a task state (${TASK_STATES.join(", ")})`,
    );
  }
  return text as TaskState;
}

/** Parses `--host NAME`: a player name. */
export function hostFlag(text: string): string {
  if (!PLAYER_NAME.test(text)) {
    throw new OrchError("usage", `--host ${JSON.stringify(text)} is not ${PLAYER_NAME_DESC}`);
  }
  return normalizePlayerName(text);
}

/** `orch status`. */
export function statusCommand(): CommandUnknownOpts {
  const cmd = new Command("status")
    .description(
      "show a job: its summary, and a page of its tasks with state, exit, duration, response and output",
    )
    .argument("<job>", "the job id")
    .option("--json", 'print JSON instead of text: {"job": …, "tasks": …}')
    .option("-w, --wait", "wait for the job to finish first; the exit status tells the outcome")
    .option(
      "-f, --follow",
      "print the job's output as it arrives (host | line; host ! for stderr), then the outcome as --wait does",
    )
    .option(
      "--wait-timeout <duration>",
      "with --wait or --follow: give up waiting after this long (exit 5)",
    )
    .option("--lines <n>", "lines of each output tail to show, or all (default 5)")
    .option("--host <name>", "only the task on this host")
    .option("--state <state>", `only tasks in this state (${TASK_STATES.join(", ")})`)
    .option("--page <n>", "which page of tasks to show (default 1)")
    .option(
      "--limit <n>",
      `tasks a page, at most ${MAX_STATUS_LIMIT} (default ${DEFAULT_STATUS_LIMIT})`,
    );
  addAudienceFlags(cmd);
  cmd.action(async (jobArg, opts) => {
    const id = parseJobId(jobArg);
    const lines = opts.lines === undefined ? undefined : linesFlag(opts.lines);
    const waitTimeout = opts.waitTimeout === undefined
      ? null
      : durationFlag("--wait-timeout", opts.waitTimeout);
    const show = {
      json: opts.json,
      lines,
      page: opts.page === undefined ? undefined : pageFlag(opts.page),
      limit: opts.limit === undefined ? undefined : limitFlag(opts.limit),
      state: opts.state === undefined ? undefined : stateFlag(opts.state),
      host: opts.host === undefined ? undefined : hostFlag(opts.host),
    };
    const client = await clientFromFlags(opts);
    if (opts.follow) {
      await followJob(client, id, { timeoutMs: waitTimeout, json: opts.json, show });
      return;
    }
    const job = opts.wait ? await waitWithProgress(client, id, waitTimeout) : await client.job(id);
    await printJob(client, job, show);
    if (opts.wait) exitState.code = jobExit(job);
  });
  return cmd;
}
