/**
 * `orch status JOB`: a job's summary, and a page of its tasks with their
 * output tails.
 *
 * @module
 */

import { command } from "../lib/cli/spec.ts";
import { OrchError } from "../lib/errors.ts";
import {
  normalizePlayerName,
  PLAYER_NAME,
  PLAYER_NAME_DESC,
  TASK_STATES,
  type TaskState,
} from "../lib/protocol/mod.ts";
import { AUDIENCE_OPTIONS, audienceClient, exitState, JSON_OPTION, parseJobId } from "./_common.ts";
import { summaryOf } from "./_commands.ts";
import { followJob, waitWithProgress } from "./_follow.ts";
import { DEFAULT_STATUS_LIMIT, jobExit, MAX_STATUS_LIMIT, printJob } from "./_format.ts";
import { optionalDuration, optionalLines, WAIT_OPTIONS } from "./submit.ts";

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
export const statusCommand = command({
  name: "status",
  summary: summaryOf("status"),
  description:
    "With --wait or --follow the exit status tells the job's outcome (0 success, 3 failure, " +
    "4 partial, 5 still running when the wait ended).",
  args: [{ name: "job", help: "the job id", required: true }],
  options: [
    ...WAIT_OPTIONS,
    { long: "host", value: "name", help: "only the task on this host", complete: "host" },
    {
      long: "state",
      value: "state",
      help: "only tasks in this state",
      complete: TASK_STATES,
    },
    { long: "page", value: "n", help: "which page of tasks to show", default: "1" },
    {
      long: "limit",
      value: "n",
      help: `tasks a page, at most ${MAX_STATUS_LIMIT}`,
      default: String(DEFAULT_STATUS_LIMIT),
    },
    ...JSON_OPTION,
    ...AUDIENCE_OPTIONS,
  ],
  examples: [
    {
      says: "Show job 42: its outcome and the last lines of each task's output",
      cmd: "orch status 42",
    },
    {
      says: "Show only the failed tasks of job 42, with all of their output",
      cmd: "orch status 42 --state failed --lines all",
    },
    {
      says: "Wait for job 42 to finish, then print it as JSON",
      cmd: "orch status 42 --wait --json",
    },
    { says: "Follow job 42's output live until it ends", cmd: "orch status 42 --follow" },
  ],
  async run(input) {
    const id = parseJobId(input.args[0]);
    const waitTimeout = optionalDuration("--wait-timeout", input.str("wait-timeout"));
    const json = input.flag("json");
    const state = input.str("state");
    const host = input.str("host");
    const show = {
      json,
      lines: optionalLines(input.str("lines")),
      page: pageFlag(input.str("page")!),
      limit: limitFlag(input.str("limit")!),
      state: state === undefined ? undefined : stateFlag(state),
      host: host === undefined ? undefined : hostFlag(host),
    };
    const client = await audienceClient(input);
    if (input.flag("follow")) {
      await followJob(client, id, { timeoutMs: waitTimeout, json, show });
      return;
    }
    const wait = input.flag("wait");
    const job = wait ? await waitWithProgress(client, id, waitTimeout) : await client.job(id);
    await printJob(client, job, show);
    if (wait) exitState.code = jobExit(job);
  },
});
