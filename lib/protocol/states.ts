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
  | "player_removed";

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
];

/** States a task leaves again. */
export const OPEN_STATES: readonly TaskState[] = ["queued", "assigned", "running"];

/** True when a task in `state` will not change any more. */
export function isFinal(state: TaskState): boolean {
  return !OPEN_STATES.includes(state);
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

/** {@linkcode aggregateOf} for tasks given as a count per state. */
export function aggregateOfCounts(counts: Partial<Record<TaskState, number>>): Aggregate {
  let open = false;
  let started = false;
  let total = 0;
  for (const [state, n] of Object.entries(counts) as [TaskState, number][]) {
    if (n <= 0) continue;
    total += n;
    if (!isFinal(state)) open = true;
    if (state !== "queued" && state !== "assigned") started = true;
  }
  if (open) return started ? "running" : "pending";
  const succeeded = counts.succeeded ?? 0;
  if (total > 0 && succeeded === total) return "success";
  return succeeded === 0 ? "failure" : "partial";
}
