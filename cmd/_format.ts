/**
 * How jobs, tasks and players read in a terminal.
 *
 * @module
 */

import { formatDuration } from "../lib/config/mod.ts";
import type {
  AttemptView,
  JobSummary,
  JobView,
  PlayerView,
  TaskView,
} from "../lib/protocol/mod.ts";
import { EXIT, out } from "./_common.ts";

/** Lines of each output tail `orch status` shows when not told. */
export const DEFAULT_LINES = 5;

/** Lines of a table, columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

/** A time as `2026-11-22 08:40:01Z`. */
export function formatTime(ms: number | null): string {
  if (ms === null) return "-";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function scopeText(job: { scope: string }): string {
  return job.scope === "all" ? "all of" : "one of";
}

function exitText(t: TaskView): string {
  if (t.signal) return t.signal;
  if (t.exit_code !== null) return String(t.exit_code);
  return "-";
}

function durationText(t: TaskView): string {
  if (t.started_at === null) return "-";
  if (t.ended_at === null) return "running";
  return formatDuration(t.ended_at - t.started_at);
}

/** The last `n` lines of `text` (all when n is Infinity). */
function lastLines(text: string, n: number): string[] {
  const lines = text.replace(/\n$/, "").split("\n");
  if (text === "" || n === 0) return [];
  return n === Infinity ? lines : lines.slice(-n);
}

function attemptText(a: AttemptView): string {
  const parts = [a.player, a.state];
  if (a.signal) parts.push(a.signal);
  else if (a.exit_code !== null) parts.push(`exit ${a.exit_code}`);
  if (a.started_at !== null && a.ended_at !== null) {
    parts.push(formatDuration(a.ended_at - a.started_at));
  }
  if (a.error && a.state !== "succeeded") parts.push(`(${a.error})`);
  return parts.join(" ");
}

function responseText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * A job as `orch status` shows it. `lines`: how many lines of each output
 * tail to show; the stdout tail of a task with a response is shown only when
 * `lines` was asked for, as the response already says what stdout did.
 */
export function formatJob(job: JobView, lines: number | undefined): string[] {
  const counts = new Map<string, number>();
  for (const t of job.tasks) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
  const tally = [...counts].map(([s, n]) => `${n} ${s}`).join(", ");
  const out = [
    `job ${job.id}: ${job.score} on ${scopeText(job)} ${job.targets.join(", ")}`,
    `aggregate: ${job.aggregate} (${tally})`,
    `submitted: ${formatTime(job.submitted_at)} by ${job.submitted_by}` +
    (job.finished_at !== null
      ? `, finished after ${formatDuration(job.finished_at - job.submitted_at)}`
      : ""),
  ];
  const params = Object.entries(job.params);
  if (params.length > 0) out.push(`params: ${params.map(([k, v]) => `${k}=${v}`).join(" ")}`);
  const limits = [];
  if (job.timeout_ms !== null) limits.push(`timeout ${formatDuration(job.timeout_ms)}`);
  if (job.deadline !== null) limits.push(`deadline ${formatTime(job.deadline)}`);
  if (job.retries > 0) limits.push(`retries ${job.retries}`);
  if (job.cancelled_at !== null) limits.push(`cancelled ${formatTime(job.cancelled_at)}`);
  if (limits.length > 0) out.push(limits.join(", "));
  out.push("");
  const rows = job.tasks.map((
    t,
  ) => [t.host ?? "(not placed)", t.state, exitText(t), durationText(t)]);
  const header = ["HOST", "STATE", "EXIT", "DURATION"];
  const [head, ...body] = table(header, rows);
  out.push(head);
  job.tasks.forEach((t, i) => {
    out.push(body[i]);
    const pad = "    ";
    if (t.reason && t.state !== "succeeded") out.push(`${pad}reason: ${t.reason}`);
    for (const tried of t.tried) {
      out.push(`${pad}refused by ${tried.player}: ${tried.code}: ${tried.message}`);
    }
    if (t.cancel_requested && (t.state === "assigned" || t.state === "running")) {
      out.push(`${pad}cancel asked for: stopping it on ${t.host}`);
    }
    if (t.not_before !== null && t.state === "queued") {
      out.push(`${pad}retry after ${formatTime(t.not_before)}`);
    }
    if (t.attempts.length > 1) {
      for (const a of t.attempts) out.push(`${pad}attempt ${a.attempt}: ${attemptText(a)}`);
    }
    for (const [k, v] of Object.entries(t.response ?? {})) {
      out.push(`${pad}${k}=${responseText(v)}`);
    }
    const n = lines ?? DEFAULT_LINES;
    const hasResponse = Object.keys(t.response ?? {}).length > 0;
    if (lines !== undefined || !hasResponse) {
      for (const l of lastLines(t.stdout_tail, n)) out.push(`${pad}stdout| ${l}`);
    }
    for (const l of lastLines(t.stderr_tail, n)) out.push(`${pad}stderr| ${l}`);
  });
  return out;
}

/** `orch jobs` lines. */
export function formatJobs(jobs: JobSummary[]): string[] {
  return table(
    ["ID", "SCORE", "SCOPE", "TARGETS", "AGGREGATE", "SUBMITTED", "BY"],
    jobs.map((j) => [
      String(j.id),
      j.score,
      scopeText(j),
      String(j.targets),
      j.aggregate,
      formatTime(j.submitted_at),
      j.submitted_by,
    ]),
  );
}

/** `orch players` lines. */
export function formatPlayers(players: PlayerView[]): string[] {
  return table(
    ["NAME", "STATE", "ADDRESS", "VERSION", "RUNNING", "SCORES", "LAST SEEN"],
    players.map((p) => [
      p.name,
      !p.authorised ? "not listed" : p.connected ? "connected" : "offline",
      p.address ?? "-",
      p.version ?? "-",
      p.connected ? `${p.running}/${p.slots}` : String(p.running),
      p.scores.length > 4
        ? `${p.scores.slice(0, 4).join(",")},+${p.scores.length - 4}`
        : p.scores.join(",") || "-",
      formatTime(p.last_seen),
    ]),
  );
}

/** Prints a job as JSON or as `orch status` shows it. */
export function printJob(job: JobView, opts: { json?: boolean; lines?: number }): void {
  if (opts.json) out(JSON.stringify(job, null, 2));
  else for (const line of formatJob(job, opts.lines)) out(line);
}

/** The exit status for a job: by aggregate once finished, "pending" while not. */
export function jobExit(job: JobView): number {
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
