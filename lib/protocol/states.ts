/**
 * Task states, final states and the job aggregate, exactly as the design
 * fixes them.
 *
 * @module
 */

/** Where a task is in its life. */
export type TaskState =
  | "queued"
  | "assigned"
  | "running"
  | "succeeded"
  | "failed"
  | "timed_out"
  | "cancelled"
  | "interrupted"
  | "rejected"
  | "expired"
  | "player_removed"
  | "skipped";

/** Every task state. */
export const TASK_STATES: readonly TaskState[] = [
  "queued",
  "assigned",
  "running",
  "succeeded",
  "failed",
  "timed_out",
  "cancelled",
  "interrupted",
  "rejected",
  "expired",
  "player_removed",
  "skipped",
];

/** States a task leaves again. */
export const OPEN_STATES: readonly TaskState[] = ["queued", "assigned", "running"];

/** True when a task in `state` will not change any more. */
export function isFinal(state: TaskState): boolean {
  return !OPEN_STATES.includes(state);
}

/**
 * Final states that count against a rollout's error budget: the task ran
 * (or was refused) and did not succeed. `cancelled`, `expired` and
 * `skipped` tasks never ran and are not errors.
 */
export const ERROR_STATES: readonly TaskState[] = [
  "failed",
  "timed_out",
  "interrupted",
  "rejected",
  "player_removed",
];

/** True when a task that ended in `state` counts as an error of its job. */
export function isError(state: TaskState): boolean {
  return ERROR_STATES.includes(state);
}

/** A job's overall state. */
export type Aggregate = "pending" | "running" | "success" | "partial" | "failure";

/**
 * The aggregate of a job whose tasks are in `states`: while any task is not
 * final, `pending` (none started: all queued or just assigned) or `running`;
 * once all are final, every
 * task succeeded → `success`, none succeeded → `failure`, mixed → `partial`.
 */
export function aggregateOf(states: readonly TaskState[]): Aggregate {
  const counts: Partial<Record<TaskState, number>> = {};
  for (const s of states) counts[s] = (counts[s] ?? 0) + 1;
  return aggregateOfCounts(counts);
}

/**
 * {@linkcode aggregateOf} for tasks given as a count per state.
 *
 * With a `quorum` of M: `success` as soon as M tasks succeeded (tasks still
 * running then finish but do not change it), `failure` as soon as M can no
 * longer be reached (too few tasks left that are not final), else
 * `pending`/`running` while open, and `failure` once all are final.
 */
export function aggregateOfCounts(
  counts: Partial<Record<TaskState, number>>,
  quorum: number | null = null,
): Aggregate {
  let open = 0;
  let started = false;
  let total = 0;
  for (const [state, n] of Object.entries(counts) as [TaskState, number][]) {
    if (n <= 0) continue;
    total += n;
    if (!isFinal(state)) open += n;
    if (state !== "queued" && state !== "assigned") started = true;
  }
  const succeeded = counts.succeeded ?? 0;
  if (quorum !== null) {
    if (succeeded >= quorum) return "success";
    if (succeeded + open < quorum || open === 0) return "failure";
    return started ? "running" : "pending";
  }
  if (open > 0) return started ? "running" : "pending";
  if (total > 0 && succeeded === total) return "success";
  return succeeded === 0 ? "failure" : "partial";
}
