/**
 * `orch prune --before WHEN`: prune the jobs finished before then, now,
 * rather than waiting for the conductor's `retention`.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { OrchError } from "../lib/errors.ts";
import { addAudienceFlags, clientFromFlags, out } from "./_common.ts";
import { instantFlag } from "./submit.ts";

/** `orch prune`. */
export function pruneCommand(): CommandUnknownOpts {
  const cmd = new Command("prune")
    .description(
      "prune finished jobs (with their tasks and output) now; jobs not finished are never pruned",
    )
    .option(
      "--before <when>",
      "the jobs finished before then: an age (7d, 12h) or a time (2026-11-22T10:00:00Z), not later than now",
    )
    .option("--dry-run", "count what would be pruned; prune nothing")
    .option("--json", "print JSON instead of text");
  addAudienceFlags(cmd);
  cmd.action(async (opts) => {
    if (opts.before === undefined) {
      throw new OrchError("usage", "--before is needed: prune the jobs finished before when?", {
        hint: "e.g. orch prune --before 30d, or --before 2026-01-01T00:00:00Z",
      });
    }
    const now = Date.now();
    const before = instantFlag("--before", opts.before, now, -1);
    if (before > now) {
      throw new OrchError(
        "usage",
        `--before ${JSON.stringify(opts.before)} is later than now; only finished jobs are pruned`,
      );
    }
    if (before < 0) {
      throw new OrchError("usage", `--before ${JSON.stringify(opts.before)} is before 1970`);
    }
    const client = await clientFromFlags(opts);
    const r = await client.prune(before, opts.dryRun === true);
    if (opts.json) {
      out(JSON.stringify(r));
      return;
    }
    const when = new Date(r.before).toISOString();
    const n = (k: number, what: string) => `${k} ${what}${k === 1 ? "" : "s"}`;
    out(
      r.dry_run
        ? `would prune ${n(r.jobs, "job")} and ${n(r.tasks, "task")} finished before ${when}`
        : `pruned ${n(r.jobs, "job")} and ${n(r.tasks, "task")} finished before ${when}`,
    );
  });
  return cmd;
}
