/**
 * `orch cancel JOB`: tasks not started end cancelled; running ones are
 * stopped (their whole process group) and end cancelled.
 *
 * @module
 */

import { command } from "../lib/cli/spec.ts";
import {
  AUDIENCE_OPTIONS,
  audienceClient,
  exitState,
  JSON_OPTION,
  out,
  parseJobId,
  printJson,
  waitForJob,
} from "./_common.ts";
import { summaryOf } from "./_commands.ts";
import { jobExit, printJob } from "./_format.ts";

/** `orch cancel`. */
export const cancelCommand = command({
  name: "cancel",
  summary: summaryOf("cancel"),
  description:
    "Prints how many queued tasks were cancelled and how many running ones are being stopped. " +
    "With --wait it waits until every task has ended and prints the job as orch status does; " +
    "the exit status then tells the job's outcome (0 success, 3 failure, 4 partial). " +
    "A job that had already finished exits 7.",
  args: [{ name: "job", help: "the job id", required: true }],
  options: [
    { long: "wait", short: "w", help: "wait until every task has ended, then show the job" },
    ...JSON_OPTION,
    ...AUDIENCE_OPTIONS,
  ],
  examples: [
    { says: "Cancel job 42", cmd: "orch cancel 42" },
    {
      says: "Cancel job 42 and wait for its running tasks to stop, then show it",
      cmd: "orch cancel 42 --wait",
    },
    {
      says: "Cancel job 42 on a remote conductor, for a script",
      cmd: "orch cancel 42 --conductor conductor.example.net --json",
    },
  ],
  async run(input) {
    const id = parseJobId(input.args[0]);
    const json = input.flag("json");
    const client = await audienceClient(input);
    const r = await client.cancel(id);
    if (!input.flag("wait")) {
      if (json) printJson(r);
      else {
        out(
          `job ${id}: ${r.cancelled} queued task${
            r.cancelled === 1 ? "" : "s"
          } cancelled, ${r.stopping} running being stopped`,
        );
      }
      return;
    }
    const job = await waitForJob(client, id, null);
    await printJob(client, job, { json });
    exitState.code = jobExit(job);
  },
});
