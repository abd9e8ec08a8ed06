/**
 * How stored rows become the audience's views, whatever store they come
 * from, and the bounds every store puts on a view's query.
 *
 * @module
 */

import {
  aggregateOfCounts,
  type AttemptView,
  type Caller,
  isFinal,
  JOB_STATE_FILTERS,
  type JobQuery,
  type JobSummary,
  type JobView,
  MAX_TASK_PAGE,
  MAX_TASK_PAGE_OUTPUT,
  rolloutProgress,
  type Scope,
  SECRET_SHOWN,
  TASK_STATES,
  type TaskDetail,
  type TaskPage,
  type TaskQuery,
  type TaskState,
  type TaskView,
} from "../protocol/mod.ts";
import type { AttemptRow, AuditQuery, TaskRow } from "./types.ts";
import { rolloutCol, type StoredRow } from "./rows.ts";

/** Largest `limit` of a list of jobs. */
export const MAX_JOBS_PAGE = 1000;

/** A task as a row of a page of tasks. */
export function taskView(t: TaskRow): TaskView {
  return {
    id: t.id,
    host: t.host,
    state: t.state,
    attempt: t.attempt,
    reason: t.reason,
    exit_code: t.result?.exitCode ?? null,
    signal: t.result?.signal ?? null,
    started_at: t.startedAt,
    ended_at: t.endedAt,
    response: t.result?.response ?? null,
    tried: t.tried,
    not_before: t.notBefore,
    cancel_requested: t.cancelRequested,
    // The store knows nothing of connections; the conductor fills this in.
    offline_since: null,
  };
}

/** An attempt of the history. */
export function attemptView(a: AttemptRow): AttemptView {
  return {
    attempt: a.attempt,
    player: a.player,
    state: a.state,
    started_at: a.startedAt,
    ended_at: a.endedAt,
    exit_code: a.result?.exitCode ?? null,
    signal: a.result?.signal ?? null,
    error: a.error,
    stdout_dropped: a.result?.stdoutDropped ?? 0,
    stderr_dropped: a.result?.stderrDropped ?? 0,
  };
}

/**
 * The task's current attempt, or null when it has none (before the first,
 * or when its latest attempt is already history). Its state is the task's:
 * the attempt is in flight while the task is open, and ended with it once
 * it is final; the task's reason is then the attempt's error.
 */
export function currentAttempt(t: TaskRow): AttemptView | null {
  if (t.assignedAt === null || t.host === null || t.attempt < 1) return null;
  const final = isFinal(t.state);
  return {
    attempt: t.attempt,
    player: t.host,
    state: t.state,
    started_at: t.startedAt,
    ended_at: t.endedAt,
    exit_code: t.result?.exitCode ?? null,
    signal: t.result?.signal ?? null,
    error: final ? t.reason : null,
    stdout_dropped: t.result?.stdoutDropped ?? 0,
    stderr_dropped: t.result?.stderrDropped ?? 0,
  };
}

/**
 * A task with its output tails and every attempt: the history (any order)
 * and the current attempt, oldest first.
 */
export function taskDetail(t: TaskRow, history: readonly AttemptRow[]): TaskDetail {
  const attempts = [...history].sort((a, b) => a.attempt - b.attempt).map(attemptView);
  const current = currentAttempt(t);
  // An attempt already moved to the history is shown once, from there.
  if (current && !attempts.some((a) => a.attempt === current.attempt)) attempts.push(current);
  return {
    ...taskView(t),
    job_id: t.jobId,
    stdout_tail: t.result?.stdoutTail ?? "",
    stderr_tail: t.result?.stderrTail ?? "",
    stdout_dropped: t.result?.stdoutDropped ?? 0,
    stderr_dropped: t.result?.stderrDropped ?? 0,
    attempts,
  };
}

/** Refuses a task query a store must not run: a page out of bounds, an unknown state. */
export function checkTaskQuery(q: TaskQuery): void {
  const max = q.output ? MAX_TASK_PAGE_OUTPUT : MAX_TASK_PAGE;
  if (!Number.isSafeInteger(q.limit) || q.limit < 1 || q.limit > max) {
    throw new RangeError(`task page limit ${q.limit} is not an integer from 1 to ${max}`);
  }
  // Bounded so that limit × (page - 1) stays a safe integer offset.
  if (!Number.isSafeInteger(q.page) || q.page < 1 || q.page > 1_000_000_000) {
    throw new RangeError(`task page ${q.page} is not an integer from 1 to 1000000000`);
  }
  if (q.state !== undefined && !TASK_STATES.includes(q.state)) {
    throw new RangeError(`task state ${JSON.stringify(q.state)} is not one of the task states`);
  }
}

/** Refuses a list of jobs out of bounds. */
/** Refuses an audit query the store would not serve. */
export function checkAuditQuery(q: AuditQuery): void {
  checkJobsPage(q.limit, q.before);
  if (q.since !== undefined && !Number.isSafeInteger(q.since)) {
    throw new RangeError(`audit time ${q.since} is not an integer`);
  }
}

/** Refuses a page of the job list the store would not serve. */
export function checkJobsPage(limit: number, before: number | undefined): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_JOBS_PAGE) {
    throw new RangeError(`job list limit ${limit} is not an integer from 1 to ${MAX_JOBS_PAGE}`);
  }
  if (before !== undefined && !Number.isSafeInteger(before)) {
    throw new RangeError(`job list position ${before} is not an integer`);
  }
}

/** Refuses a job query the store would not serve. */
export function checkJobQuery(q: JobQuery): void {
  checkJobsPage(q.limit, q.before);
  if (q.state !== undefined && !JOB_STATE_FILTERS.includes(q.state)) {
    throw new RangeError(`job state ${JSON.stringify(q.state)} is not one of the job states`);
  }
  for (const [key, at] of [["since", q.since], ["until", q.until]] as const) {
    if (at !== undefined && !Number.isSafeInteger(at)) {
      throw new RangeError(`job list ${key} ${at} is not an integer`);
    }
  }
}

/** Tasks counted by state, and in all, from rows of state and n. */
export function countsOf(
  rows: readonly StoredRow[],
): { counts: Partial<Record<TaskState, number>>; total: number } {
  const counts: Partial<Record<TaskState, number>> = {};
  let total = 0;
  for (const c of rows) {
    counts[c.state as TaskState] = c.n as number;
    total += c.n as number;
  }
  return { counts, total };
}

/** Tasks counted by job and state, from rows of job_id, state and n. */
export function countsByJob(
  rows: readonly StoredRow[],
): Map<number, Partial<Record<TaskState, number>>> {
  const byJob = new Map<number, Partial<Record<TaskState, number>>>();
  for (const c of rows) {
    const m = byJob.get(c.job_id as number) ?? {};
    m[c.state as TaskState] = c.n as number;
    byJob.set(c.job_id as number, m);
  }
  return byJob;
}

/** Stored params as a view shows them: a secret key's value as {@linkcode SECRET_SHOWN}. */
export function shownParams(stored: string): Record<string, string> {
  const all = JSON.parse(stored) as Record<string, string | null>;
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(all)) params[k] = v ?? SECRET_SHOWN;
  return params;
}

/**
 * A job as the audience sees it, from its row (with targets_head and
 * asked_head, JSON lists of at most MAX_VIEW_TARGETS) and its
 * tasks counted by state.
 */
export function jobView(
  j: StoredRow,
  counts: Partial<Record<TaskState, number>>,
  total: number,
): JobView {
  const rollout = rolloutCol(j.rollout);
  return {
    id: j.id as number,
    score: j.score as string,
    scope: j.scope as Scope,
    targets: JSON.parse((j.asked_head ?? j.targets_head) as string),
    hosts: JSON.parse(j.targets_head as string),
    host_count: j.target_count as number,
    params: shownParams(j.params as string),
    secret: j.secrets === null ? [] : Object.keys(JSON.parse(j.secrets as string)),
    submitted_at: j.submitted_at as number,
    submitted_by: j.submitted_by as string,
    caller: JSON.parse(j.caller as string) as Caller,
    finished_at: j.finished_at as number | null,
    timeout_ms: j.timeout_ms as number | null,
    deadline: j.deadline as number | null,
    retries: j.retries as number,
    cancelled_at: j.cancelled_at as number | null,
    schedule: j.schedule as string | null,
    aggregate: aggregateOfCounts(counts, rollout?.quorum ?? null),
    counts,
    task_count: total,
    rollout_settings: rollout,
    rollout: rolloutProgress(rollout, counts, total),
    // The store knows nothing of connections; the conductor fills this in.
    offline: 0,
  };
}

/** A job as a line of the job list, from its row and its tasks counted by state. */
export function jobSummary(j: StoredRow, counts: Partial<Record<TaskState, number>>): JobSummary {
  return {
    id: j.id as number,
    score: j.score as string,
    scope: j.scope as Scope,
    host_count: j.target_count as number,
    submitted_at: j.submitted_at as number,
    submitted_by: j.submitted_by as string,
    finished_at: j.finished_at as number | null,
    aggregate: aggregateOfCounts(counts, rolloutCol(j.rollout)?.quorum ?? null),
    counts,
    // Connections are not stored: the conductor counts offline tasks of open jobs.
    offline: 0,
  };
}

/**
 * A page of a job's tasks: with `history` (the attempts by task, when
 * the query asks for output), each task in detail; without, as a row.
 */
export function taskPage(
  jobId: number,
  query: TaskQuery,
  total: number,
  rows: readonly TaskRow[],
  history: Map<number, AttemptRow[]> | null,
): TaskPage {
  const tasks: (TaskView | TaskDetail)[] = history
    ? rows.map((t) => taskDetail(t, history.get(t.id) ?? []))
    : rows.map(taskView);
  return { job_id: jobId, total, page: query.page, limit: query.limit, tasks };
}
