/**
 * How jobs, tasks and players read in a terminal. Every piece of text that
 * a score, a player or another user supplied goes through {@linkcode safe}
 * before it is printed, so none of it can move the cursor, recolour the
 * terminal or hide what follows.
 *
 * @module
 */

import { formatDuration } from "../lib/config/units.ts";
import { droppedMarker } from "../lib/exec/output.ts";
import type {
  AttemptViewJson as AttemptView,
  AuditRecordJson as AuditRecord,
  JobSummaryJson as JobSummary,
  JobViewJson as JobView,
  PlayerViewJson as PlayerView,
  TaskDetailJson as TaskDetail,
  TaskPageJson as TaskPage,
  TaskQuery,
  TaskViewJson as TaskView,
} from "../lib/protocol/mod.ts";
import { TASK_STATES, timeMs } from "../lib/protocol/mod.ts";
import { EXIT, out } from "./_common.ts";
import { safe } from "./_safe.ts";

export { safe };

/** Lines of each output tail `orch status` shows when not told. */
export const DEFAULT_LINES = 5;
/** Tasks `orch status` lists a page when not told. */
export const DEFAULT_STATUS_LIMIT = 50;
/** Most tasks `orch status` lists a page (each comes with its output tails). */
export const MAX_STATUS_LIMIT = 100;
/** Targets the first line of `orch status` names; the rest are counted. */
export const HEADER_TARGETS = 10;

/** Lines of a table, columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

/** A time (epoch ms, or RFC 3339 as the API sends it) as `2026-11-22 08:40:01Z`. */
export function formatTime(at: number | string | null): string {
  if (at === null) return "-";
  const ms = typeof at === "number" ? at : timeMs(at);
  if (!Number.isFinite(ms)) return safe(String(at));
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** The time from `from` to `to` (as the API sends them) as a duration: `3.2s`. */
function between(from: string, to: string): string {
  return formatDuration(timeMs(to) - timeMs(from));
}

function scopeText(
  job: { scope: string; rollout_settings?: { some?: number } | null },
): string {
  const some = job.rollout_settings?.some;
  if (some !== undefined) return `${some} of`;
  return job.scope === "all" ? "all of" : "one of";
}

function targetsText(job: JobView): string {
  const shown = job.hosts.slice(0, HEADER_TARGETS).map(safe);
  if (job.host_count <= shown.length) return shown.join(", ");
  return `${job.host_count} targets: ${shown.join(", ")} and ${job.host_count - shown.length} more`;
}

/** True when the job was asked for with globs or selectors, not just its hosts. */
function askedOtherwise(job: JobView): boolean {
  const asked = job.targets;
  return asked.length !== job.hosts.length || asked.some((a, i) => a !== job.hosts[i]);
}

function exitText(t: TaskView): string {
  if (t.signal) return safe(t.signal);
  if (t.exit_code !== null) return String(t.exit_code);
  return "-";
}

function durationText(t: TaskView): string {
  if (t.started_at === null) return "-";
  if (t.ended_at === null) return "running";
  return between(t.started_at, t.ended_at);
}

/** The last `n` lines of `text` (all when n is Infinity). */
function lastLines(text: string, n: number): string[] {
  const lines = text.replace(/\n$/, "").split("\n");
  if (text === "" || n === 0) return [];
  return n === Infinity ? lines : lines.slice(-n);
}

/**
 * The last `n` lines of stored output, led by the line that marks where
 * `dropped` bytes were cut out when that line is not among them, so that a
 * reader knows the lines shown are not the whole story.
 */
function outputLines(text: string, dropped: number | undefined, n: number): string[] {
  const shown = lastLines(text, n);
  if (!dropped || shown.length === 0) return shown;
  const marker = droppedMarker(dropped);
  return shown.includes(marker) ? shown : [marker, ...shown];
}

function attemptText(a: AttemptView): string {
  const parts = [safe(a.player), safe(a.state)];
  if (a.signal) parts.push(safe(a.signal));
  else if (a.exit_code !== null) parts.push(`exit ${a.exit_code}`);
  if (a.started_at !== null && a.ended_at !== null) {
    parts.push(between(a.started_at, a.ended_at));
  }
  if (a.error && a.state !== "succeeded") parts.push(`(${safe(a.error)})`);
  return parts.join(" ");
}

function responseText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function isDetail(t: TaskView | TaskDetail): t is TaskDetail {
  return "attempts" in t;
}

/**
 * A task's state; a queued task waiting for a host that is not connected
 * says since when: `queued, host offline since 2026-11-22 10:00:01Z (3m ago)`.
 */
export function stateText(t: TaskView, now: number): string {
  const since = t.offline_since === null || t.offline_since === undefined
    ? null
    : timeMs(t.offline_since);
  if (since === null || t.state !== "queued") return safe(t.state);
  // The epoch: the conductor has no record of the host ever connecting.
  if (since === 0) return "queued, host offline (never connected)";
  return `queued, host offline since ${formatTime(since)} (${
    formatDuration(Math.max(0, now - since))
  } ago)`;
}

/** The counts of a job as `3 succeeded, 1 failed`, in the order states are listed. */
function tallyText(counts: JobView["counts"]): string {
  return TASK_STATES.filter((s) => (counts[s] ?? 0) > 0).map((s) => `${counts[s]} ${s}`)
    .join(", ");
}

/** The summary of a job: what was asked, how its tasks stand, who asked and when. */
export function formatJobSummary(job: JobView): string[] {
  const out = [
    `job ${job.id}: ${safe(job.score)} on ${scopeText(job)} ${targetsText(job)}`,
    `aggregate: ${safe(job.aggregate)} (${safe(tallyText(job.counts))})`,
    ...((job.offline ?? 0) > 0
      ? [
        `offline: ${job.offline} queued task${
          job.offline === 1 ? " waits for a host" : "s wait for hosts"
        } not connected`,
      ]
      : []),
    ...(askedOtherwise(job) ? [`asked: ${job.targets.map(safe).join(" ")}`] : []),
    `submitted: ${formatTime(job.submitted_at)} by ${safe(job.submitted_by)}` +
    (job.finished_at !== null
      ? `, finished after ${between(job.submitted_at, job.finished_at)}`
      : ""),
  ];
  const params = Object.entries(job.params);
  if (params.length > 0) {
    out.push(`params: ${params.map(([k, v]) => safe(`${k}=${v}`)).join(" ")}`);
  }
  const limits = [];
  if (job.timeout_ms !== null) limits.push(`timeout ${formatDuration(job.timeout_ms)}`);
  if (job.deadline !== null) limits.push(`deadline ${formatTime(job.deadline)}`);
  if (job.retries > 0) limits.push(`retries ${job.retries}`);
  if (job.cancelled_at !== null) limits.push(`cancelled ${formatTime(job.cancelled_at)}`);
  if (limits.length > 0) out.push(limits.join(", "));
  const r = job.rollout_settings;
  if (r) {
    const rules = [];
    if (r.quorum !== null) rules.push(`quorum ${r.quorum} of ${job.task_count}`);
    if (r.batch !== null) rules.push(`batch ${r.batch}`);
    if (r.max_errors !== null) rules.push(`max errors ${r.max_errors}`);
    if (r.batch_wait_ms > 0) rules.push(`batch wait ${formatDuration(r.batch_wait_ms)}`);
    out.push(`rollout: ${rules.join(", ")}`);
  }
  const p = job.rollout;
  if (p) {
    out.push(
      `progress: batch ${p.batch} of ${p.batches}, ${p.errors} error${p.errors === 1 ? "" : "s"}` +
        (p.errors_allowed === null ? "" : ` of ${p.errors_allowed} allowed`),
    );
  }
  return out;
}

/**
 * A page of tasks as rows of a table, each followed by its details: why it
 * ended so, players that refused it, attempts, response, output tails.
 * `lines`: how many lines of each output tail to show; the stdout tail of a
 * task with a response is shown only when `lines` was asked for, as the
 * response already says what stdout did.
 */
export function formatTasks(
  tasks: (TaskView | TaskDetail)[],
  lines?: number,
  now: number = Date.now(),
): string[] {
  if (tasks.length === 0) return [];
  const rows = tasks.map((t) => [
    t.host === null ? "(not placed)" : safe(t.host),
    stateText(t, now),
    exitText(t),
    durationText(t),
  ]);
  const [head, ...body] = table(["HOST", "STATE", "EXIT", "DURATION"], rows);
  const out = [head];
  const pad = "    ";
  tasks.forEach((t, i) => {
    out.push(body[i]);
    if (t.reason && t.state !== "succeeded") out.push(`${pad}reason: ${safe(t.reason)}`);
    for (const tried of t.tried) {
      out.push(
        `${pad}refused by ${safe(tried.player)}: ${safe(tried.code)}: ${safe(tried.message)}`,
      );
    }
    if (t.cancel_requested && (t.state === "assigned" || t.state === "running")) {
      out.push(`${pad}cancel asked for: stopping it on ${safe(t.host ?? "its player")}`);
    }
    if (t.not_before !== null && t.state === "queued") {
      out.push(`${pad}retry after ${formatTime(t.not_before)}`);
    }
    if (isDetail(t) && t.attempts.length > 1) {
      for (const a of t.attempts) out.push(`${pad}attempt ${a.attempt}: ${attemptText(a)}`);
    }
    for (const [k, v] of Object.entries(t.response ?? {})) {
      out.push(`${pad}${safe(`${k}=${responseText(v)}`)}`);
    }
    if (!isDetail(t)) return;
    const n = lines ?? DEFAULT_LINES;
    const hasResponse = Object.keys(t.response ?? {}).length > 0;
    if (lines !== undefined || !hasResponse) {
      for (const l of outputLines(t.stdout_tail, t.stdout_dropped, n)) {
        out.push(`${pad}stdout| ${safe(l)}`);
      }
    }
    for (const l of outputLines(t.stderr_tail, t.stderr_dropped, n)) {
      out.push(`${pad}stderr| ${safe(l)}`);
    }
  });
  return out;
}

/** Which page `orch status` shows, and how it was asked for (to name the next one). */
export interface StatusPaging {
  state?: TaskQuery["state"];
  host?: string;
  /** The `--limit` given, when one was. */
  limit?: number;
}

/**
 * The line under a page of tasks: which tasks it shows, of how many, and the
 * command for the next page. Empty when the page shows every task of an
 * unfiltered job.
 */
export function formatPageLine(jobId: number, page: TaskPage, paging: StatusPaging): string[] {
  const flags: string[] = [];
  if (paging.state !== undefined) flags.push(`--state ${paging.state}`);
  if (paging.host !== undefined) flags.push(`--host ${safe(paging.host)}`);
  if (paging.limit !== undefined) flags.push(`--limit ${paging.limit}`);
  const filtered = paging.state !== undefined || paging.host !== undefined;
  const command = (n: number) => ["orch status", String(jobId), ...flags, `--page ${n}`].join(" ");
  const matching = filtered
    ? ` matching ${flags.filter((f) => !f.startsWith("--limit")).join(" ")}`
    : "";
  const shown = page.tasks.length;
  if (shown === 0) {
    if (page.total === 0) return [`no tasks${matching}`];
    const pages = Math.ceil(page.total / page.limit);
    return [
      `no tasks on page ${page.page}: ${page.total} tasks${matching}, ${page.limit} a page; last page: ${
        command(pages)
      }`,
    ];
  }
  const first = (page.page - 1) * page.limit + 1;
  const last = first + shown - 1;
  if (first === 1 && last >= page.total && !filtered) return [];
  const range = `tasks ${first}–${last} of ${page.total}${matching}`;
  return [last < page.total ? `${range}; next page: ${command(page.page + 1)}` : range];
}

/** A job as `orch status` shows it: the summary, a page of tasks, and how to see the next. */
export function formatJob(
  job: JobView,
  page: TaskPage,
  opts: { lines?: number; paging?: StatusPaging } = {},
): string[] {
  const tasks = formatTasks(page.tasks, opts.lines);
  const paging = formatPageLine(job.id, page, opts.paging ?? {});
  return [
    ...formatJobSummary(job),
    "",
    ...tasks,
    ...(tasks.length > 0 && paging.length > 0 ? [""] : []),
    ...paging,
  ];
}

/** `orch jobs` lines. */
export function formatJobs(jobs: JobSummary[]): string[] {
  return table(
    ["ID", "SCORE", "SCOPE", "TARGETS", "AGGREGATE", "SUBMITTED", "BY"],
    jobs.map((j) => [
      String(j.id),
      safe(j.score),
      scopeText(j),
      String(j.host_count),
      safe(j.aggregate),
      formatTime(j.submitted_at),
      safe(j.submitted_by),
    ]),
  );
}

/** `orch audit` lines, oldest last as they come (newest first). */
export function formatAudit(records: AuditRecord[]): string[] {
  return table(
    ["ID", "AT", "WHO", "AUTH", "FROM", "ACTION", "OUTCOME", "SUBJECT", "REASON"],
    records.map((r) => [
      String(r.id),
      formatTime(r.at),
      safe(r.who),
      safe(r.auth),
      safe(r.from),
      r.action,
      r.outcome,
      safe(r.subject),
      safe(r.reason ?? "-"),
    ]),
  );
}

/** `orch players` lines. */
export function formatPlayers(players: PlayerView[]): string[] {
  return table(
    ["NAME", "STATE", "ADDRESS", "VERSION", "RUNNING", "SCORES", "LAST SEEN", "LABELS", "FACTS"],
    players.map((p) => [
      safe(p.name),
      (!p.authorised ? "not listed" : p.connected ? "connected" : "offline") +
      (p.draining ? ", draining" : ""),
      safe(p.address ?? "-"),
      safe(p.version ?? "-"),
      p.connected ? `${p.running}/${p.slots}` : String(p.running),
      safe(
        p.scores.length > 4
          ? `${p.scores.slice(0, 4).join(",")},+${p.scores.length - 4}`
          : p.scores.join(",") || "-",
      ),
      formatTime(p.last_seen),
      safe(pairs(p.labels ?? {})),
      safe(pairs(p.facts ?? {})),
    ]),
  );
}

/** Labels or facts as `k=v,k=v`, sorted; `-` for none. */
function pairs(o: Record<string, string>): string {
  return Object.keys(o).sort().map((k) => `${k}=${o[k]}`).join(",") || "-";
}

/** What `orch status` (and `submit --wait`, `cancel --wait`) shows of a job. */
export interface ShowOptions {
  json?: boolean;
  lines?: number;
  /** 1-based page of tasks (default 1). */
  page?: number;
  /** Tasks a page (default {@linkcode DEFAULT_STATUS_LIMIT}). */
  limit?: number;
  state?: TaskQuery["state"];
  host?: string;
}

/**
 * Fetches a page of the job's tasks with their output, and prints the job
 * with it: as text, or as JSON `{"job": JobView, "tasks": TaskPage}`.
 */
export async function printJob(
  client: { tasks(id: number, query: TaskQuery): Promise<TaskPage> },
  job: JobView,
  opts: ShowOptions = {},
): Promise<void> {
  const query: TaskQuery = {
    page: opts.page ?? 1,
    limit: opts.limit ?? DEFAULT_STATUS_LIMIT,
    output: true,
  };
  if (opts.state !== undefined) query.state = opts.state;
  if (opts.host !== undefined) query.host = opts.host;
  const page = await client.tasks(job.id, query);
  if (opts.json) {
    out(JSON.stringify({ job, tasks: page }));
    return;
  }
  // The next page's command says --limit only when it is not the default.
  const limit = opts.limit === DEFAULT_STATUS_LIMIT ? undefined : opts.limit;
  const paging: StatusPaging = { state: opts.state, host: opts.host, limit };
  for (const line of formatJob(job, page, { lines: opts.lines, paging })) out(line);
}

/** The exit status for a job: by aggregate once finished, "pending" while not. */
export function jobExit(job: Pick<JobView, "aggregate">): number {
  switch (job.aggregate) {
    case "success":
      return EXIT.ok;
    case "partial":
      return EXIT.partial;
    case "failure":
      return EXIT.failure;
    default:
      return EXIT.pending;
  }
}
