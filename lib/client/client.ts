/**
 * The audience's client for the conductor's API, over the local Unix
 * socket or over HTTPS with an audience certificate. Used by `orch submit`,
 * `orch status`, `orch jobs` and `orch players`, and usable by any script.
 *
 * @module
 */

import http from "node:http";
import https from "node:https";
import { errorMessage, NotLeaderError, OrchError } from "../errors.ts";
import {
  API_PREFIX,
  type AuditRecord,
  type CancelResponse,
  concatBytes,
  type DrainResponse,
  errorFromBody,
  type JobQuery,
  type JobSummary,
  type JobView,
  MAX_TASK_PAGE,
  MAX_TASK_PAGE_OUTPUT,
  parseConductorAddress,
  type PlayerView,
  type PruneResponse,
  type ScheduleRequest,
  type ScheduleView,
  type SubmitInput,
  type TaskDetail,
  type TaskPage,
  type TaskQuery,
  type TaskView,
} from "../protocol/mod.ts";
import { clientTlsOptions, type TlsMaterial } from "../tls/mod.ts";
import { makeLocalProof } from "./local_proof.ts";
import { type AudienceEvent, decodeEvent } from "./events.ts";
import { SseParser } from "./sse.ts";

/** A conductor's HTTPS address and the name its certificate must hold. */
export interface HttpsConductor {
  host: string;
  port: number;
  expectName: string;
}

/**
 * Where the conductor's API is. Over HTTPS, `others` are further conductors
 * (of one deployment, sharing one database) tried in order when the one in
 * use cannot be reached or answers that it is not the leader.
 */
export type Endpoint =
  | { kind: "socket"; path: string }
  | {
    kind: "https";
    host: string;
    port: number;
    tls: TlsMaterial;
    expectName: string;
    others?: readonly HttpsConductor[];
  };

/** Largest answer the client reads. */
const MAX_ANSWER = 64 << 20;
/** Largest error answer read from an event route. */
const MAX_ERROR_ANSWER = 64 << 10;
/** A stream silent this long (three missed keep-alives) is opened again. */
const STREAM_IDLE_MS = 45_000;
/** Longest single long-poll. */
const POLL_S = 60;

/** How {@linkcode AudienceClient.events} follows a stream. */
export interface EventStreamOptions {
  /** Resume after this event id (from an earlier stream). */
  lastEventId?: string;
  /** Stop following after this long (ms); null or absent: until the stream ends. */
  timeoutMs?: number | null;
  /** Stop following when this is aborted. */
  signal?: AbortSignal;
  /** Told each time a dropped or refused connection is tried again. */
  onRetry?: (err: OrchError) => void;
}

/** An event stream's connection: its body as it arrives, and how to close it. */
interface OpenStream {
  body: AsyncIterable<Uint8Array>;
  close: () => void;
}

/**
 * One answer as the client got it, for an {@linkcode AnswerCheck}: `body`
 * is the parsed JSON, undefined for an event stream or a body that is not JSON.
 */
export interface Answer {
  method: string;
  /** The path with its query, as sent (`/v1/jobs/3?wait=1`). */
  path: string;
  status: number;
  contentType: string;
  body: unknown;
}

/**
 * Told of every answer before the client uses it; what it throws is what
 * the call rejects with. For tests that check answers against the API's
 * description.
 */
export type AnswerCheck = (answer: Answer) => void;

/** A client of one conductor. */
export class AudienceClient {
  /** Index of the HTTPS conductor in use (0: the endpoint's own). */
  #at = 0;

  /**
   * @param endpoint Where the conductor is.
   * @param check Told of every answer (see {@linkcode AnswerCheck}); none by default.
   */
  constructor(readonly endpoint: Endpoint, readonly check?: AnswerCheck) {}

  /** Where the client talks to, for messages. */
  get where(): string {
    const e = this.endpoint;
    if (e.kind === "socket") return e.path;
    const c = this.#conductors()[this.#at];
    return `https://${c.host.includes(":") ? `[${c.host}]` : c.host}:${c.port}`;
  }

  /** The HTTPS conductors in the order they are tried; none over the socket. */
  #conductors(): HttpsConductor[] {
    const e = this.endpoint;
    if (e.kind === "socket") return [];
    return [{ host: e.host, port: e.port, expectName: e.expectName }, ...(e.others ?? [])];
  }

  /**
   * After `err` from the conductor in use: when another conductor may serve
   * (the error is `unavailable` or `not_leader`, and there is another), moves
   * to it and says true. The next is the leader a `not_leader` answer names
   * when it is one of the list, else the following one; one in `tried` is
   * not chosen again (the caller has had its answer).
   */
  #moveOn(err: unknown, tried: ReadonlySet<number> = new Set()): boolean {
    if (!(err instanceof OrchError)) return false;
    if (err.code !== "unavailable" && err.code !== "not_leader") return false;
    const list = this.#conductors();
    if (list.length < 2) return false;
    const leader = err instanceof NotLeaderError && err.leader !== null
      ? parseConductorAddress(err.leader)
      : null;
    const named = leader === null
      ? -1
      : list.findIndex((c) =>
        c.port === leader.port && c.host.toLowerCase() === leader.host.toLowerCase()
      );
    if (named >= 0 && !tried.has(named)) {
      this.#at = named;
      return true;
    }
    for (let step = 1; step < list.length; step++) {
      const i = (this.#at + step) % list.length;
      if (!tried.has(i)) {
        this.#at = i;
        return true;
      }
    }
    // Every one was tried: start the next attempt with the following one.
    this.#at = (this.#at + 1) % list.length;
    return false;
  }

  /**
   * Submits a job; resolves with its id once the conductor has stored it.
   * The submit carries a request id (made here unless given), so sending it
   * again is safe: with `retryForMs`, an unreachable conductor is tried again
   * for that long, and a submit whose answer was lost still makes one job.
   */
  async submit(
    req: SubmitInput,
    opts: { retryForMs?: number; onRetry?: (err: OrchError) => void } = {},
  ): Promise<number> {
    const body = { ...req, request_id: req.request_id ?? crypto.randomUUID() };
    const deadline = Date.now() + (opts.retryForMs ?? 0);
    return await this.#reaching(
      deadline,
      opts.onRetry,
      async () => (await this.#call("POST", "/jobs", body) as { id: number }).id,
    );
  }

  /** Cancels a job. */
  /** Drains player `name` (`on`: no new work goes to it) or undrains it. */
  async drain(name: string, on: boolean): Promise<DrainResponse> {
    const path = `/players/${encodeURIComponent(name)}/${on ? "drain" : "undrain"}`;
    return await this.#call("POST", path, {}) as DrainResponse;
  }

  /**
   * Prunes the jobs finished before `before` (epoch ms), or counts them with
   * `dryRun`; answers once every batch is done.
   */
  async prune(before: number, dryRun = false): Promise<PruneResponse> {
    return await this.#call("POST", "/prune", { before, dry_run: dryRun }) as PruneResponse;
  }

  async cancel(id: number): Promise<CancelResponse> {
    return await this.#call("POST", `/jobs/${id}/cancel`, {}) as CancelResponse;
  }

  /** A job's summary as it is now: what was asked, and its tasks counted by state. */
  async job(id: number): Promise<JobView> {
    return await this.#call("GET", `/jobs/${id}`) as JobView;
  }

  /** A page of a job's tasks (with their output tails and attempts when `query.output`). */
  async tasks(id: number, query: TaskQuery): Promise<TaskPage> {
    const q = new URLSearchParams({ page: String(query.page), limit: String(query.limit) });
    if (query.state !== undefined) q.set("state", query.state);
    if (query.host !== undefined) q.set("host", query.host);
    if (query.output) q.set("output", "1");
    return await this.#call("GET", `/jobs/${id}/tasks?${q}`) as TaskPage;
  }

  /** One task of a job, with its output tails and every attempt. */
  async task(id: number, taskId: number): Promise<TaskDetail> {
    return await this.#call("GET", `/jobs/${id}/tasks/${taskId}`) as TaskDetail;
  }

  /**
   * Every task of a job, page by page, in task id order; with `output`, each
   * with its output tails and attempts. Sized by the job: for scripts and
   * tests, not for jobs of many thousands of tasks with output.
   */
  allTasks(id: number, opts: { output: true }): Promise<TaskDetail[]>;
  allTasks(id: number, opts?: { output?: boolean }): Promise<TaskView[]>;
  async allTasks(id: number, opts: { output?: boolean } = {}): Promise<TaskView[]> {
    // A row carries its response (up to 256 KiB): 200 rows stay under the 64 MiB answer bound.
    const limit = opts.output ? MAX_TASK_PAGE_OUTPUT : MAX_TASK_PAGE;
    const all: TaskView[] = [];
    for (let page = 1;; page++) {
      const p = await this.tasks(id, { page, limit, output: opts.output });
      all.push(...p.tasks);
      // A page short of the limit is the last; so is one that reaches the total.
      if (p.tasks.length < limit || all.length >= p.total) return all;
    }
  }

  /**
   * Waits until job `id` is finished, with long polls (no busy loop). Rides
   * out a conductor restart: an unreachable conductor is retried until
   * `timeoutMs` (null: for ever). Resolves with the job as it is when
   * finished or when time is up.
   */
  async waitJob(
    id: number,
    opts: { timeoutMs: number | null; onRetry?: (err: OrchError) => void },
  ): Promise<JobView> {
    const deadline = opts.timeoutMs === null ? Infinity : Date.now() + opts.timeoutMs;
    for (;;) {
      const job = await this.#reaching(deadline, opts.onRetry, () => {
        const waitS = Math.max(0, Math.min(POLL_S, (deadline - Date.now()) / 1000));
        return this.#call("GET", `/jobs/${id}?wait=${waitS.toFixed(3)}`) as Promise<JobView>;
      });
      if (job.finished_at !== null || Date.now() >= deadline) return job;
    }
  }

  /**
   * Follows the event stream of job `job` (`GET /v1/jobs/ID/events`), or of
   * every job the caller may read when `job` is null (`GET /v1/events`), as
   * typed events. A dropped connection (a conductor restart, a `cutoff`) is
   * opened again with the last event id seen, after a doubling wait (250 ms
   * up to 5 s). Ends after a job's `end` event, when `opts.signal` is
   * aborted, or when `opts.timeoutMs` has passed. A conductor that does not
   * serve events answers `not_found` (see {@linkcode AudienceClient.job} to
   * tell it from a job that does not exist).
   *
   * @example
   * ```ts
   * for await (const ev of client.events(7)) {
   *   if (ev.type === "output") console.log(ev.host, ev.data);
   * }
   * ```
   */
  async *events(job: number | null, opts: EventStreamOptions = {}): AsyncGenerator<AudienceEvent> {
    const path = job === null ? "/events" : `/jobs/${job}/events`;
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    opts.signal?.addEventListener("abort", onAbort);
    if (opts.signal?.aborted) stop.abort();
    const timer = opts.timeoutMs === null || opts.timeoutMs === undefined
      ? undefined
      : setTimeout(onAbort, Math.max(0, opts.timeoutMs));
    let lastId = opts.lastEventId ?? null;
    let delay = 250;
    try {
      while (!stop.signal.aborted) {
        let open: OpenStream | null = null;
        let idleTimer: ReturnType<typeof setTimeout> | undefined;
        const closeOnStop = () => open?.close();
        stop.signal.addEventListener("abort", closeOnStop);
        try {
          open = await this.#openStream(path, lastId, stop.signal);
          const parser = new SseParser();
          const decoder = new TextDecoder();
          let cut = false;
          // The conductor sends a keep-alive every 15 s: a silent connection is a dead one.
          let idle = false;
          const stream = open;
          const onIdle = () => {
            idle = true;
            stream.close();
          };
          idleTimer = setTimeout(onIdle, STREAM_IDLE_MS);
          for await (const chunk of open.body) {
            clearTimeout(idleTimer);
            idleTimer = setTimeout(onIdle, STREAM_IDLE_MS);
            for (const sse of parser.push(decoder.decode(chunk, { stream: true }))) {
              const ev = decodeEvent(sse);
              if (sse.id !== null) lastId = sse.id;
              if (ev === null) continue;
              delay = 250;
              yield ev;
              if (ev.type === "end" && job !== null) return;
              if (ev.type === "cutoff") cut = true;
            }
            if (cut || stop.signal.aborted) break;
          }
          clearTimeout(idleTimer);
          if (stop.signal.aborted) return;
          if (!cut) {
            throw new OrchError(
              "unavailable",
              idle
                ? `the conductor at ${this.where} sent nothing for ${STREAM_IDLE_MS / 1000}s`
                : `the conductor at ${this.where} closed the stream`,
            );
          }
        } catch (err) {
          if (stop.signal.aborted) return;
          const e = err instanceof OrchError ? err : this.#unavailable(err);
          if (e.code !== "unavailable" && e.code !== "not_leader") throw e;
          this.#moveOn(e);
          opts.onRetry?.(e);
        } finally {
          clearTimeout(idleTimer);
          stop.signal.removeEventListener("abort", closeOnStop);
          open?.close();
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, delay);
          function done() {
            clearTimeout(t);
            stop.signal.removeEventListener("abort", done);
            resolve();
          }
          stop.signal.addEventListener("abort", done);
        });
        delay = Math.min(delay * 2, 5000);
      }
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Opens an event stream; rejects with the conductor's error when it does not answer 200. */
  async #openStream(path: string, lastId: string | null, signal: AbortSignal): Promise<OpenStream> {
    const e = this.endpoint;
    const proof = e.kind === "socket" ? await makeLocalProof(e.path) : null;
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (proof) headers["authorization"] = proof.header;
    if (lastId !== null) headers["last-event-id"] = lastId;
    const options = { method: "GET", path: `${API_PREFIX}${path}`, headers };
    try {
      return await new Promise<OpenStream>((resolve, reject) => {
        const onResponse = (res: http.IncomingMessage) => {
          const status = res.statusCode ?? 0;
          const type = String(res.headers["content-type"] ?? "");
          if (status === 200 && type.startsWith("text/event-stream")) {
            try {
              this.check?.({ ...answerOf(options, res), body: undefined });
            } catch (err) {
              req.destroy();
              reject(err);
              return;
            }
            resolve({ body: res, close: () => req.destroy() });
            return;
          }
          const chunks: Uint8Array[] = [];
          let size = 0;
          res.on("data", (c: Uint8Array) => {
            size += c.length;
            if (size > MAX_ERROR_ANSWER) req.destroy();
            else chunks.push(c);
          });
          res.on("error", (err) => reject(this.#unavailable(err)));
          res.on("end", () => {
            let parsed: unknown = null;
            try {
              parsed = JSON.parse(new TextDecoder().decode(concatBytes(chunks)));
            } catch {
              // not JSON: errorFromBody says so by the status
            }
            try {
              this.check?.({ ...answerOf(options, res), body: parsed });
            } catch (err) {
              reject(err);
              return;
            }
            reject(
              status === 200
                ? new OrchError(
                  "protocol",
                  `the conductor answered ${path} with ${
                    JSON.stringify(type)
                  }, not an event stream`,
                )
                : errorFromBody(status, parsed),
            );
          });
        };
        const req = this.#request(options, onResponse);
        req.on("error", (err) => reject(this.#unavailable(err)));
        signal.addEventListener("abort", () => req.destroy(), { once: true });
        req.end();
      });
    } finally {
      await proof?.discard();
    }
  }

  /**
   * Runs `call`, and while the conductor cannot be reached and `deadline`
   * (epoch ms) has not passed, runs it again after a doubling wait (250 ms
   * up to 5 s), telling `onRetry` each time.
   */
  async #reaching<T>(
    deadline: number,
    onRetry: ((err: OrchError) => void) | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    let delay = 250;
    for (;;) {
      try {
        return await call();
      } catch (err) {
        const retry = err instanceof OrchError &&
          (err.code === "unavailable" || err.code === "not_leader");
        if (!retry || Date.now() >= deadline) throw err;
        onRetry?.(err);
        await new Promise((r) =>
          setTimeout(r, Math.min(delay, Math.max(0, deadline - Date.now())))
        );
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  /** The newest jobs that match every filter given. */
  async jobs(
    limit: number,
    before?: number,
    filter: Omit<JobQuery, "limit" | "before"> = {},
  ): Promise<JobSummary[]> {
    const params = new URLSearchParams({ limit: String(limit) });
    if (before !== undefined) params.set("before", String(before));
    if (filter.state !== undefined) params.set("state", filter.state);
    if (filter.score !== undefined) params.set("score", filter.score);
    if (filter.submittedBy !== undefined) params.set("submitted_by", filter.submittedBy);
    if (filter.since !== undefined) params.set("since", String(filter.since));
    if (filter.until !== undefined) params.set("until", String(filter.until));
    return (await this.#call("GET", `/jobs?${params}`) as { jobs: JobSummary[] }).jobs;
  }

  /** Audit records, newest first. */
  async audit(
    q: { limit: number; before?: number; since?: number; who?: string },
  ): Promise<AuditRecord[]> {
    const params = new URLSearchParams({ limit: String(q.limit) });
    if (q.before !== undefined) params.set("before", String(q.before));
    if (q.since !== undefined) params.set("since", String(q.since));
    if (q.who !== undefined) params.set("who", q.who);
    return (await this.#call("GET", `/audit?${params}`) as { records: AuditRecord[] }).records;
  }

  /** The players. */
  async players(): Promise<PlayerView[]> {
    return (await this.#call("GET", "/players") as { players: PlayerView[] }).players;
  }

  /** The conductor's health answer. */
  async health(): Promise<Record<string, unknown>> {
    return await this.#call("GET", "/health") as Record<string, unknown>;
  }

  /** Adds a schedule; answers with it as stored. */
  async addSchedule(req: ScheduleRequest): Promise<ScheduleView> {
    const body: Record<string, unknown> = { name: req.name, policy: req.policy, job: req.job };
    if ("cron" in req.spec) {
      body.cron = req.spec.cron;
      if (req.spec.timezone !== null) body.timezone = req.spec.timezone;
    } else body.every_ms = req.spec.every_ms;
    return await this.#call("POST", "/schedules", body) as ScheduleView;
  }

  /** Every schedule. */
  async schedules(): Promise<ScheduleView[]> {
    return (await this.#call("GET", "/schedules") as { schedules: ScheduleView[] }).schedules;
  }

  /** Removes a schedule. */
  async removeSchedule(name: string): Promise<void> {
    await this.#call("DELETE", `/schedules/${encodeURIComponent(name)}`);
  }

  /** Submits a schedule's job now; answers with the job's id. */
  async runSchedule(name: string): Promise<number> {
    return (await this.#call("POST", `/schedules/${encodeURIComponent(name)}/run`, {}) as {
      id: number;
    }).id;
  }

  /**
   * One request; over HTTPS with several conductors, tried on each in turn
   * (at most once each) while they cannot be reached or are not the leader.
   * The same body goes to each: a submit keeps its request id.
   */
  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const e = this.endpoint;
    if (e.kind === "https") {
      const tried = new Set<number>();
      for (;;) {
        tried.add(this.#at);
        try {
          return await this.#send(method, path, body, undefined);
        } catch (err) {
          if (!this.#moveOn(err, tried)) throw err;
        }
      }
    }
    const proof = await makeLocalProof(e.path);
    try {
      return await this.#send(method, path, body, proof?.header);
    } finally {
      await proof?.discard();
    }
  }

  #send(method: string, path: string, body: unknown, auth: string | undefined): Promise<unknown> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: "application/json" };
    if (auth !== undefined) headers["authorization"] = auth;
    if (payload !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(new TextEncoder().encode(payload).length);
    }
    const options = { method, path: `${API_PREFIX}${path}`, headers };
    return new Promise((resolve, reject) => {
      const onResponse = (res: http.IncomingMessage) => {
        const chunks: Uint8Array[] = [];
        let size = 0;
        res.on("data", (c: Uint8Array) => {
          size += c.length;
          if (size > MAX_ANSWER) {
            res.destroy();
            reject(new OrchError("protocol", `the conductor's answer exceeds ${MAX_ANSWER} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on("error", (err) => reject(this.#unavailable(err)));
        res.on("end", () => {
          const text = new TextDecoder().decode(concatBytes(chunks));
          let parsed: unknown;
          try {
            parsed = text === "" ? null : JSON.parse(text);
          } catch {
            reject(
              new OrchError(
                "protocol",
                `the conductor answered ${res.statusCode} with a body that is not JSON`,
              ),
            );
            return;
          }
          const status = res.statusCode ?? 0;
          try {
            this.check?.({ ...answerOf(options, res), body: parsed });
          } catch (err) {
            reject(err);
            return;
          }
          if (status >= 200 && status < 300) resolve(parsed);
          else reject(errorFromBody(status, parsed));
        });
      };
      const req = this.#request(options, onResponse);
      req.on("error", (err) => reject(this.#unavailable(err)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** A request to the conductor over the endpoint's transport. */
  #request(
    options: http.RequestOptions,
    onResponse: (res: http.IncomingMessage) => void,
  ): http.ClientRequest {
    const e = this.endpoint;
    if (e.kind === "socket") return http.request({ ...options, socketPath: e.path }, onResponse);
    const c = this.#conductors()[this.#at];
    return https.request({
      ...options,
      host: c.host,
      port: c.port,
      ...clientTlsOptions(e.tls, c.expectName, "conductor"),
    }, onResponse);
  }

  #unavailable(err: unknown): OrchError {
    const code = (err as { code?: string }).code;
    const why = code === "ENOENT"
      ? "no such socket"
      : code === "ECONNREFUSED"
      ? "connection refused"
      : code === "EACCES"
      ? "permission denied (check the socket's group and mode)"
      : errorMessage(err);
    return new OrchError("unavailable", `cannot reach the conductor at ${this.where}: ${why}`, {
      cause: err,
      hint: "is the conductor running? choose it with --socket PATH or --conductor HOST:PORT",
    });
  }
}

/** An answer's method, path, status and content type, for an {@linkcode AnswerCheck}. */
function answerOf(
  options: { method: string; path: string },
  res: http.IncomingMessage,
): Omit<Answer, "body"> {
  return {
    method: options.method,
    path: options.path,
    status: res.statusCode ?? 0,
    contentType: String(res.headers["content-type"] ?? ""),
  };
}
