/**
 * The environment a score runs with, built from nothing: `PATH`, each
 * parameter as `ORC_<KEY>`, a few `ORCH_*` variables naming the run, and
 * `HOME`, `USER` and `LOGNAME` when the conf names the user it runs as.
 * The player's own environment never reaches a score.
 *
 * @module
 */

/** What a score's environment is made of. */
export interface EnvInput {
  /** `PATH` for the score. */
  path: string;
  /** Parameters, already checked (keys are letters, digits and `_`). */
  params: Record<string, string>;
  jobId: number;
  taskId: number;
  attempt: number;
  player: string;
  score: string;
  /** The user the score runs as, when the conf names one: sets HOME, USER and LOGNAME. */
  account?: { user: string; home: string } | null;
}

/**
 * The complete environment. Parameters are `ORC_<KEY>`; orch's own
 * variables are `ORCH_*`, a prefix no parameter can produce.
 */
export function scoreEnv(input: EnvInput): Record<string, string> {
  const env: Record<string, string> = {
    PATH: input.path,
    ORCH_JOB_ID: String(input.jobId),
    ORCH_TASK_ID: String(input.taskId),
    ORCH_ATTEMPT: String(input.attempt),
    ORCH_PLAYER: input.player,
    ORCH_SCORE: input.score,
  };
  if (input.account) {
    env.HOME = input.account.home;
    env.USER = input.account.user;
    env.LOGNAME = input.account.user;
  }
  for (const [key, value] of Object.entries(input.params)) env[`ORC_${key}`] = value;
  return env;
}
