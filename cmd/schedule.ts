/**
 * `orch schedule add|list|remove|run-now`: jobs the conductor submits when
 * they are due, by cron expression or at a fixed interval.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { OrchError } from "../lib/errors.ts";
import { decodeScheduleRequest, MISSED_POLICIES, type ScheduleView } from "../lib/protocol/mod.ts";
import { addAudienceFlags, clientFromFlags, out } from "./_common.ts";
import { safe } from "./_safe.ts";
import { formatTime, table } from "./_format.ts";
import { addJobFlags, durationFlag, jobFlags, type JobFlagValues, parseParams } from "./submit.ts";

function specText(s: ScheduleView): string {
  if ("every_ms" in s.spec) return `every ${s.spec.every_ms / 1000}s`;
  return `cron ${s.spec.cron}${s.spec.timezone ? ` (${s.spec.timezone})` : ""}`;
}

function addCommand(): CommandUnknownOpts {
  const cmd = new Command("add")
    .description("add a schedule: submit SCORE on the targets each time it is due")
    .argument("<name>", "the schedule's name")
    .argument("<score>", "the score to run")
    .argument("[params...]", "parameters as KEY=VALUE (never secret ones)")
    .option("--cron <expr>", "due times as a cron expression (UTC unless --timezone)")
    .option("--timezone <zone>", "with --cron: the time zone of the expression")
    .option("--every <duration>", "due at this interval from now (at least 1s)")
    .option(
      "--missed <policy>",
      `due times missed while the conductor was down: ${MISSED_POLICIES.join(" or ")}`,
      "catch-up-once",
    )
    .option("--json", "print JSON instead of text");
  addJobFlags(cmd);
  addAudienceFlags(cmd);
  cmd.action(async (name, score, args, opts) => {
    if ((opts.cron === undefined) === (opts.every === undefined)) {
      throw new OrchError("usage", "say --cron EXPR or --every DURATION (exactly one of them)");
    }
    // Typed by commander only for the options added in this chain.
    const fields = jobFlags(opts as unknown as JobFlagValues);
    const body: Record<string, unknown> = {
      name,
      policy: opts.missed,
      job: { score, ...fields, params: parseParams(args) },
    };
    if (opts.cron !== undefined) body.cron = opts.cron;
    else body.every_ms = durationFlag("--every", opts.every!);
    if (opts.timezone !== undefined) body.timezone = opts.timezone;
    const req = decodeScheduleRequest(body);
    const client = await clientFromFlags(opts);
    const s = await client.addSchedule(req);
    if (opts.json) out(JSON.stringify(s));
    else out(`schedule ${safe(s.name)} added; next due ${formatTime(s.next_due)}`);
  });
  return cmd;
}

function listCommand(): CommandUnknownOpts {
  const cmd = new Command("list")
    .description("list the schedules, with their last and next due times")
    .option("--json", "print JSON instead of text");
  addAudienceFlags(cmd);
  cmd.action(async (opts) => {
    const client = await clientFromFlags(opts);
    const list = await client.schedules();
    if (opts.json) {
      out(JSON.stringify({ schedules: list }));
      return;
    }
    if (list.length === 0) {
      out("no schedules");
      return;
    }
    const rows = list.map((s) => [
      safe(s.name),
      safe(specText(s)),
      s.policy,
      safe(s.job.score),
      `${s.job.scope === "all" ? "all" : "one"} of ${safe(s.job.targets.join(" "))}`,
      safe(s.owner_label),
      formatTime(s.last_due),
      formatTime(s.next_due),
    ]);
    const header = ["NAME", "WHEN", "MISSED", "SCORE", "TARGETS", "OWNER", "LAST DUE", "NEXT DUE"];
    for (const line of table(header, rows)) out(line);
  });
  return cmd;
}

function removeCommand(): CommandUnknownOpts {
  const cmd = new Command("remove")
    .description("remove a schedule (jobs it submitted stay)")
    .argument("<name>", "the schedule's name")
    .option("--json", "print JSON instead of text");
  addAudienceFlags(cmd);
  cmd.action(async (name, opts) => {
    const client = await clientFromFlags(opts);
    await client.removeSchedule(name);
    out(opts.json ? JSON.stringify({ name, removed: true }) : `schedule ${safe(name)} removed`);
  });
  return cmd;
}

function runNowCommand(): CommandUnknownOpts {
  const cmd = new Command("run-now")
    .description("submit a schedule's job now (its due times stay as they are)")
    .argument("<name>", "the schedule's name")
    .option("--json", "print JSON instead of text");
  addAudienceFlags(cmd);
  cmd.action(async (name, opts) => {
    const client = await clientFromFlags(opts);
    const id = await client.runSchedule(name);
    out(opts.json ? JSON.stringify({ name, id }) : String(id));
  });
  return cmd;
}

/** `orch schedule`. */
export function scheduleCommand(): CommandUnknownOpts {
  return new Command("schedule")
    .description("jobs submitted when they are due: add, list, remove, run-now")
    .addCommand(addCommand())
    .addCommand(listCommand())
    .addCommand(removeCommand())
    .addCommand(runNowCommand());
}
