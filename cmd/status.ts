/**
 * `orch status JOB`: a job's aggregate and a row per host.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { addAudienceFlags, clientFromFlags, exitState, parseJobId, waitForJob } from "./_common.ts";
import { jobExit, printJob } from "./_format.ts";
import { durationFlag, linesFlag } from "./submit.ts";

/** `orch status`. */
export function statusCommand(): CommandUnknownOpts {
  const cmd = new Command("status")
    .description(
      "show a job: its aggregate, and per host the state, exit, duration, response and output",
    )
    .argument("<job>", "the job id")
    .option("--json", "print JSON instead of text")
    .option("-w, --wait", "wait for the job to finish first; the exit status tells the outcome")
    .option("--wait-timeout <duration>", "with --wait: give up waiting after this long (exit 5)")
    .option("--lines <n>", "lines of each output tail to show, or all (default 5)");
  addAudienceFlags(cmd);
  cmd.action(async (jobArg, opts) => {
    const id = parseJobId(jobArg);
    const lines = opts.lines === undefined ? undefined : linesFlag(opts.lines);
    const waitTimeout = opts.waitTimeout === undefined
      ? null
      : durationFlag("--wait-timeout", opts.waitTimeout);
    const client = await clientFromFlags(opts);
    const job = opts.wait ? await waitForJob(client, id, waitTimeout) : await client.job(id);
    printJob(job, { json: opts.json, lines });
    if (opts.wait) exitState.code = jobExit(job);
  });
  return cmd;
}
