/**
 * `orch jobs`: the newest jobs.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { addAudienceFlags, clientFromFlags, out, pageFlags } from "./_common.ts";
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
    const page = pageFlags(opts, "a job id");
    const client = await clientFromFlags(opts);
    const jobs = await client.jobs(page.limit, page.before);
    if (opts.json) out(JSON.stringify(jobs, null, 2));
    else for (const line of formatJobs(jobs)) out(line);
  });
  return cmd;
}
