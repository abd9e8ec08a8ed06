/**
 * `orch jobs`: the newest jobs, filtered by state, score, submitter and time.
 *
 * @module
 */

import { command, type Input } from "../lib/cli/spec.ts";
import { OrchError } from "../lib/errors.ts";
import {
  AUDIT_WHO,
  JOB_STATE_FILTERS,
  type JobQuery,
  type JobStateFilter,
  SCORE_NAME,
  SCORE_NAME_DESC,
} from "../lib/protocol/mod.ts";
import {
  AUDIENCE_OPTIONS,
  audienceClient,
  JSON_OPTION,
  out,
  pageFlags,
  pageOptions,
  printJson,
} from "./_common.ts";
import { summaryOf } from "./_commands.ts";
import { formatJobs } from "./_format.ts";
import { instantFlag } from "./submit.ts";

/** `orch jobs`. */
export const jobsCommand = command({
  name: "jobs",
  summary: summaryOf("jobs"),
  description:
    "Newest first, one line each: id, score, scope, targets, aggregate, when and by whom it was " +
    "submitted. Filters combine; each narrows the list. The next page is --before the last id " +
    "shown, with the same filters.",
  options: [
    {
      long: "state",
      value: "state",
      help: `only jobs in this state: ${JOB_STATE_FILTERS.join(", ")}`,
      complete: JOB_STATE_FILTERS,
    },
    { long: "score", value: "name", help: "only jobs of this score" },
    {
      long: "by",
      value: "caller",
      help: "only jobs this caller submitted (local:alice, audience:bob)",
    },
    {
      long: "since",
      value: "when",
      help:
        "only jobs submitted since then: a duration ago (1h, 7d) or a time (2026-11-22T10:00:00Z)",
    },
    {
      long: "until",
      value: "when",
      help: "only jobs submitted before then (same forms as --since)",
    },
    ...pageOptions("20", "jobs"),
    ...JSON_OPTION,
    ...AUDIENCE_OPTIONS,
  ],
  examples: [
    { says: "The 20 newest jobs", cmd: "orch jobs" },
    {
      says: "Failed deploys of the last day",
      cmd: "orch jobs --state failure --score deploy --since 1d",
    },
    {
      says: "Jobs still running or queued, submitted by alice",
      cmd: "orch jobs --state open --by local:alice",
    },
    { says: "The next page after job 120, as JSON", cmd: "orch jobs --before 120 --json" },
  ],
  async run(input) {
    const page = pageFlags(input, "a job id");
    const filter = jobFilter(input, Date.now());
    const client = await audienceClient(input);
    const jobs = await client.jobs(page.limit, page.before, filter);
    // GET /v1/jobs answers {jobs: [...]}.
    if (input.flag("json")) printJson({ jobs });
    else for (const line of formatJobs(jobs)) out(line);
  },
});

/** The filters of `orch jobs`, checked; a bad one is a usage error naming its flag. */
export function jobFilter(
  input: Input<"state" | "score" | "by" | "since" | "until">,
  now: number,
): Omit<JobQuery, "limit" | "before"> {
  const f: Omit<JobQuery, "limit" | "before"> = {};
  const state = input.str("state");
  if (state !== undefined) {
    if (!(JOB_STATE_FILTERS as readonly string[]).includes(state)) {
      throw new OrchError(
        "usage",
        `--state ${JSON.stringify(state)} is not one of ${JOB_STATE_FILTERS.join(", ")}`,
      );
    }
    f.state = state as JobStateFilter;
  }
  const score = input.str("score");
  if (score !== undefined) {
    if (!SCORE_NAME.test(score)) {
      throw new OrchError("usage", `--score ${JSON.stringify(score)} is not ${SCORE_NAME_DESC}`);
    }
    f.score = score;
  }
  const by = input.str("by");
  if (by !== undefined) {
    if (!AUDIT_WHO.test(by)) {
      throw new OrchError(
        "usage",
        `--by ${JSON.stringify(by)} is not a caller (local:USER or audience:NAME)`,
      );
    }
    f.submittedBy = by;
  }
  const since = input.str("since");
  if (since !== undefined) f.since = Math.max(0, instantFlag("--since", since, now, -1));
  const until = input.str("until");
  if (until !== undefined) f.until = Math.max(0, instantFlag("--until", until, now, -1));
  return f;
}
