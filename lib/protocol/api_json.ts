/**
 * The audience API's answers as they go on the wire: each view of
 * `api.ts` and `schedules.ts` with its times as RFC 3339 strings (see
 * `times.ts`). The conductor builds its views with epoch ms and turns them
 * into these at the edge, in the functions below and nowhere else; clients
 * (the CLI, the dashboard, scripts) read these.
 *
 * @module
 */

import type {
  AttemptView,
  AuditRecord,
  JobSummary,
  JobView,
  PlayerView,
  PruneResponse,
  TaskDetail,
  TaskPage,
  TaskView,
} from "./api.ts";
import type { ScheduleView } from "./schedules.ts";
import { timeText, timeTextOrNull } from "./times.ts";

/** `T` with its fields `K` (epoch ms, or null) as RFC 3339 strings (or null). */
export type Timed<T, K extends keyof T> = {
  [P in keyof T]: P extends K ? (null extends T[P] ? string | null : string) : T[P];
};

/** {@linkcode JobView} as sent. */
export type JobViewJson = Timed<
  JobView,
  "submitted_at" | "finished_at" | "cancelled_at" | "deadline"
>;
/** {@linkcode JobSummary} as sent. */
export type JobSummaryJson = Timed<JobSummary, "submitted_at" | "finished_at">;
type TaskTimes = "started_at" | "ended_at" | "not_before" | "offline_since";
/** {@linkcode TaskView} as sent. */
export type TaskViewJson = Timed<TaskView, TaskTimes>;
/** {@linkcode AttemptView} as sent. */
export type AttemptViewJson = Timed<AttemptView, "started_at" | "ended_at">;
/** {@linkcode TaskDetail} as sent. */
export type TaskDetailJson = Timed<Omit<TaskDetail, "attempts">, TaskTimes> & {
  attempts: AttemptViewJson[];
};
/** {@linkcode TaskPage} as sent. */
export type TaskPageJson = Omit<TaskPage, "tasks"> & { tasks: (TaskViewJson | TaskDetailJson)[] };
/** {@linkcode PlayerView} as sent. */
export type PlayerViewJson = Timed<PlayerView, "last_seen">;
/** {@linkcode AuditRecord} as sent. */
export type AuditRecordJson = Timed<AuditRecord, "at">;
/** {@linkcode ScheduleView} as sent. */
export type ScheduleViewJson = Timed<ScheduleView, "created_at" | "last_due" | "next_due">;
/** {@linkcode PruneResponse} as sent. */
export type PruneResponseJson = Timed<PruneResponse, "before">;

/** A job's view as sent. */
export function jobViewJson(v: JobView): JobViewJson {
  return {
    ...v,
    submitted_at: timeText(v.submitted_at),
    finished_at: timeTextOrNull(v.finished_at),
    cancelled_at: timeTextOrNull(v.cancelled_at),
    deadline: timeTextOrNull(v.deadline),
  };
}

/** A line of the job list as sent. */
export function jobSummaryJson(v: JobSummary): JobSummaryJson {
  return {
    ...v,
    submitted_at: timeText(v.submitted_at),
    finished_at: timeTextOrNull(v.finished_at),
  };
}

/** An attempt as sent. */
export function attemptViewJson(a: AttemptView): AttemptViewJson {
  return { ...a, started_at: timeTextOrNull(a.started_at), ended_at: timeTextOrNull(a.ended_at) };
}

/** A task (a row, or in detail with its attempts) as sent. */
export function taskViewJson(t: TaskDetail): TaskDetailJson;
export function taskViewJson(t: TaskView): TaskViewJson;
export function taskViewJson(t: TaskView | TaskDetail): TaskViewJson | TaskDetailJson;
export function taskViewJson(t: TaskView | TaskDetail): TaskViewJson | TaskDetailJson {
  const times = {
    started_at: timeTextOrNull(t.started_at),
    ended_at: timeTextOrNull(t.ended_at),
    not_before: timeTextOrNull(t.not_before),
    offline_since: timeTextOrNull(t.offline_since),
  };
  if ("attempts" in t) return { ...t, ...times, attempts: t.attempts.map(attemptViewJson) };
  return { ...t, ...times };
}

/** A page of tasks as sent. */
export function taskPageJson(p: TaskPage): TaskPageJson {
  return { ...p, tasks: p.tasks.map((t) => taskViewJson(t)) };
}

/** A player as sent. */
export function playerViewJson(p: PlayerView): PlayerViewJson {
  return { ...p, last_seen: timeTextOrNull(p.last_seen) };
}

/** An audit record as sent. */
export function auditRecordJson(r: AuditRecord): AuditRecordJson {
  return { ...r, at: timeText(r.at) };
}

/** A schedule as sent. */
export function scheduleViewJson(s: ScheduleView): ScheduleViewJson {
  return {
    ...s,
    created_at: timeText(s.created_at),
    last_due: timeTextOrNull(s.last_due),
    next_due: timeTextOrNull(s.next_due),
  };
}

/** A prune's answer as sent. */
export function pruneResponseJson(r: PruneResponse): PruneResponseJson {
  return { ...r, before: timeText(r.before) };
}
