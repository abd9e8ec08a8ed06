/**
 * `orch jobs`: the newest jobs, filtered by state, score, submitter and time.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { OrchError } from "../lib/errors.ts";
import {
  AUDIT_WHO,
  JOB_STATE_FILTERS,
  type JobQuery,
  type JobStateFilter,
  SCORE_NAME,
  SCORE_NAME_DESC,
} from "../lib/protocol/mod.ts";
import { addAudienceFlags, clientFromFlags, out, pageFlags } from "./_common.ts";
import { formatJobs } from "./_format.ts";
import { instantFlag } from "./submit.ts";

/** `orch jobs`. */
export function jobsCommand(): CommandUnknownOpts {
  const cmd = new Command("jobs")
    .description("list the newest jobs, optionally filtered")
    .option(
      "--state <state>",
      `only jobs in this state: ${JOB_STATE_FILTERS.join(", ")}`,
    )
    .option("--score <name>", "only jobs of this score")
    .option("--by <caller>", "only jobs this caller submitted (local:alice, audience:bob)")
    .option(
      "--since <when>",
      "only jobs submitted since then: a duration ago (1h, 7d) or a time (2026-11-22T10:00:00Z)",
    )
    .option("--until <when>", "only jobs submitted before then (same forms as --since)")
    .option("-n, --limit <n>", "how many", "20")
    .option("--before <id>", "only jobs older than this id (paging)")
    .option("--json", "print JSON instead of text");
  addAudienceFlags(cmd);
  cmd.action(async (opts) => {
    const page = pageFlags(opts, "a job id");
    const filter = jobFilter(opts, Date.now());
    const client = await clientFromFlags(opts);
    const jobs = await client.jobs(page.limit, page.before, filter);
    if (opts.json) out(JSON.stringify(jobs, null, 2));
    else for (const line of formatJobs(jobs)) out(line);
  });
  return cmd;
}

/** The filters of `orch jobs`, checked; a bad one is a usage error naming its flag. */
export function jobFilter(
  opts: { state?: string; score?: string; by?: string; since?: string; until?: string },
  now: number,
): Omit<JobQuery, "limit" | "before"> {
  const f: Omit<JobQuery, "limit" | "before"> = {};
  if (opts.state !== undefined) {
    if (!(JOB_STATE_FILTERS as readonly string[]).includes(opts.state)) {
      throw new OrchError(
        "usage",
        `--state ${JSON.stringify(opts.state)} is not one of ${JOB_STATE_FILTERS.join(", ")}`,
      );
    }
    f.state = opts.state as JobStateFilter;
  }
  if (opts.score !== undefined) {
    if (!SCORE_NAME.test(opts.score)) {
      throw new OrchError(
        "usage",
        `--score ${JSON.stringify(opts.score)} is not ${SCORE_NAME_DESC}`,
      );
    }
    f.score = opts.score;
  }
  if (opts.by !== undefined) {
    if (!AUDIT_WHO.test(opts.by)) {
      throw new OrchError(
        "usage",
        `--by ${JSON.stringify(opts.by)} is not a caller (local:USER or audience:NAME)`,
      );
    }
    f.submittedBy = opts.by;
  }
  if (opts.since !== undefined) f.since = Math.max(0, instantFlag("--since", opts.since, now, -1));
  if (opts.until !== undefined) f.until = Math.max(0, instantFlag("--until", opts.until, now, -1));
  return f;
}
