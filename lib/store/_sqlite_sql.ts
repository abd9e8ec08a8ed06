/**
 * The SQLite store's columns and its start-up statements, apart so that a
 * test can check how SQLite plans them.
 *
 * @module
 */

/** Every column of a task, in the order the writes bind them. */
export const TASK_COLUMNS = [
  "id",
  "job_id",
  "seq",
  "host",
  "state",
  "attempt",
  "tried",
  "not_before",
  "failures",
  "cancel_requested",
  "reason",
  "updated_at",
  "assigned_at",
  "started_at",
  "ended_at",
  "exit_code",
  "signal",
  "response",
  "stdout_tail",
  "stderr_tail",
  "stdout_dropped",
  "stderr_dropped",
] as const;

/** A task's columns without its output, for views that do not show output. */
export const TASK_VIEW_COLUMNS = TASK_COLUMNS.filter((c) =>
  c !== "stdout_tail" && c !== "stderr_tail" && c !== "stdout_dropped" && c !== "stderr_dropped"
);

/** Every column of an attempt of the history. */
export const ATTEMPT_COLUMNS = [
  "task_id",
  "attempt",
  "player",
  "state",
  "assigned_at",
  "started_at",
  "ended_at",
  "exit_code",
  "signal",
  "response",
  "stdout_tail",
  "stderr_tail",
  "error",
  "stdout_dropped",
  "stderr_dropped",
] as const;

/** The columns of a job that an insert sets. */
export const JOB_COLUMNS = [
  "id",
  "score",
  "scope",
  "targets",
  "params",
  "submitted_at",
  "submitted_by",
  "timeout_ms",
  "deadline",
  "retries",
  "request_id",
  "caller",
  "target_count",
  "secrets",
  "rollout",
  "schedule",
  "asked",
  "request_digest",
] as const;

/** Every column of an audit record but its id, which SQLite assigns. */
export const AUDIT_COLUMNS = [
  "at",
  "who",
  "auth",
  "transport",
  "from_addr",
  "action",
  "subject",
  "job_id",
  "outcome",
  "reason",
] as const;

/** Every column of a player. */
export const PLAYER_COLUMNS = [
  "name",
  "version",
  "slots",
  "scores",
  "address",
  "first_seen",
  "last_seen",
] as const;

/** The open states, as SQL. */
const OPEN = "('queued', 'assigned', 'running')";

/**
 * Every open task, columns as {@linkcode TASK_COLUMNS}, in no order (sorting
 * 100,000 rows in JS costs half of what SQLite's sorter does). Open work is
 * reached through the jobs not finished (jobs_unfinished), then each one's
 * open tasks (tasks_by_job_state): CROSS JOIN keeps SQLite from walking every
 * task in seq order instead, which would read the whole history.
 */
export const OPEN_TASKS_SQL = `
  SELECT ${TASK_COLUMNS.map((c) => `t.${c}`).join(", ")}
  FROM jobs j CROSS JOIN tasks t
  WHERE j.finished_at IS NULL AND t.job_id = j.id AND t.state IN ${OPEN}`;

/**
 * A page of the job list, newest first: ids below the first argument, then
 * the filter terms of `where` (each starting with AND), then the limit.
 */
export function jobsPageSql(where: string): string {
  return `SELECT id, score, scope, target_count, submitted_at, submitted_by, finished_at, rollout
    FROM jobs WHERE id < ? AND pruning IS NULL${where} ORDER BY id DESC LIMIT ?`;
}

/** Jobs not marked finished that have no open task left. */
export const DONE_JOBS_SQL = `
  SELECT id FROM jobs j WHERE finished_at IS NULL AND NOT EXISTS
    (SELECT 1 FROM tasks t WHERE t.job_id = j.id AND t.state IN ${OPEN})
  ORDER BY id`;
