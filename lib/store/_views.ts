/**
 * How stored rows become the audience's views, whatever store they come
 * from, and the bounds every store puts on a view's query.
 *
 * @module
 */

import {
  type AttemptView,
  isFinal,
  JOB_STATE_FILTERS,
  type JobQuery,
  MAX_TASK_PAGE,
  MAX_TASK_PAGE_OUTPUT,
  TASK_STATES,
  type TaskDetail,
  type TaskQuery,
  type TaskView,
} from "../protocol/mod.ts";
import type { AttemptRow, AuditQuery, TaskRow } from "./types.ts";

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
