/**
 * `orch cancel JOB`: tasks not started end cancelled; running ones are
 * stopped (their whole process group) and end cancelled.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import {
  addAudienceFlags,
  clientFromFlags,
  exitState,
  out,
  parseJobId,
  waitForJob,
} from "./_common.ts";
import { jobExit, printJob } from "./_format.ts";

/** `orch cancel`. */
export function cancelCommand(): CommandUnknownOpts {
  const cmd = new Command("cancel")
    .description("cancel a job: queued tasks end at once, running ones are stopped")
    .argument("<job>", "the job id")
    .option("-w, --wait", "wait until every task has ended, then show the job")
    .option("--json", "print JSON instead of text");
  addAudienceFlags(cmd);
  cmd.action(async (jobArg, opts) => {
    const id = parseJobId(jobArg);
    const client = await clientFromFlags(opts);
    const r = await client.cancel(id);
    if (!opts.wait) {
      if (opts.json) out(JSON.stringify(r));
      else {out(
          `job ${id}: ${r.cancelled} queued task${
            r.cancelled === 1 ? "" : "s"
          } cancelled, ${r.stopping} running being stopped`,
        );}
      return;
    }
    const job = await waitForJob(client, id, null);
    await printJob(client, job, { json: opts.json });
    exitState.code = jobExit(job);
  });
  return cmd;
}
