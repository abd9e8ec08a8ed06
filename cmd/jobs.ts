/**
 * `orch jobs`: the newest jobs.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { OrchError } from "../lib/errors.ts";
import { addAudienceFlags, clientFromFlags, out } from "./_common.ts";
import { formatJobs } from "./_format.ts";

/** `orch jobs`. */
export function jobsCommand(): CommandUnknownOpts {
  const cmd = new Command("jobs")
    .description("list the newest jobs")
    .option("-n, --limit <n>", "how many", "20")
    .option("--before <id>", "only jobs older than this id (paging)")
    .option("--json", "print JSON instead of text");
  addAudienceFlags(cmd);
  cmd.action(async (opts) => {
    if (!/^\d{1,4}$/.test(opts.limit) || Number(opts.limit) < 1 || Number(opts.limit) > 1000) {
      throw new OrchError("usage", `--limit ${JSON.stringify(opts.limit)} is not a number 1..1000`);
    }
    if (opts.before !== undefined && !/^\d{1,15}$/.test(opts.before)) {
      throw new OrchError("usage", `--before ${JSON.stringify(opts.before)} is not a job id`);
    }
    const client = await clientFromFlags(opts);
    const jobs = await client.jobs(
      Number(opts.limit),
      opts.before ? Number(opts.before) : undefined,
    );
    if (opts.json) out(JSON.stringify(jobs, null, 2));
    else for (const line of formatJobs(jobs)) out(line);
  });
  return cmd;
}
