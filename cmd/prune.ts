/**
 * `orch prune --before WHEN`: prune the jobs finished before then, now,
 * rather than waiting for the conductor's `retention`.
 *
 * @module
 */

import { command } from "../lib/cli/spec.ts";
import { OrchError } from "../lib/errors.ts";
import { AUDIENCE_OPTIONS, audienceClient, JSON_OPTION, out, printJson } from "./_common.ts";
import { summaryOf } from "./_commands.ts";
import { instantFlag } from "./submit.ts";

/** `orch prune`. */
export const pruneCommand = command({
  name: "prune",
  summary: summaryOf("prune"),
  description: "Prints how many jobs and tasks were pruned (or, with --dry-run, would be). " +
    "Needs the prune grant; each prune is in the audit trail.",
  options: [
    {
      long: "before",
      value: "when",
      help:
        "the jobs finished before then: an age (7d, 12h) or a time (2026-11-22T10:00:00Z), not later than now; needed",
    },
    { long: "dry-run", help: "count what would be pruned; prune nothing" },
    ...JSON_OPTION,
    ...AUDIENCE_OPTIONS,
  ],
  examples: [
    {
      says: "Count the jobs that finished more than 30 days ago",
      cmd: "orch prune --before 30d --dry-run",
    },
    { says: "Prune them", cmd: "orch prune --before 30d" },
    {
      says: "Prune every job finished before 2026",
      cmd: "orch prune --before 2026-01-01T00:00:00Z",
    },
  ],
  async run(input) {
    const beforeText = input.str("before");
    if (beforeText === undefined) {
      throw new OrchError("usage", "--before is needed: prune the jobs finished before when?", {
        hint: "e.g. orch prune --before 30d, or --before 2026-01-01T00:00:00Z",
      });
    }
    const now = Date.now();
    const before = instantFlag("--before", beforeText, now, -1);
    if (before > now) {
      throw new OrchError(
        "usage",
        `--before ${JSON.stringify(beforeText)} is later than now; only finished jobs are pruned`,
      );
    }
    if (before < 0) {
      throw new OrchError("usage", `--before ${JSON.stringify(beforeText)} is before 1970`);
    }
    const client = await audienceClient(input);
    const r = await client.prune(before, input.flag("dry-run"));
    if (input.flag("json")) {
      printJson(r);
      return;
    }
    const when = new Date(r.before).toISOString();
    const n = (k: number, what: string) => `${k} ${what}${k === 1 ? "" : "s"}`;
    out(
      r.dry_run
        ? `would prune ${n(r.jobs, "job")} and ${n(r.tasks, "task")} finished before ${when}`
        : `pruned ${n(r.jobs, "job")} and ${n(r.tasks, "task")} finished before ${when}`,
    );
  },
});
