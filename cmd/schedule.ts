/**
 * `orch schedule add|list|remove|run-now`: jobs the conductor submits when
 * they are due, by cron expression or at a fixed interval.
 *
 * @module
 */

import { command } from "../lib/cli/spec.ts";
import { OrchError } from "../lib/errors.ts";
import {
  decodeScheduleRequest,
  MISSED_POLICIES,
  type ScheduleViewJson as ScheduleView,
} from "../lib/protocol/mod.ts";
import { AUDIENCE_OPTIONS, audienceClient, JSON_OPTION, out, printJson } from "./_common.ts";
import { summaryOf } from "./_commands.ts";
import { safe } from "./_safe.ts";
import { formatTime, table } from "./_format.ts";
import { durationFlag, JOB_OPTIONS, jobFlags, parseParams } from "./submit.ts";

function specText(s: ScheduleView): string {
  if ("every_ms" in s.spec) return `every ${s.spec.every_ms / 1000}s`;
  return `cron ${s.spec.cron}${s.spec.timezone ? ` (${s.spec.timezone})` : ""}`;
}

const NAME_ARG = { name: "name", help: "the schedule's name", required: true } as const;

const addCommand = command({
  name: "add",
  summary: "add a schedule: submit SCORE on the targets each time it is due",
  description:
    "Takes the options of orch submit that say what runs where and how, but no --deadline and " +
    "no secret parameters (a schedule is stored; secrets are not). Targets are resolved at each " +
    "run. Prints when it is next due.",
  args: [
    NAME_ARG,
    { name: "score", help: "the score to run", required: true },
    { name: "params", help: "parameters as KEY=VALUE (never secret ones)", variadic: true },
  ],
  options: [
    {
      long: "cron",
      value: "expr",
      help:
        "due times as a cron expression: 5 fields, or 6 with seconds first (UTC unless --timezone)",
    },
    {
      long: "timezone",
      value: "zone",
      help: "with --cron: the time zone of the expression, e.g. Europe/Berlin",
      shows: "UTC",
    },
    { long: "every", value: "duration", help: "due at this interval from now (at least 1s)" },
    {
      long: "missed",
      value: "policy",
      help: `due times missed while the conductor was down: ${
        MISSED_POLICIES.join(" (one job for all of them) or ")
      } (none)`,
      default: "catch-up-once",
      complete: MISSED_POLICIES,
    },
    ...JOB_OPTIONS,
    ...JSON_OPTION,
    ...AUDIENCE_OPTIONS,
  ],
  examples: [
    {
      says: "Run cleanup on web1 and web2 every night at 03:30 UTC, with a parameter",
      cmd:
        "orch schedule add nightly-cleanup cleanup --all -t web1,web2 --cron '30 3 * * *' KEEP=7",
    },
    {
      says: "Run sysinfo on one of two hosts every 15 minutes; skip runs missed",
      cmd: "orch schedule add probe sysinfo --one -t web1 -t web2 --every 15m --missed skip",
    },
    {
      says: "Deploy to the web hosts a quarter at a time, Mondays at 02:00 Berlin time",
      cmd:
        "orch schedule add rollout deploy --all -t role=web --batch 25% --cron '0 2 * * 1' --timezone Europe/Berlin",
    },
  ],
  async run(input) {
    const [name, score, ...args] = input.args;
    const cron = input.str("cron");
    const every = input.str("every");
    if ((cron === undefined) === (every === undefined)) {
      throw new OrchError("usage", "say --cron EXPR or --every DURATION (exactly one of them)");
    }
    const body: Record<string, unknown> = {
      name,
      policy: input.str("missed"),
      job: { score, ...jobFlags(input), params: parseParams(args) },
    };
    if (cron !== undefined) body.cron = cron;
    else body.every_ms = durationFlag("--every", every!);
    const timezone = input.str("timezone");
    if (timezone !== undefined) body.timezone = timezone;
    const req = decodeScheduleRequest(body);
    const client = await audienceClient(input);
    const s = await client.addSchedule(req);
    if (input.flag("json")) printJson(s);
    else out(`schedule ${safe(s.name)} added; next due ${formatTime(s.next_due)}`);
  },
});

const listCommand = command({
  name: "list",
  summary: "list the schedules, with their last and next due times",
  description:
    "One line each: name, when it is due, its missed policy, score, targets, owner, last and " +
    "next due time. A caller who may read only its own jobs sees only its own schedules.",
  options: [...JSON_OPTION, ...AUDIENCE_OPTIONS],
  examples: [
    { says: "Every schedule", cmd: "orch schedule list" },
    { says: "The same as JSON, for a script", cmd: "orch schedule list --json" },
  ],
  async run(input) {
    const client = await audienceClient(input);
    const list = await client.schedules();
    // GET /v1/schedules answers {schedules: [...]}.
    if (input.flag("json")) {
      printJson({ schedules: list });
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
  },
});

const removeCommand = command({
  name: "remove",
  summary: "remove a schedule (jobs it submitted stay)",
  args: [NAME_ARG],
  options: [...JSON_OPTION, ...AUDIENCE_OPTIONS],
  examples: [
    { says: "Remove the probe schedule", cmd: "orch schedule remove probe" },
    { says: "The same, for a script", cmd: "orch schedule remove probe --json" },
  ],
  async run(input) {
    const name = input.args[0];
    const client = await audienceClient(input);
    await client.removeSchedule(name);
    // DELETE /v1/schedules/NAME answers {name, removed: true}.
    if (input.flag("json")) printJson({ name, removed: true });
    else out(`schedule ${safe(name)} removed`);
  },
});

const runNowCommand = command({
  name: "run-now",
  summary: "submit a schedule's job now (its due times stay as they are)",
  description: "Prints the id of the job submitted, as orch submit does.",
  args: [NAME_ARG],
  options: [...JSON_OPTION, ...AUDIENCE_OPTIONS],
  examples: [
    { says: "Run nightly-cleanup now", cmd: "orch schedule run-now nightly-cleanup" },
    {
      says: "The same, printing {name, id} for a script",
      cmd: "orch schedule run-now nightly-cleanup --json",
    },
  ],
  async run(input) {
    const name = input.args[0];
    const client = await audienceClient(input);
    const id = await client.runSchedule(name);
    // POST /v1/schedules/NAME/run answers {name, id}.
    if (input.flag("json")) printJson({ name, id });
    else out(String(id));
  },
});

/** `orch schedule`. */
export const scheduleCommand = command({
  name: "schedule",
  summary: summaryOf("schedule"),
  description:
    "A schedule is a job the conductor submits each time it is due, as whoever added it. " +
    "Each run is an ordinary job; its schedule field names the schedule.",
  commands: [addCommand, listCommand, removeCommand, runNowCommand],
  examples: [
    {
      says: "Run cleanup on web1 every night at 03:30 UTC",
      cmd: "orch schedule add nightly-cleanup cleanup --all -t web1 --cron '30 3 * * *'",
    },
    { says: "List the schedules", cmd: "orch schedule list" },
    { says: "Submit a schedule's job now", cmd: "orch schedule run-now nightly-cleanup" },
  ],
});
