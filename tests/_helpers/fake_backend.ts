/**
 * An in-memory audience backend for tests of the API and its clients: jobs
 * made of fixed views, every call recorded.
 *
 * @module
 */

import type { AudienceBackend } from "../../lib/conductor/api.ts";
import { OrchError } from "../../lib/errors.ts";
import type { AuditQuery } from "../../lib/store/mod.ts";
import type {
  AuditRecord,
  Caller,
  CancelResponse,
  DrainResponse,
  JobQuery,
  JobSummary,
  JobView,
  PlayerView,
  ReadyView,
  SubmitRequest,
  TaskDetail,
  TaskPage,
  TaskQuery,
  TaskState,
} from "../../lib/protocol/mod.ts";

/** A time that reads well in snapshots: 2026-11-22 08:52:34Z. */
export const T0 = Date.UTC(2026, 10, 22, 8, 52, 34);

/** A task with output, finished by default; `over` changes any field. */
export function task(over: Partial<TaskDetail> & { id: number }): TaskDetail {
  return {
    job_id: 1,
    host: `p${over.id}`,
    state: "succeeded",
    attempt: 1,
    reason: null,
    exit_code: 0,
    signal: null,
    started_at: T0 + 10,
    ended_at: T0 + 15,
    response: null,
    tried: [],
    not_before: null,
    cancel_requested: false,
    offline_since: null,
    stdout_tail: "",
    stderr_tail: "",
    attempts: [],
    ...over,
  };
}

/** The summary of a job whose tasks are `tasks`; `over` changes any field. */
export function jobOf(tasks: TaskDetail[], over: Partial<JobView> = {}): JobView {
  const counts: Partial<Record<TaskState, number>> = {};
  for (const t of tasks) counts[t.state] = (counts[t.state] ?? 0) + 1;
  const targets = tasks.map((t) => t.host ?? "?");
  return {
    id: tasks[0]?.job_id ?? 1,
    score: "hello",
    scope: "all",
    targets: targets.slice(0, 100),
    hosts: targets.slice(0, 100),
    secret: [],
    host_count: targets.length,
    params: {},
    submitted_at: T0,
    submitted_by: "local",
    caller: { transport: "socket", name: "local", auth: "socket_mode" },
    finished_at: T0 + 35,
    timeout_ms: null,
    deadline: null,
    retries: 0,
    rollout_settings: null,
    rollout: null,
    cancelled_at: null,
    schedule: null,
    aggregate: "success",
    counts,
    task_count: tasks.length,
    offline: 0,
    ...over,
  };
}

/** A page of `tasks` as the store would cut it. */
export function pageOf(jobId: number, tasks: TaskDetail[], query: TaskQuery): TaskPage {
  const matching = tasks.filter((t) =>
    (query.state === undefined || t.state === query.state) &&
    (query.host === undefined || t.host === query.host)
  );
  const start = (query.page - 1) * query.limit;
  const slice = matching.slice(start, start + query.limit);
  return {
    job_id: jobId,
    total: matching.length,
    page: query.page,
    limit: query.limit,
    tasks: query.output
      ? slice
      : slice.map(({ job_id: _, stdout_tail: _o, stderr_tail: _e, attempts: _a, ...v }) => v),
  };
}

/** One recorded call: the method's name and its arguments. */
export type Call = [string, ...unknown[]];

/** An in-memory backend over fixed jobs. */
export class FakeBackend implements AudienceBackend {
  readonly calls: Call[] = [];
  readonly jobsById = new Map<number, { view: JobView; tasks: TaskDetail[] }>();
  nextId = 100;
  /** When set, every call throws it. */
  failWith: unknown = undefined;
  /** What `ready()` answers. */
  readiness: ReadyView = { ready: true, failed: [], checks: [] };

  /** Adds a job made of `tasks`. */
  add(tasks: TaskDetail[], over: Partial<JobView> = {}): JobView {
    const view = jobOf(tasks, over);
    this.jobsById.set(view.id, { view, tasks });
    return view;
  }

  #call(name: string, ...args: unknown[]): void {
    this.calls.push([name, ...args]);
    if (this.failWith !== undefined) throw this.failWith;
  }

  /** The names of the calls made, in order. */
  get names(): string[] {
    return this.calls.map((c) => c[0]);
  }

  submit(req: SubmitRequest, caller: Caller): Promise<number> {
    this.#call("submit", req, caller);
    return Promise.resolve(this.nextId++);
  }

  cancel(id: number, caller: Caller): Promise<CancelResponse> {
    this.#call("cancel", id, caller);
    if (!this.jobsById.has(id)) return Promise.reject(new OrchError("not_found", `no job ${id}`));
    return Promise.resolve({ id, cancelled: 1, stopping: 0 });
  }

  job(id: number): Promise<JobView | undefined> {
    this.#call("job", id);
    return Promise.resolve(this.jobsById.get(id)?.view);
  }

  waitJob(id: number, timeoutMs: number, signal?: AbortSignal): Promise<JobView | undefined> {
    this.#call("waitJob", id, timeoutMs, signal);
    return Promise.resolve(this.jobsById.get(id)?.view);
  }

  tasks(id: number, query: TaskQuery): Promise<TaskPage | undefined> {
    this.#call("tasks", id, query);
    const job = this.jobsById.get(id);
    return Promise.resolve(job && pageOf(id, job.tasks, query));
  }

  task(id: number, taskId: number): Promise<TaskDetail | undefined> {
    this.#call("task", id, taskId);
    return Promise.resolve(this.jobsById.get(id)?.tasks.find((t) => t.id === taskId));
  }

  jobs(query: JobQuery): Promise<JobSummary[]> {
    this.#call("jobs", query);
    return Promise.resolve([]);
  }

  players(): Promise<PlayerView[]> {
    this.#call("players");
    return Promise.resolve([]);
  }

  drain(name: string, on: boolean, by: string): Promise<DrainResponse> {
    this.#call("drain", name, on, by);
    return Promise.resolve({ name, draining: on, running: 0 });
  }

  audit(query: AuditQuery): Promise<AuditRecord[]> {
    this.#call("audit", query);
    return Promise.resolve([]);
  }

  health(): Record<string, unknown> {
    this.#call("health");
    return { conductor_id: "c-1", open_tasks: 0 };
  }

  ready(): ReadyView {
    this.#call("ready");
    return this.readiness;
  }
}
