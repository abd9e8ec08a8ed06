/**
 * Building the store's records: the ones every store, its tests and its
 * measurements start from.
 *
 * @module
 */

import type { AuditAction, AuditRecord, JobRollout, Scope } from "../protocol/mod.ts";
import type {
  AttemptResult,
  AttemptRow,
  JobAccess,
  JobRecord,
  PlayerRecord,
  RequestRecord,
  ScheduleRecord,
  StoreSnapshot,
  TaskRow,
} from "./types.ts";

/** The row of a task just made: queued at `seq`, never tried, as of `at`. */
export function queuedTaskRow(
  t: { id: number; jobId: number; seq: number; host: string | null; at: number },
): TaskRow {
  return {
    id: t.id,
    jobId: t.jobId,
    seq: t.seq,
    host: t.host,
    state: "queued",
    attempt: 0,
    tried: [],
    notBefore: null,
    failures: 0,
    cancelRequested: false,
    reason: null,
    updatedAt: t.at,
    assignedAt: null,
    startedAt: null,
    endedAt: null,
    result: null,
  };
}

/** What a store holding nothing loads. */
export function emptySnapshot(): StoreSnapshot {
  return {
    conductorId: null,
    maxJobId: 0,
    maxTaskId: 0,
    seqLow: 0,
    seqHigh: 0,
    jobs: [],
    tasks: [],
    finished: [],
    finishedHosts: [],
    unfinishedDoneJobs: [],
    drained: [],
    players: [],
  };
}

// ------------------------------------------------------------ from stored rows
//
// Both stores return a row as an object keyed by column name, with numbers
// as numbers and JSON columns as text; what differs between them (booleans,
// arrays of cells) is said at the parameter that takes it.

/** A stored row: its cells by column name. */
export type StoredRow = Record<string, unknown>;

/** JSON of a list that is nearly always empty, without a call for the empty case. */
export function jsonList(list: readonly unknown[]): string {
  return list.length === 0 ? "[]" : JSON.stringify(list);
}

/** The params of a job as stored: each secret key's value is null, never the value. */
export function storedParams(j: JobRecord): string {
  const keys = Object.keys(j.secrets);
  if (keys.length === 0) return JSON.stringify(j.params);
  const stored: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(j.params)) stored[k] = Object.hasOwn(j.secrets, k) ? null : v;
  for (const k of keys) stored[k] = null;
  return JSON.stringify(stored);
}

/** Stored params without the (null) values of secret keys. */
export function paramsOf(stored: string): Record<string, string> {
  const all = JSON.parse(stored) as Record<string, string | null>;
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(all)) if (v !== null) params[k] = v;
  return params;
}

/** The stored rollout rules of a job, or null. */
export function rolloutCol(v: unknown): JobRollout | null {
  return typeof v === "string" ? JSON.parse(v) as JobRollout : null;
}

/** The counts of output bytes dropped, as a result holds them: only those above 0. */
export function droppedOf(stdout: unknown, stderr: unknown): Partial<AttemptResult> {
  const out: Partial<AttemptResult> = {};
  if (typeof stdout === "number" && stdout > 0) out.stdoutDropped = stdout;
  if (typeof stderr === "number" && stderr > 0) out.stderrDropped = stderr;
  return out;
}

/** The result columns of an attempt row; a result exists once its stdout tail does. */
export function resultOf(r: StoredRow): AttemptResult | null {
  if (r.stdout_tail === null) return null;
  return {
    exitCode: r.exit_code as number | null,
    signal: r.signal as string | null,
    response: r.response === null ? null : JSON.parse(r.response as string),
    stdoutTail: r.stdout_tail as string,
    stderrTail: (r.stderr_tail as string | null) ?? "",
    ...droppedOf(r.stdout_dropped, r.stderr_dropped),
  };
}

/** An attempt of the history from its row. */
export function attemptOf(r: StoredRow): AttemptRow {
  return {
    taskId: r.task_id as number,
    attempt: r.attempt as number,
    player: r.player as string,
    state: r.state as string,
    assignedAt: r.assigned_at as number,
    startedAt: r.started_at as number | null,
    endedAt: r.ended_at as number | null,
    error: r.error as string | null,
    result: resultOf(r),
  };
}

/** Attempts of the history grouped by task, in the order read. */
export function attemptsByTask(rows: readonly StoredRow[]): Map<number, AttemptRow[]> {
  const history = new Map<number, AttemptRow[]>();
  for (const r of rows) {
    const a = attemptOf(r);
    const list = history.get(a.taskId);
    if (list) list.push(a);
    else history.set(a.taskId, [a]);
  }
  return history;
}

/** A job from its row. */
export function jobOf(r: StoredRow): JobRecord {
  const job: JobRecord = {
    id: r.id as number,
    score: r.score as string,
    scope: r.scope as Scope,
    targets: JSON.parse(r.targets as string),
    params: paramsOf(r.params as string),
    secrets: r.secrets === null ? {} : JSON.parse(r.secrets as string),
    timeoutMs: r.timeout_ms as number | null,
    deadline: r.deadline as number | null,
    retries: r.retries as number,
    requestId: r.request_id as string | null,
    submittedAt: r.submitted_at as number,
    caller: JSON.parse(r.caller as string),
    rollout: rolloutCol(r.rollout),
    ...(r.asked === null || r.asked === undefined ? {} : { asked: JSON.parse(r.asked as string) }),
  };
  if (r.schedule !== null) job.schedule = r.schedule as string;
  return job;
}

/**
 * A schedule from its row; `enabled` is whether the row's flag is set
 * (SQLite stores it as 1, PostgreSQL as true).
 */
export function scheduleOf(r: StoredRow, enabled: boolean): ScheduleRecord {
  return {
    name: r.name as string,
    spec: JSON.parse(r.spec as string),
    policy: r.policy as ScheduleRecord["policy"],
    job: JSON.parse(r.job as string),
    owner: JSON.parse(r.owner as string),
    ownerGroups: JSON.parse(r.owner_groups as string),
    createdAt: r.created_at as number,
    lastDue: r.last_due as number | null,
    enabled,
  };
}

/** A player from its row. */
export function playerOf(r: StoredRow): PlayerRecord {
  return {
    name: r.name as string,
    version: r.version as string,
    slots: r.slots as number,
    scores: JSON.parse(r.scores as string),
    address: r.address as string | null,
    lastSeen: r.last_seen as number,
  };
}

/** A job's finished tasks from a row of job_id, succeeded and n (all finished). */
export function finishedOf(r: StoredRow): StoreSnapshot["finished"][number] {
  return {
    jobId: r.job_id as number,
    succeeded: r.succeeded as number,
    other: (r.n as number) - (r.succeeded as number),
  };
}

/** The hosts of finished tasks by job, from rows of job_id and host in order. */
export function finishedHostsOf(rows: readonly StoredRow[]): StoreSnapshot["finishedHosts"] {
  const byJob = new Map<number, string[]>();
  for (const r of rows) {
    const hosts = byJob.get(r.job_id as number) ?? [];
    hosts.push(r.host as string);
    byJob.set(r.job_id as number, hosts);
  }
  return [...byJob].map(([jobId, hosts]) => ({ jobId, hosts }));
}

/** What a request id's job is, from a row of id, submitted_by and request_digest. */
export function requestOf(r: StoredRow): RequestRecord {
  return {
    id: r.id as number,
    submittedBy: r.submitted_by as string,
    digest: r.request_digest as string | null,
  };
}

/** What access to a job is decided on, from a row of score, targets and submitted_by. */
export function jobAccessOf(r: StoredRow): JobAccess {
  return {
    score: r.score as string,
    targets: JSON.parse(r.targets as string),
    submittedBy: r.submitted_by as string,
  };
}

/** An audit record from its row (`from` is stored as from_addr). */
export function auditOf(r: StoredRow): AuditRecord {
  return {
    id: r.id as number,
    at: r.at as number,
    who: r.who as string,
    auth: r.auth as string,
    transport: r.transport as string,
    from: r.from_addr as string,
    action: r.action as AuditAction,
    subject: r.subject as string,
    job_id: r.job_id as number | null,
    outcome: r.outcome as "allowed" | "refused",
    reason: r.reason as string | null,
  };
}
