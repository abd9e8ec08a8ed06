/**
 * The conductor's store seam: what any store (SQLite now, PostgreSQL next)
 * must do, as domain operations. Writes happen only inside
 * {@linkcode ConductorStore.write}, on the {@linkcode WriteTx} it hands out,
 * so "inside a write" is a type, not a comment. Reads see committed state
 * only.
 *
 * Any string can be stored, but a store may give it back with each NUL
 * ("\u0000") replaced by U+FFFD (PostgreSQL's text cannot hold NUL); every
 * other character comes back as it was written.
 *
 * The store is deterministic: ids, queue positions and times all come in as
 * arguments; it never reads a clock or makes an id.
 *
 * @module
 */

import type {
  AuditRecord,
  Caller,
  JobQuery,
  JobRollout,
  JobSummary,
  JobView,
  MissedPolicy,
  ScheduleJob,
  ScheduleSpec,
  Scope,
  ScoreInfo,
  TaskDetail,
  TaskPage,
  TaskQuery,
  TaskState,
  TriedPlayer,
} from "../protocol/mod.ts";

/** A job as stored; ids are chosen by the conductor. */
export interface JobRecord {
  id: number;
  score: string;
  scope: Scope;
  /** Every target host, in the order given (or chosen). */
  targets: string[];
  /**
   * The target expressions submitted (names, globs, selectors) when they
   * are not just `targets`; absent: the same as `targets`.
   */
  asked?: string[];
  /**
   * The parameters. A store never writes the value of a key of `secrets`,
   * and what it returns holds only the other keys' values.
   */
  params: Record<string, string>;
  /**
   * The keys of `params` whose values are secret, each with its value
   * sealed (encrypted under the conductor's `secrets_key`, which the store
   * never sees), or null when the value is held in the conductor's memory
   * only. Empty for a job without secrets.
   */
  secrets: Record<string, string | null>;
  /** Timeout of each run (ms), or null for the score's default. */
  timeoutMs: number | null;
  /** Epoch ms by which a task must start, or null. */
  deadline: number | null;
  /** Retries allowed after a failed run. */
  retries: number;
  /** Chosen by the client; a submit sent again finds its job by it. */
  requestId: string | null;
  /**
   * A digest of the submit (secret values left out), compared when its
   * request id comes again; absent or null for none.
   */
  requestDigest?: string | null;
  submittedAt: number;
  caller: Caller;
  /** Its quorum, batch and error budget, or null for none. */
  rollout: JobRollout | null;
  /** The schedule that submitted it; absent (or null) for a job submitted by hand. */
  schedule?: string | null;
}

/** A schedule as stored: a job template, when it is due, and what it last fired. */
export interface ScheduleRecord {
  name: string;
  spec: ScheduleSpec;
  policy: MissedPolicy;
  /** The job each run submits (never with secret params). */
  job: ScheduleJob;
  /** Who added it; each run is submitted as this caller. */
  owner: Caller;
  /** The owner's groups when it was added (a local user's), for its grants. */
  ownerGroups: string[];
  createdAt: number;
  /** The last due time fired or skipped (epoch ms), or null before the first. */
  lastDue: number | null;
  enabled: boolean;
}

/** The result of the current attempt of a task, once the player reported it. */
export interface AttemptResult {
  exitCode: number | null;
  signal: string | null;
  response: Record<string, unknown> | null;
  /** The start and the end of stdout, marked where bytes were dropped between them. */
  stdoutTail: string;
  stderrTail: string;
  /** Bytes of stdout not in `stdoutTail`; absent: 0. */
  stdoutDropped?: number;
  /** Bytes of stderr not in `stderrTail`; absent: 0. */
  stderrDropped?: number;
}

/**
 * A task's whole durable state, written whole: the queue columns and its
 * current attempt. Earlier attempts are history rows ({@linkcode AttemptRow}).
 */
export interface TaskRow {
  id: number;
  jobId: number;
  /** Queue position; lower runs first. */
  seq: number;
  /** All-of: always its target. One-of: where it is or was placed, else null. */
  host: string | null;
  state: TaskState;
  /** The current attempt; 0 before the first. */
  attempt: number;
  /** One-of: players that refused it. */
  tried: TriedPlayer[];
  /** Not to be placed before then (a retry's backoff), or null. */
  notBefore: number | null;
  /** Runs that did not succeed so far. */
  failures: number;
  /** A cancel is pending: stop it where it runs, never place it again. */
  cancelRequested: boolean;
  /** Why it is in its state, when the state does not say. */
  reason: string | null;
  updatedAt: number;
  /** When the current attempt was sent to `host`, or null before the first. */
  assignedAt: number | null;
  /** When the current attempt started on the player. */
  startedAt: number | null;
  /** When the current attempt ended. */
  endedAt: number | null;
  /** What the score reported for the current attempt; null until it did (or when nothing ran). */
  result: AttemptResult | null;
}

/** An attempt that is over and is not the task's current one: history. */
export interface AttemptRow {
  taskId: number;
  attempt: number;
  player: string;
  /** How it ended: rejected, unstarted, or an outcome. */
  state: string;
  assignedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  error: string | null;
  result: AttemptResult | null;
}

/** A player as last seen. */
export interface PlayerRecord {
  name: string;
  version: string;
  slots: number;
  scores: ScoreInfo[];
  address: string | null;
  lastSeen: number;
}

/** What the conductor loads at start. Sized by open work, never by history. */
export interface StoreSnapshot {
  /** This database's identity, or null before the first write of one. */
  conductorId: string | null;
  /** Highest job id and task id ever used (0 when none). */
  maxJobId: number;
  maxTaskId: number;
  /** Lowest and highest queue positions in use (0, 0 when empty). */
  seqLow: number;
  seqHigh: number;
  /** Every job that has a task not final, each once. */
  jobs: JobRecord[];
  /** Every task not final (queued, assigned, running), in queue order. */
  tasks: TaskRow[];
  /** For each job of `jobs` with final tasks: how many succeeded, and how many ended otherwise. */
  finished: { jobId: number; succeeded: number; other: number }[];
  /**
   * For each N-of job of `jobs` (rollout `some`): the hosts its final tasks
   * ran on (or were placed on), which no other slot of the job may take.
   */
  finishedHosts: { jobId: number; hosts: string[] }[];
  /** Jobs whose tasks are all final but that are not marked finished (a crash between the two). */
  unfinishedDoneJobs: number[];
  players: PlayerRecord[];
  /** Players drained by an operator, by name. */
  drained: string[];
}

/** A write transaction: every durable change goes through one. */
export interface WriteTx {
  /** Records this database's identity (once, before anything else is acknowledged). */
  setConductorId(id: string): void;
  /** Stores a new job and its tasks. */
  insertJob(job: JobRecord, tasks: readonly TaskRow[]): void;
  /** Writes the whole state of tasks that exist already. */
  saveTasks(tasks: readonly TaskRow[]): void;
  /** Adds attempts that are over to the history. */
  addAttempts(attempts: readonly AttemptRow[]): void;
  /** Marks jobs finished (every task final). */
  finishJobs(jobs: readonly { id: number; at: number }[]): void;
  /** Notes that a job was cancelled (the first time only). */
  cancelJob(id: number, at: number): void;
  /** Records what players announced when they connected. */
  savePlayers(players: readonly PlayerRecord[]): void;
  /** Drains `name` (new work stops going to it) from `at`, or undrains it when `at` is null. */
  setDrained(name: string, at: number | null): void;
  /** Notes when players were last heard from. */
  touchPlayers(players: readonly { name: string; at: number }[]): void;
  /** Appends records to the audit trail; the store numbers them in order. */
  addAudit(records: readonly NewAuditRecord[]): void;
  /** Stores a new schedule; the write fails when one of that name exists. */
  addSchedule(schedule: ScheduleRecord): void;
  /** Removes a schedule (nothing when there is none of that name). */
  removeSchedule(name: string): void;
  /**
   * Notes the last due time a schedule fired (or skipped). Written in the
   * same commit as the job the due time submitted, so that a crash leaves
   * both or neither.
   */
  markScheduleDue(name: string, lastDue: number): void;
  /**
   * Removes finished jobs older than a cutoff, with everything that belongs
   * to them, and old audit records, at most `req.maxRows` rows in all (see
   * {@linkcode PruneRequest}); a job that is not finished is never removed.
   * Runs after every other change of the write; `done` is told what went
   * once the write is committed.
   */
  pruneFinished(req: PruneRequest, done: (count: PruneCount) => void): void;
}

/**
 * What one prune removes. Rows are counted as jobs, tasks, attempts of the
 * history and audit records. A job whose rows fit in what is left of the
 * bound goes whole; a bigger one is marked as being pruned (views no longer
 * show it, as if it were gone) and its tasks go over several prunes, the
 * job row with the last of them; a later prune finishes a marked job before
 * it starts on another.
 */
export interface PruneRequest {
  /** Jobs finished before this (epoch ms) go. */
  before: number;
  /** Audit records made before this (epoch ms) go; null keeps them all. */
  auditBefore: number | null;
  /** Rows removed at most (at least 1). */
  maxRows: number;
}

/** What a prune removed. */
export interface PruneCount {
  /** Jobs removed whole (a job pruned over several prunes counts in the last). */
  jobs: number;
  /** Tasks removed. */
  tasks: number;
  /** Audit records removed. */
  audit: number;
  /** The prune used up its bound: more may be left before the same cutoffs. */
  more: boolean;
}

/** An audit record before the store numbered it. */
export type NewAuditRecord = Omit<AuditRecord, "id">;

/** Which audit records to list: newest first. */
export interface AuditQuery {
  limit: number;
  /** Only records with ids below this. */
  before?: number;
  /** Only records at or after this time (epoch ms). */
  since?: number;
  /** Only records of this identity. */
  who?: string;
}

/** What a job is, as far as deciding who may see or cancel it goes. */
export interface JobAccess {
  score: string;
  /** Every target, in the order given. */
  targets: string[];
  /** Who submitted it, as its one-line label (`submitted_by`). */
  submittedBy: string;
}

/** What a stored submit's request id leads to. */
export interface RequestRecord {
  /** The job it made. */
  id: number;
  /** Who submitted it, as its one-line label. */
  submittedBy: string;
  /** The submit's digest; null for a job stored before digests were kept. */
  digest: string | null;
}

/** The conductor's durable state. */
export interface ConductorStore {
  /** What the conductor needs to start: open work, ids in use, players. */
  load(): Promise<StoreSnapshot>;
  /**
   * Runs `fn` with a write transaction and commits it; resolves once the
   * commit is durable, rejects (with nothing written) when it is not.
   * Writes are never run concurrently: the caller awaits one before the next.
   */
  write(fn: (tx: WriteTx) => void): Promise<void>;
  /** The job a submit with `requestId` made, if one did. */
  jobIdByRequest(requestId: string): Promise<number | undefined>;
  /** The job a submit with `requestId` made, who submitted it and the submit's digest. */
  jobByRequest(requestId: string): Promise<RequestRecord | undefined>;
  /** A job with its counts per state, or undefined. */
  job(id: number): Promise<JobView | undefined>;
  /** A page of a job's tasks, or undefined when there is no such job. */
  tasks(jobId: number, query: TaskQuery): Promise<TaskPage | undefined>;
  /** One task of a job with its tails and attempts, or undefined. */
  task(jobId: number, taskId: number): Promise<TaskDetail | undefined>;
  /** The newest jobs first that match every filter of `query`, at most `query.limit`. */
  jobs(query: JobQuery): Promise<JobSummary[]>;
  /** What decides access to a job, or undefined when there is no such job. */
  jobAccess(id: number): Promise<JobAccess | undefined>;
  /** Audit records, newest first. */
  audit(query: AuditQuery): Promise<AuditRecord[]>;
  /** Every schedule, by name. */
  schedules(): Promise<ScheduleRecord[]>;
  /**
   * How many jobs finished before `before` (epoch ms), and their tasks, a
   * prune to that cutoff would remove (jobs already being pruned included).
   */
  prunable(before: number): Promise<{ jobs: number; tasks: number }>;
  /** Closes the store; pending reads may fail afterwards. */
  close(): Promise<void>;
}
