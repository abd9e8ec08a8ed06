/**
 * Turning an assignment into a run of a score and the run into a result:
 * parameters into the environment or stdin, the response out of stdout, the
 * exit status into an outcome.
 *
 * @module
 */

import {
  HeadBuffer,
  KvCollector,
  type RunAs,
  type RunOutcome,
  runScore,
  scoreEnv,
} from "../exec/mod.ts";
import { errorMessage } from "../errors.ts";
import {
  type Assign,
  clip,
  decodeMessage,
  DEFAULT_MAX_FRAME,
  LIMITS,
  maskResult,
  type Outcome,
  type ResponseSpec,
  type ResultBody,
  type ScoreInterface,
  secretValues,
} from "../protocol/mod.ts";
import { checkResponse, DEFAULT_PATH, type Score } from "../score/mod.ts";
import type { LiveOutput } from "./live.ts";

/** Abort reason for a run stopped because the player is shutting down (outcome interrupted). */
export const INTERRUPT = "interrupted";

/** Everything needed to run one assignment. */
export interface TaskRun {
  assign: Assign;
  score: Score;
  /** Parameters after checking, defaults filled in. */
  params: Record<string, string>;
  player: string;
  cwd: string;
  killGraceMs: number;
  signal: AbortSignal;
  onSpawn: (pid: number) => void;
  /** The account to switch to before exec (the player runs as root); null to run as the player. */
  runAs: RunAs | null;
  /** Streams the output live, masking `secrets`; absent or null: not streamed. */
  live?: (secrets: readonly string[]) => LiveOutput | null;
  /** Bytes of the start, and of the end, of stdout and of stderr kept, each. */
  outputHead: number;
  outputTail: number;
}

/** The timeout for a run: the job's, capped by the conf's maximum, else the conf's default. */
export function effectiveTimeout(assign: Assign, score: Score): number | null {
  const max = score.conf.max_timeout_ms;
  const asked = assign.timeout_ms ?? score.conf.timeout_ms;
  if (asked === null) return max;
  return max === null ? asked : Math.min(asked, max);
}

/**
 * Runs the score of an assignment; throws `SpawnError` when it cannot
 * start. The result holds no secret parameter's value in clear, and its
 * response is checked against what the conf declares (see
 * {@linkcode typedResult}).
 */
export async function runTask(run: TaskRun): Promise<ResultBody> {
  const { assign, score } = run;
  const iface = score.conf.interface;
  const kv = iface === "pipe"
    ? new KvCollector({
      maxKeys: LIMITS.maxResponseKeys,
      maxBytes: LIMITS.maxResponseBytes,
      maxLine: LIMITS.maxParamValue + 256,
    })
    : null;
  const head = iface === "json" ? new HeadBuffer(LIMITS.maxResponseBytes) : null;
  const secrets = secretValues(score.conf.params, run.params, assign.secret);
  const live = run.live?.(secrets) ?? null;
  const outcome = await runScore({
    executable: score.path,
    cwd: run.cwd,
    env: scoreEnv({
      path: score.conf.path ?? DEFAULT_PATH,
      params: run.params,
      jobId: assign.job_id,
      taskId: assign.task_id,
      attempt: assign.attempt,
      player: run.player,
      score: score.name,
      account: run.runAs,
    }),
    stdin: iface === "json" ? new TextEncoder().encode(JSON.stringify(run.params)) : null,
    timeoutMs: effectiveTimeout(assign, score),
    killGraceMs: run.killGraceMs,
    headBytes: run.outputHead,
    tailBytes: run.outputTail,
    onStdout: (c) => {
      kv?.write(c);
      head?.write(c);
      live?.write("stdout", c);
    },
    onStderr: live ? (c) => live.write("stderr", c) : undefined,
    signal: run.signal,
    onSpawn: run.onSpawn,
    runAs: run.runAs,
  });
  kv?.end();
  // What is left goes before the result, which is what counts.
  live?.close();
  const masked = maskResult(toResult(outcome, kv, head, run.signal.reason === INTERRUPT), secrets);
  return typedResult(masked, score.conf.response, iface);
}

/**
 * `result` with its response checked against `declared`: each declared
 * key's value in its type (a `pipe` score's text converted), and a
 * succeeded run whose response breaks the declaration turned into a failed
 * one whose error names each key and what was wrong. A run that did not
 * succeed keeps its outcome and error. Secrets are masked before this
 * check, so a secret value never comes back as a number.
 */
export function typedResult(
  result: ResultBody,
  declared: Record<string, ResponseSpec> | null,
  iface: ScoreInterface,
): ResultBody {
  if (declared === null) return result;
  const { values, problems } = checkResponse(declared, result.response, iface === "pipe");
  if (result.outcome !== "succeeded" || problems.length === 0) {
    return { ...result, response: values };
  }
  const why = problems.join("; ");
  return {
    ...result,
    outcome: "failed",
    response: values,
    error: clip(result.error === null ? why : `${why}; ${result.error}`, 4000),
  };
}

function toResult(
  run: RunOutcome,
  kv: KvCollector | null,
  head: HeadBuffer | null,
  interrupted: boolean,
): ResultBody {
  let response: Record<string, unknown> = {};
  let error: string | null = null;
  let outcome: ResultBody["outcome"];
  if (run.timedOut) outcome = "timed_out";
  else if (run.cancelled) outcome = interrupted ? "interrupted" : "cancelled";
  else outcome = run.exitCode === 0 ? "succeeded" : "failed";

  if (kv) {
    response = { ...kv.values };
    error = kv.problem;
  } else if (head && outcome === "succeeded") {
    const parsed = parseJsonResponse(head);
    if (typeof parsed === "string") {
      outcome = "failed";
      error = parsed;
    } else response = parsed;
  }
  if (run.timedOut) error = "the score ran out of time and was stopped";
  else if (run.cancelled) {
    error = interrupted ? "the player shut down while the score ran" : "cancelled while it ran";
  } else if (outcome === "failed" && error === null) {
    error = run.signal
      ? `the score was killed by ${run.signal}`
      : `the score exited with status ${run.exitCode}`;
  }
  return {
    outcome,
    exit_code: run.exitCode,
    signal: run.signal,
    response,
    stdout_tail: run.stdoutTail,
    stderr_tail: run.stderrTail,
    started_at: run.startedAt,
    ended_at: run.endedAt,
    error,
    ...(run.stdoutDropped > 0 ? { stdout_dropped: run.stdoutDropped } : {}),
    ...(run.stderrDropped > 0 ? { stderr_dropped: run.stderrDropped } : {}),
  };
}

/** A result for a run that left no output: stopped by a player restart, or failed inside orch. */
export function emptyResult(outcome: Outcome, error: string, startedAt = Date.now()): ResultBody {
  return {
    outcome,
    exit_code: null,
    signal: null,
    response: {},
    stdout_tail: "",
    stderr_tail: "",
    started_at: startedAt,
    ended_at: Date.now(),
    error,
  };
}

/** {@linkcode emptyResult} for a run that orch itself could not carry through. */
export function failedResult(error: string): ResultBody {
  return emptyResult("failed", error);
}

/**
 * `result` as the conductor will accept it. A result it would refuse (a
 * response over the limits, or a frame over the default 1 MiB, say) would
 * be sent again after every reconnect and refused every time; instead the
 * response is dropped, the outcome becomes failed, and the error says why;
 * if that is not enough, each output text keeps its first and last 2000
 * characters (the bytes counted dropped then undercount what is missing).
 */
export function sendableResult(result: ResultBody, taskId: number, attempt: number): ResultBody {
  const problem = (r: ResultBody) => {
    try {
      const json = JSON.stringify({ type: "result", task_id: taskId, attempt, ...r });
      const size = new TextEncoder().encode(json).length;
      if (size > DEFAULT_MAX_FRAME) {
        return `the result is ${size} bytes, over the ${DEFAULT_MAX_FRAME}-byte frame limit`;
      }
      decodeMessage(JSON.parse(json), ["result"]);
      return null;
    } catch (err) {
      return errorMessage(err);
    }
  };
  const first = problem(result);
  if (first === null) return result;
  const fixed: ResultBody = {
    ...result,
    outcome: result.outcome === "succeeded" ? "failed" : result.outcome,
    response: {},
    error: clip(`the result could not be reported as it was: ${first}`, 1000),
  };
  if (problem(fixed) === null) return fixed;
  return {
    ...fixed,
    stdout_tail: ends(fixed.stdout_tail, 2000),
    stderr_tail: ends(fixed.stderr_tail, 2000),
  };
}

/** `s` with only its first and last `n` characters, marked where it was cut. */
function ends(s: string, n: number): string {
  if (s.length <= 2 * n + 64) return s;
  return `${s.slice(0, n)}\n[… ${s.length - 2 * n} characters left out to fit the result …]\n${
    s.slice(-n)
  }`;
}

/** The JSON object a `json` score printed, or why there is none. */
function parseJsonResponse(head: HeadBuffer): Record<string, unknown> | string {
  if (head.overflow) return `the JSON response is larger than ${head.limit} bytes`;
  const text = head.text().trim();
  if (text === "") return "the score printed no JSON response (a json score must print one object)";
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `the score's stdout is not JSON: ${(err as Error).message}`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "the score's JSON response is not an object";
  }
  if (Object.keys(value).length > LIMITS.maxResponseKeys) {
    return `the JSON response has more than ${LIMITS.maxResponseKeys} keys`;
  }
  return value as Record<string, unknown>;
}
