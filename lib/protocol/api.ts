/**
 * The audience API's wire types (`/v1/…`, HTTP + JSON) and the decoding of
 * requests from untrusted bodies.
 *
 * @module
 */

import { type ErrorCode, isErrorCode, NotLeaderError, OrchError } from "../errors.ts";
import {
  LIMITS,
  PARAM_KEY,
  PARAM_KEY_DESC,
  parseConductorAddress,
  SCORE_NAME,
  SCORE_NAME_DESC,
} from "./names.ts";
import { type Aggregate, ERROR_STATES, type TaskState } from "./states.ts";
import { parseTarget } from "./targets.ts";
import { decodeTime } from "./times.ts";
import { isPlainObject, Obj } from "./validate.ts";

/** The audience API version prefix. */
export const API_PREFIX = "/v1";

/** `all`: run on every target; `one`: run once, on one of the targets. */
export type Scope = "all" | "one";

/** Body of `POST /v1/jobs`. */
export interface SubmitRequest {
  score: string;
  scope: Scope;
  /**
   * Target expressions: names, globs (`web*`) and selectors (`role=web,dc!=mel`,
   * `fact.os=linux`); see `targets.ts`. Once the conductor has resolved them,
   * the hosts chosen (and `asked` holds the expressions).
   */
  targets: string[];
  /** The target expressions as given, once `targets` holds the hosts they chose. */
  asked?: string[];
  params: Record<string, string>;
  /** Timeout of each run in ms; null for the score's default. Never above the score's `max_timeout`. */
  timeout_ms: number | null;
  /**
   * Epoch ms by which a task must have started, or it ends `expired`; null
   * for none. On the wire an RFC 3339 time (or epoch ms).
   */
  deadline: number | null;
  /** Runs again after a failure, for idempotent scores only. */
  retries: number;
  /**
   * Chosen by the client, unique per submit: the same submit sent again
   * (after its answer was lost) gets the job the first one made.
   */
  request_id: string | null;
  /**
   * Keys of `params` whose values are secret, besides those the score's conf
   * declares `secret: true`: never stored in clear, never logged, shown as
   * {@linkcode SECRET_SHOWN}.
   */
  secret: string[];
  /** All-of: the job succeeds once this many tasks succeeded (1..task count); null: every one. */
  quorum: number | null;
  /** At most this many tasks of the job run at once, batch after batch; null: no limit. */
  batch: Amount | null;
  /** Once this many tasks failed, no more are started (the rest end `skipped`); null: no limit. */
  max_errors: Amount | null;
  /** Wait between one batch's end and the next one's start (ms). */
  batch_wait_ms: number;
  /**
   * N-of (with scope `all` only): run on this many of the targets, not on
   * every one; absent or null for all of them.
   */
  some?: Amount | null;
  /**
   * N-of: how long a task waits for a target that is offline before it
   * moves on to another (ms); 0 waits for ever. Absent: {@linkcode DEFAULT_OFFLINE_WAIT_MS}.
   */
  offline_wait_ms?: number;
}

/** How long an N-of task waits for an offline target by default: 5 minutes. */
export const DEFAULT_OFFLINE_WAIT_MS = 300_000;

/** Longest offline wait an N-of job may ask for: a week. */
export const MAX_OFFLINE_WAIT_MS = 7 * 86_400_000;

/** A number of tasks: a count, or a percentage of the job's tasks. */
export type Amount = { count: number } | { percent: number };

/** A job's rollout rules with amounts resolved to counts; stored with the job. */
export interface JobRollout {
  quorum: number | null;
  batch: number | null;
  max_errors: number | null;
  batch_wait_ms: number;
  /** N-of: the number of tasks, each on a distinct target; absent for other jobs. */
  some?: number;
  /** N-of: the offline wait (ms; 0: for ever); absent for other jobs. */
  offline_wait_ms?: number;
}

/** Where a rollout stands: batch k of n, errors e of those allowed. */
export interface RolloutProgress {
  /** The batch started last (0 before the first), and how many batches there are. */
  batch: number;
  batches: number;
  /** Tasks that ended as errors, and how many stop the rollout (null: no limit). */
  errors: number;
  errors_allowed: number | null;
}

/** Largest wait between batches: a day. */
export const MAX_BATCH_WAIT_MS = 86_400_000;

/** `amount` of `total` tasks as a count: a percentage rounds up, and is at least 1. */
export function amountOf(amount: Amount, total: number): number {
  if ("count" in amount) return amount.count;
  return Math.max(1, Math.ceil((total * amount.percent) / 100));
}

/**
 * The rollout rules of a submit for a job of `tasks` tasks, or null when it
 * has none; throws `OrchError("invalid")` for a quorum above the task count
 * or a quorum on a one-of job.
 */
export function rolloutOf(req: SubmitRequest, tasks: number): JobRollout | null {
  const some = req.some ?? null;
  if (some !== null) {
    return {
      ...(rolloutOf({ ...req, some: null }, tasks) ??
        { quorum: null, batch: null, max_errors: null, batch_wait_ms: 0 }),
      some: tasks,
      offline_wait_ms: req.offline_wait_ms ?? DEFAULT_OFFLINE_WAIT_MS,
    };
  }
  if (req.quorum === null && req.batch === null && req.max_errors === null) {
    if (req.batch_wait_ms > 0) {
      throw new OrchError("invalid", "batch_wait_ms: a wait between batches needs a batch");
    }
    return null;
  }
  if (req.quorum !== null && req.scope === "one") {
    throw new OrchError(
      "invalid",
      "quorum: a one-of job has one task; a quorum is for all-of jobs",
    );
  }
  if (req.quorum !== null && req.quorum > tasks) {
    throw new OrchError(
      "invalid",
      `quorum: ${req.quorum} is more than the job's ${tasks} task${tasks === 1 ? "" : "s"}`,
    );
  }
  if (req.batch === null && req.batch_wait_ms > 0) {
    throw new OrchError("invalid", "batch_wait_ms: a wait between batches needs a batch");
  }
  return {
    quorum: req.quorum,
    batch: req.batch === null ? null : Math.min(amountOf(req.batch, tasks), tasks),
    max_errors: req.max_errors === null ? null : amountOf(req.max_errors, tasks),
    batch_wait_ms: req.batch_wait_ms,
  };
}

/**
 * How many tasks a submit makes once its targets are resolved: one per
 * target (all-of), one (one-of), or N (N-of). Throws `OrchError("invalid")`
 * for an N-of count above the number of targets.
 */
export function taskCountOf(req: SubmitRequest): number {
  if (req.scope === "one") return 1;
  const some = req.some ?? null;
  if (some === null) return req.targets.length;
  const n = amountOf(some, req.targets.length);
  if (n > req.targets.length) {
    throw new OrchError(
      "invalid",
      `some: ${n} is more than the ${req.targets.length} target${
        req.targets.length === 1 ? "" : "s"
      } chosen`,
    );
  }
  return n;
}

/** How a secret parameter's value is shown in views. */
export const SECRET_SHOWN = "[secret]";

/** The shape of a request id. */
export const REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

type SubmitOptions =
  | "timeout_ms"
  | "deadline"
  | "retries"
  | "request_id"
  | "secret"
  | "quorum"
  | "batch"
  | "max_errors"
  | "batch_wait_ms"
  | "some"
  | "offline_wait_ms";

/** What a client sends to submit a job: the options may be left out. */
export type SubmitInput =
  & Omit<SubmitRequest, "asked" | SubmitOptions>
  & Partial<Pick<SubmitRequest, SubmitOptions>>;

/** The latest deadline a submit may give (epoch ms, in the year 2286). */
export const MAX_DEADLINE_MS = 9_999_999_999_999;

/** Largest number of retries a job may ask for. */
export const MAX_RETRIES = 100;

/** Answer to `POST /v1/jobs/ID/cancel`. */
export interface CancelResponse {
  id: number;
  /** Tasks that had not started and are now cancelled. */
  cancelled: number;
  /** Tasks running (or sent to a player) that are being stopped. */
  stopping: number;
}

/**
 * The views below hold times as epoch ms (or null); the API sends each as
 * an RFC 3339 string (see `api_json.ts`).
 */

/** One attempt of a task. */
export interface AttemptView {
  attempt: number;
  player: string;
  /** assigned, running, rejected, unstarted, or an outcome. */
  state: string;
  started_at: number | null;
  ended_at: number | null;
  exit_code: number | null;
  signal: string | null;
  error: string | null;
  /** Bytes of the attempt's stdout not kept (between its head and its tail); absent: 0. */
  stdout_dropped?: number;
  /** Bytes of the attempt's stderr not kept; absent: 0. */
  stderr_dropped?: number;
}

/** Answer to a successful submit. */
export interface SubmitResponse {
  id: number;
}

/** A player that refused a one-of task, and why. */
export interface TriedPlayer {
  player: string;
  code: string;
  message: string;
}

/** How an audience request proved who made it. */
export interface Caller {
  /** `socket`: the local Unix socket; `https`: the HTTPS port. */
  transport: "socket" | "https";
  /** The local user on the socket; the certificate's common name over HTTPS. */
  name: string;
  /**
   * `file_ownership`: a local user, proved by a file it made; `client_certificate`:
   * an audience certificate; `socket_mode`: no proof, only the socket's file mode
   * (jobs submitted before local users were told apart, and in-process tests);
   * `peer_credentials`: a local user as the kernel names the peer of a Unix
   * socket (`SO_PEERCRED`), on Orchestra's audience socket.
   */
  auth: "file_ownership" | "client_certificate" | "socket_mode" | "peer_credentials";
}

/**
 * The one-line form of a caller, as `submitted_by` shows it and grants
 * name it: `local:alice`, `audience:alice`; `local` for an unproved socket caller.
 */
export function callerLabel(c: Caller): string {
  if (c.transport === "https") return `audience:${c.name}`;
  return c.auth === "socket_mode" ? c.name : `local:${c.name}`;
}

/**
 * The identities the audit trail names: `audience:NAME`, `local:USER`,
 * `player:NAME`, or `unauthenticated`.
 */
export const AUDIT_WHO = /^(audience|local|player):[A-Za-z0-9._@:-]{1,253}$|^unauthenticated$/;

/** The `authorization` scheme of a local user's proof on the audience socket. */
export const LOCAL_AUTH_SCHEME = "OrchLocal";

/** The folder where local users leave their proofs, beside the audience socket at `socketPath`. */
export function proofFolder(socketPath: string): string {
  return `${socketPath}.auth`;
}

/** The caller of a request on the local Unix socket before it proved its user. */
export const LOCAL_CALLER: Caller = { transport: "socket", name: "local", auth: "socket_mode" };

/** What an audit record is about. */
export type AuditAction =
  | "submit"
  | "read_params"
  | "cancel"
  | "player_connect"
  | "audience_connect"
  | "schedule"
  | "drain"
  | "prune";

/** The audit actions, for validation. */
export const AUDIT_ACTIONS: readonly AuditAction[] = [
  "submit",
  "read_params",
  "cancel",
  "player_connect",
  "audience_connect",
  "schedule",
  "drain",
  "prune",
];

/**
 * One entry of the audit trail: who did (or tried) what, how they proved
 * who they are, from where, and what came of it. Entries are appended,
 * never edited.
 */
export interface AuditRecord {
  /** Order of recording; assigned by the store. */
  id: number;
  /** When (epoch ms). */
  at: number;
  /** The identity: `audience:NAME`, `local:USER`, `player:NAME` or `unauthenticated`. */
  who: string;
  /** How that identity was proved (`client_certificate`, `peer_credentials`, …). */
  auth: string;
  /** `socket`, `https` or `players` (the player port). */
  transport: string;
  /** Where from: a remote address, or `socket`. */
  from: string;
  action: AuditAction;
  /** What it was about, in words: `score deploy on web1,web2`, `job 12`. */
  subject: string;
  /** The job concerned, when there is one. */
  job_id: number | null;
  outcome: "allowed" | "refused";
  /** Why it was refused (the rule that is missing), or a note. */
  reason: string | null;
}

/** One task of a job, as a row of `GET /v1/jobs/ID/tasks`. */
export interface TaskView {
  id: number;
  /** The host it runs on; `null` for a one-of task not yet placed. */
  host: string | null;
  state: TaskState;
  /** The current (latest) attempt; 0 before the first. */
  attempt: number;
  /** Why the task is in its state, when the state alone does not say. */
  reason: string | null;
  exit_code: number | null;
  signal: string | null;
  started_at: number | null;
  ended_at: number | null;
  /** The current attempt's response, or null before it has one. */
  response: Record<string, unknown> | null;
  /** Players that refused this one-of task before. */
  tried: TriedPlayer[];
  /** A retry waits until then (epoch ms). */
  not_before: number | null;
  /** A cancel was asked for while it ran. */
  cancel_requested: boolean;
  /**
   * Queued and waiting for a host that is not connected: since when it is
   * offline (epoch ms; 0: not connected since the conductor started), else null.
   */
  offline_since: number | null;
}

/** One task with its output tails and every attempt: `GET /v1/jobs/ID/tasks/TID`. */
export interface TaskDetail extends TaskView {
  job_id: number;
  /** The start and the end of stdout, with a marker line where bytes were dropped between them. */
  stdout_tail: string;
  stderr_tail: string;
  /** Bytes of stdout not in `stdout_tail` (an older conductor leaves it out: 0). */
  stdout_dropped?: number;
  /** Bytes of stderr not in `stderr_tail`; absent: 0. */
  stderr_dropped?: number;
  /** Every attempt, oldest first (the current one last). */
  attempts: AttemptView[];
}

/** Which tasks of a job to list. */
export interface TaskQuery {
  /** Only tasks in this state. */
  state?: TaskState;
  /** Only the task on this host. */
  host?: string;
  /** 1-based page number. */
  page: number;
  /** Tasks per page, 1..{@linkcode MAX_TASK_PAGE}. */
  limit: number;
  /** Include each task's output tails and attempts (items are then {@linkcode TaskDetail}). */
  output?: boolean;
}

/**
 * Largest page of tasks one request may ask for. Each row may carry a
 * response of up to 256 KiB, so a full page stays under the client's
 * 64 MiB bound on an answer.
 */
export const MAX_TASK_PAGE = 200;
/** Largest page of tasks with output one request may ask for. */
export const MAX_TASK_PAGE_OUTPUT = 100;

/** A page of a job's tasks, in task id order. */
export interface TaskPage {
  job_id: number;
  /** Tasks matching the query, on every page. */
  total: number;
  page: number;
  limit: number;
  tasks: (TaskView | TaskDetail)[];
}

/** Hosts (and target expressions) a job view lists at most; `host_count` says how many hosts there are. */
export const MAX_VIEW_TARGETS = 100;

/** A job, as the audience sees it: what was asked, and how its tasks stand (counted, not listed). */
export interface JobView {
  id: number;
  score: string;
  scope: Scope;
  /**
   * The target expressions as the submit gave them (names, globs,
   * selectors); the first {@linkcode MAX_VIEW_TARGETS}. Jobs stored before
   * expressions existed: their hosts.
   */
  targets: string[];
  /** The first {@linkcode MAX_VIEW_TARGETS} hosts the targets chose, in order: one task each (all-of). */
  hosts: string[];
  /** How many hosts the targets chose. */
  host_count: number;
  /** The parameters; a secret one's value is shown as {@linkcode SECRET_SHOWN}. */
  params: Record<string, string>;
  /** The keys of `params` whose values are secret. */
  secret: string[];
  submitted_at: number;
  /** {@linkcode callerLabel} of `caller`. */
  submitted_by: string;
  caller: Caller;
  finished_at: number | null;
  timeout_ms: number | null;
  deadline: number | null;
  retries: number;
  cancelled_at: number | null;
  /** The schedule that submitted it, or null for a job submitted by hand. */
  schedule: string | null;
  aggregate: Aggregate;
  /** How many tasks are in each state. */
  counts: Partial<Record<TaskState, number>>;
  /** How many tasks the job has. */
  task_count: number;
  /** Its quorum, batch size, error budget and batch wait; null when it has none. */
  rollout_settings: JobRollout | null;
  /** Where its rollout stands (a job with a batch or an error budget), else null. */
  rollout: RolloutProgress | null;
  /** How many of its queued tasks wait for a host that is not connected. */
  offline: number;
  /**
   * Whether the caller may cancel the job (by the grants, as a cancel would
   * be decided); only in the answer of `GET /v1/jobs/ID`.
   */
  may_cancel?: boolean;
}

/**
 * Where a rollout stands, from its settings and its counts per state: the
 * batch is that of the tasks started so far (every task not queued or
 * skipped, cancelled or expired before it started is counted as started).
 */
export function rolloutProgress(
  r: JobRollout | null,
  counts: Partial<Record<TaskState, number>>,
  total: number,
): RolloutProgress | null {
  if (r === null || (r.batch === null && r.max_errors === null)) return null;
  const size = r.batch ?? total;
  const notStarted = (counts.queued ?? 0) + (counts.skipped ?? 0) + (counts.cancelled ?? 0) +
    (counts.expired ?? 0);
  const started = Math.max(0, total - notStarted);
  let errors = 0;
  for (const s of ERROR_STATES) errors += counts[s] ?? 0;
  return {
    batch: Math.ceil(started / size),
    batches: Math.ceil(total / size),
    errors,
    errors_allowed: r.max_errors,
  };
}

/** A line of `GET /v1/jobs`. */
export interface JobSummary {
  id: number;
  score: string;
  scope: Scope;
  /** How many hosts its targets chose (as `host_count` of a job's view). */
  host_count: number;
  submitted_at: number;
  submitted_by: string;
  finished_at: number | null;
  aggregate: Aggregate;
  /** How many tasks are in each state. */
  counts: Partial<Record<TaskState, number>>;
  /** How many of its queued tasks wait for a host that is not connected (as in a job's view). */
  offline: number;
}

/** What `GET /v1/jobs?state=` filters by: a job's aggregate, or whether it is open or finished. */
export const JOB_STATE_FILTERS = [
  "pending",
  "running",
  "success",
  "failure",
  "partial",
  "open",
  "finished",
] as const;

/** One of {@linkcode JOB_STATE_FILTERS}. */
export type JobStateFilter = typeof JOB_STATE_FILTERS[number];

/** Which jobs to list, newest first: every filter given applies. */
export interface JobQuery {
  /** At most this many. */
  limit: number;
  /** Only jobs with ids below this (paging). */
  before?: number;
  /** Only jobs with this aggregate, or only open (not every task final) or finished ones. */
  state?: JobStateFilter;
  /** Only jobs of this score. */
  score?: string;
  /** Only jobs this caller submitted ({@linkcode callerLabel}, e.g. `local:alice`). */
  submittedBy?: string;
  /** Only jobs submitted at or after this time (epoch ms; on the wire RFC 3339 or epoch ms). */
  since?: number;
  /** Only jobs submitted before this time (epoch ms; on the wire RFC 3339 or epoch ms). */
  until?: number;
}

/** A player, as the audience sees it. */
export interface PlayerView {
  name: string;
  /** Listed in the players file now. */
  authorised: boolean;
  connected: boolean;
  address: string | null;
  version: string | null;
  slots: number;
  running: number;
  /** Drained by an operator: no new work goes to it; what it runs finishes. */
  draining: boolean;
  /** Scores it announced most recently. */
  scores: string[];
  /**
   * Epoch ms: for a connected player, when its last frame (a heartbeat or
   * any message) arrived; for one not connected, when it was last seen
   * before it went away. Null when never seen.
   */
  last_seen: number | null;
  /** Its labels in the players file (empty when it is not listed). */
  labels: Record<string, string>;
  /** What it reported of itself (os, kernel, arch, version, the operator's facts) since the conductor started. */
  facts: Record<string, string>;
}

/** One check of `GET /v1/ready`. */
export interface ReadyCheck {
  /**
   * `store`: the database is open and its last commit succeeded;
   * `listeners`: every configured listener is listening; `stopping`: the
   * conductor is not shutting down.
   */
  name: "store" | "listeners" | "stopping";
  ok: boolean;
  /** What was found, in words. */
  detail: string;
}

/** Answer to `GET /v1/ready`: 200 when `ready`, else 503. */
export interface ReadyView {
  ready: boolean;
  /** The names of the checks that failed, in order; empty when ready. */
  failed: ReadyCheck["name"][];
  checks: ReadyCheck[];
}

/** One of the caller's grants, as `GET /v1/me` shows it. */
export interface MeGrant {
  /** The verbs it allows. */
  may: string[];
  /** Score globs. */
  scores: string[];
  /** Target globs. */
  targets: string[];
}

/** Answer to `GET /v1/me`: who the caller is and its own grants (never another's). */
export interface MeView {
  /** The caller's label, e.g. `audience:alice`, `local:root`. */
  caller: string;
  grants: MeGrant[];
}

/** Answer to `POST /v1/players/NAME/drain` and `/undrain`. */
export interface DrainResponse {
  name: string;
  draining: boolean;
  /** Tasks it holds now (they finish there). */
  running: number;
}

/** Body of `POST /v1/prune`. */
export interface PruneBody {
  /**
   * Jobs finished before this (epoch ms) go; it may not be later than now.
   * On the wire an RFC 3339 time (or epoch ms).
   */
  before: number;
  /** Count what would go, remove nothing. */
  dry_run: boolean;
}

/** Answer to `POST /v1/prune`, once every batch is done. */
export interface PruneResponse {
  before: number;
  /** Jobs (and their tasks) pruned, or that a dry run would prune. */
  jobs: number;
  tasks: number;
  dry_run: boolean;
}

/** Decodes a prune body; throws `OrchError("invalid")` naming the field. */
export function decodePrune(value: unknown): PruneBody {
  const o = Obj.from(value, "", "invalid");
  o.only(["before", "dry_run"]);
  return {
    before: decodeTime(o.raw.before, o.at("before")),
    dry_run: o.optBool("dry_run", false),
  };
}

/** Body of every error answer. */
export interface ApiError {
  /** `leader`: with `not_leader`, the leader's address (host:port), when known. */
  error: { code: ErrorCode; message: string; hint?: string; leader?: string };
}

/** Decodes and validates a submit body; throws `OrchError("invalid")` naming the field. */
export function decodeSubmit(value: unknown): SubmitRequest {
  const o = Obj.from(value, "", "invalid");
  o.only([
    "score",
    "scope",
    "targets",
    "params",
    "timeout_ms",
    "deadline",
    "retries",
    "request_id",
    "secret",
    "quorum",
    "batch",
    "max_errors",
    "batch_wait_ms",
    "some",
    "offline_wait_ms",
  ]);
  const score = o.str("score", { pattern: SCORE_NAME, patternDesc: SCORE_NAME_DESC });
  const scope = o.oneOf("scope", ["all", "one"] as const);
  const seen = new Set<string>();
  const targets = o.arr("targets", LIMITS.maxTargets, (v, path) => {
    if (typeof v !== "string") {
      throw new OrchError("invalid", `${path}: expected a target expression, got ${typeof v}`);
    }
    return parseTarget(v, path).text;
  }).filter((t) => (seen.has(t) ? false : (seen.add(t), true)));
  if (targets.length === 0) o.fail("targets", "at least one target is needed");
  const params = o.has("params")
    ? o.strMap("params", {
      keyPattern: PARAM_KEY,
      keyDesc: PARAM_KEY_DESC,
      maxEntries: LIMITS.maxParams,
      maxValue: LIMITS.maxParamValue,
      maxTotal: LIMITS.maxParamsTotal,
    })
    : {};
  const marked = new Set<string>();
  const secret = o.has("secret")
    ? o.arr("secret", LIMITS.maxParams, (v, path) => {
      if (typeof v !== "string" || !Object.hasOwn(params, v)) {
        throw new OrchError(
          "invalid",
          `${path}: ${
            JSON.stringify(v)
          } is not a key of params (each secret names a parameter given)`,
        );
      }
      return v;
    }).filter((k) => (marked.has(k) ? false : (marked.add(k), true)))
    : [];
  return {
    score,
    scope,
    targets,
    params,
    secret,
    timeout_ms: o.optInt("timeout_ms", 1, LIMITS.maxTimeoutMs) ?? null,
    deadline: o.has("deadline")
      ? decodeTime(o.raw.deadline, o.at("deadline"), 1, MAX_DEADLINE_MS)
      : null,
    retries: o.optInt("retries", 0, MAX_RETRIES) ?? 0,
    request_id: o.optStr("request_id", {
      pattern: REQUEST_ID,
      patternDesc: "a request id (letters, digits, '.', '_', ':', '-', at most 128)",
    }) ?? null,
    quorum: o.optInt("quorum", 1, LIMITS.maxTargets) ?? null,
    batch: decodeAmount(o, "batch"),
    max_errors: decodeAmount(o, "max_errors"),
    batch_wait_ms: o.optInt("batch_wait_ms", 0, MAX_BATCH_WAIT_MS) ?? 0,
    ...decodeSome(o, scope),
  };
}

/** The N-of fields of a submit: `some` (scope all only) and `offline_wait_ms` (with `some` only). */
function decodeSome(
  o: Obj,
  scope: Scope,
): Pick<SubmitRequest, "some" | "offline_wait_ms"> {
  const some = decodeAmount(o, "some");
  const wait = o.optInt("offline_wait_ms", 0, MAX_OFFLINE_WAIT_MS);
  if (some === null) {
    if (wait !== undefined) o.fail("offline_wait_ms", "an offline wait is for N-of jobs (some)");
    return {};
  }
  if (scope !== "all") o.fail("some", "N-of is asked with scope all (run on some of all targets)");
  return { some, offline_wait_ms: wait ?? DEFAULT_OFFLINE_WAIT_MS };
}

/** An optional `{count}` (1..max targets) or `{percent}` (1..100) field. */
function decodeAmount(o: Obj, key: string): Amount | null {
  if (!o.has(key)) return null;
  const a = o.obj(key);
  a.only(["count", "percent"]);
  if (a.has("count") === a.has("percent")) {
    o.fail(key, "expected exactly one of count or percent");
  }
  return a.has("count")
    ? { count: a.int("count", 1, LIMITS.maxTargets) }
    : { percent: a.int("percent", 1, 100) };
}

/** Turns an error answer's body into an `OrchError`; the one place codes come back from the wire. */
export function errorFromBody(status: number, body: unknown): OrchError {
  if (isPlainObject(body) && isPlainObject(body.error)) {
    const { code, message, hint, leader } = body.error;
    if (isErrorCode(code) && typeof message === "string") {
      const opts = typeof hint === "string" ? { hint } : undefined;
      if (code === "not_leader") {
        // Only a well-formed address is followed; anything else is as if none was named.
        const named = typeof leader === "string" && leader.length <= 300 &&
            parseConductorAddress(leader) !== null
          ? leader
          : null;
        return new NotLeaderError(message, named, opts);
      }
      return new OrchError(code, message, opts);
    }
  }
  return new OrchError(
    status >= 500 ? "internal" : "invalid",
    `conductor answered ${status} without an error body`,
  );
}

/** The body of an error answer for `err`; the one place codes go onto the wire. */
export function errorToBody(err: OrchError): ApiError {
  const body: ApiError = { error: { code: err.code, message: err.message } };
  if (err.hint !== undefined) body.error.hint = err.hint;
  if (err instanceof NotLeaderError && err.leader !== null) body.error.leader = err.leader;
  return body;
}
