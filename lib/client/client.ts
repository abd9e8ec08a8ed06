/**
 * The audience's client for the conductor's API, over the local Unix
 * socket or over HTTPS with an audience certificate. Used by `orch submit`,
 * `orch status`, `orch jobs` and `orch players`, and usable by any script.
 *
 * @module
 */

import { errorMessage, NotLeaderError, OrchError } from "../errors.ts";
import {
  API_PREFIX,
  type AuditRecordJson,
  type CancelResponse,
  type DrainResponse,
  errorFromBody,
  type JobQuery,
  type JobSummaryJson,
  type JobViewJson,
  MAX_TASK_PAGE,
  MAX_TASK_PAGE_OUTPUT,
  parseConductorAddress,
  type PlayerViewJson,
  type PruneResponseJson,
  sameAddress,
  type ScheduleRequest,
  type ScheduleViewJson,
  type SubmitInput,
  type TaskDetailJson,
  type TaskPageJson,
  type TaskQuery,
  type TaskViewJson,
  timeText,
} from "../protocol/mod.ts";
import { makeLocalProof } from "./local_proof.ts";
import { type AudienceEvent, decodeEvent } from "./events.ts";
import { SseParser } from "./sse.ts";
import { type ByteConn, ConnectionClosed, readAnswer, readBody, writeRequest } from "./_http.ts";
import { dialSocket, dialTls, reachFailure, type TlsPems } from "./_dial.ts";
import { tlsError, tlsProblem, TlsRefusedError } from "./_tls_words.ts";

/** A conductor's HTTPS address and the name its certificate must hold. */
export interface HttpsConductor {
  host: string;
  port: number;
  expectName: string;
}

/**
 * Where the conductor's API is. Over HTTPS, `tls` holds the PEM texts of
 * the deployment CA and of the audience certificate and key (a checked
 * `TlsMaterial` from `lib/tls` will do), and `files` where they were read
 * from, and `nameFrom` where the name came from, for messages; `others` are further conductors (of one deployment,
 * sharing one database) tried in order when the one in use cannot be
 * reached or answers that it is not the leader (a request that must not be
 * sent twice, only when it provably had no effect).
 */
export type Endpoint =
  | { kind: "socket"; path: string }
  | {
    kind: "https";
    host: string;
    port: number;
    tls: TlsPems;
    expectName: string;
    others?: readonly HttpsConductor[];
    files?: { ca: string; cert: string; key: string };
    /** Where `expectName` came from when it is not the host (`--conductor-name`, ...), for messages. */
    nameFrom?: string;
  };

/** Largest answer the client reads. */
const MAX_ANSWER = 64 << 20;
/** Largest error answer read from an event route. */
const MAX_ERROR_ANSWER = 64 << 10;
/** A stream silent this long (three missed keep-alives) is opened again. */
const STREAM_IDLE_MS = 45_000;
/** Longest single long-poll. */
const POLL_S = 60;
/** A connection (and its TLS handshake) must be made within this long. */
const CONNECT_MS = 10_000;
/** The conductor must answer within this long (a prune of a large store included). */
const ANSWER_MS = 300_000;
/** A long poll must be answered within this long after the wait it asked for. */
const POLL_GRACE_MS = 30_000;

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

/** An answer whose head has come: its body follows as it is iterated. */
interface Exchange {
  status: number;
  contentType: string;
  body: AsyncIterable<Uint8Array>;
  /** Closes the connection (and stops its time limit); safe to call more than once. */
  close: () => void;
  /**
   * After the body was read whole: keeps the connection for the next
   * request when it may carry one (HTTPS), else closes it.
   */
  release: () => void;
}

/** An open HTTPS connection between requests, to the conductor at index `at`. */
interface IdleConn {
  conn: ByteConn;
  at: number;
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

/** One event of an event stream as the client got it, for an {@linkcode EventCheck}. */
export interface StreamEvent {
  /** The stream's path (`/v1/jobs/3/events`). */
  path: string;
  /** Its type (the `event:` field). */
  type: string;
  /** Its data parsed as JSON; undefined when it is not JSON. */
  data: unknown;
}

/**
 * Told of every event of a stream, whatever its type, before the client
 * uses it; what it throws is what the stream ends with (it is not opened
 * again). For tests that check events against the API's description.
 */
export type EventCheck = (event: StreamEvent) => void;

/** What an {@linkcode AnswerCheck} or {@linkcode EventCheck} threw, on its way out of a stream. */
class CheckFailed {
  constructor(readonly error: unknown) {}
}

/** `text` parsed as JSON; undefined when it is not JSON. */
function jsonOf(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Runs a check; what it throws is wrapped so that no retry takes it for the conductor's fault. */
function checking(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    throw new CheckFailed(err);
  }
}

/** A client of one conductor. */
export class AudienceClient {
  /** Index of the HTTPS conductor in use (0: the endpoint's own). */
  #at = 0;
  /**
   * The HTTPS connection the last answer came on, kept for the next request:
   * the first request on a new TLS connection waits about 40 ms (the
   * runtime's TLS connections send with Nagle's algorithm, which holds the
   * request until the end of the handshake is acknowledged), later ones do
   * not. The conductor closes it after 30 s idle; an open connection alone
   * does not keep a process running.
   */
  #idle: IdleConn | null = null;

  /**
   * @param endpoint Where the conductor is.
   * @param check Told of every answer (see {@linkcode AnswerCheck}); none by default.
   * @param checkEvent Told of every event of a stream (see {@linkcode EventCheck}); none by default.
   */
  constructor(
    readonly endpoint: Endpoint,
    readonly check?: AnswerCheck,
    readonly checkEvent?: EventCheck,
  ) {}

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
   * (the error is `unavailable`, `not_leader`, or a conductor certificate
   * that does not fit, and there is another), moves
   * to it and says true. The next is the leader a `not_leader` answer names
   * when it is one of the list, else the following one; one in `tried` is
   * not chosen again (the caller has had its answer).
   */
  #moveOn(err: unknown, tried: ReadonlySet<number> = new Set()): boolean {
    if (!(err instanceof OrchError)) return false;
    // A conductor whose certificate does not fit is passed over too: another may be right.
    const badCertificate = err instanceof TlsRefusedError && err.side === "server";
    if (err.code !== "unavailable" && err.code !== "not_leader" && !badCertificate) return false;
    const list = this.#conductors();
    if (list.length < 2) return false;
    const leader = err instanceof NotLeaderError && err.leader !== null
      ? parseConductorAddress(err.leader)
      : null;
    const named = leader === null ? -1 : list.findIndex((c) => sameAddress(c, leader));
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
    const body = {
      ...req,
      request_id: req.request_id ?? crypto.randomUUID(),
      ...(req.deadline == null ? {} : { deadline: timeText(req.deadline) }),
    };
    const deadline = Date.now() + (opts.retryForMs ?? 0);
    return await this.#reaching(
      deadline,
      opts.onRetry,
      async () => (await this.#call("POST", "/jobs", body) as { id: number }).id,
    );
  }

  /** Drains player `name` (`on`: no new work goes to it) or undrains it. */
  async drain(name: string, on: boolean): Promise<DrainResponse> {
    const path = `/players/${encodeURIComponent(name)}/${on ? "drain" : "undrain"}`;
    return await this.#call("POST", path, {}) as DrainResponse;
  }

  /**
   * Prunes the jobs finished before `before` (epoch ms), or counts them with
   * `dryRun`; answers once every batch is done.
   */
  async prune(before: number, dryRun = false): Promise<PruneResponseJson> {
    const body = { before: timeText(before), dry_run: dryRun };
    return await this.#call("POST", "/prune", body) as PruneResponseJson;
  }

  /** Cancels a job. */
  async cancel(id: number): Promise<CancelResponse> {
    return await this.#call("POST", `/jobs/${id}/cancel`, {}) as CancelResponse;
  }

  /** A job's summary as it is now: what was asked, and its tasks counted by state. */
  async job(id: number): Promise<JobViewJson> {
    return await this.#call("GET", `/jobs/${id}`) as JobViewJson;
  }

  /** A page of a job's tasks (with their output tails and attempts when `query.output`). */
  async tasks(id: number, query: TaskQuery): Promise<TaskPageJson> {
    const q = new URLSearchParams({ page: String(query.page), limit: String(query.limit) });
    if (query.state !== undefined) q.set("state", query.state);
    if (query.host !== undefined) q.set("host", query.host);
    if (query.output) q.set("output", "1");
    return await this.#call("GET", `/jobs/${id}/tasks?${q}`) as TaskPageJson;
  }

  /** One task of a job, with its output tails and every attempt. */
  async task(id: number, taskId: number): Promise<TaskDetailJson> {
    return await this.#call("GET", `/jobs/${id}/tasks/${taskId}`) as TaskDetailJson;
  }

  /**
   * Every task of a job, page by page, in task id order; with `output`, each
   * with its output tails and attempts. Sized by the job: for scripts and
   * tests, not for jobs of many thousands of tasks with output.
   */
  allTasks(id: number, opts: { output: true }): Promise<TaskDetailJson[]>;
  allTasks(id: number, opts?: { output?: boolean }): Promise<TaskViewJson[]>;
  async allTasks(id: number, opts: { output?: boolean } = {}): Promise<TaskViewJson[]> {
    // A row carries its response (up to 256 KiB): 200 rows stay under the 64 MiB answer bound.
    const limit = opts.output ? MAX_TASK_PAGE_OUTPUT : MAX_TASK_PAGE;
    const all: TaskViewJson[] = [];
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
  ): Promise<JobViewJson> {
    const deadline = opts.timeoutMs === null ? Infinity : Date.now() + opts.timeoutMs;
    for (;;) {
      const job = await this.#reaching(deadline, opts.onRetry, () => {
        const waitS = Math.max(0, Math.min(POLL_S, (deadline - Date.now()) / 1000));
        return this.#call("GET", `/jobs/${id}?wait=${waitS.toFixed(3)}`) as Promise<JobViewJson>;
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
              const told = this.checkEvent;
              if (told) {
                checking(() =>
                  told({ path: `${API_PREFIX}${path}`, type: sse.event, data: jsonOf(sse.data) })
                );
              }
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
          if (err instanceof CheckFailed) throw err.error;
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
    const target = `${API_PREFIX}${path}`;
    try {
      const x = await this.#exchange("GET", target, headers, undefined, {
        answerMs: ANSWER_MS,
        stream: true,
        signal,
      });
      const answer = { method: "GET", path: target, status: x.status, contentType: x.contentType };
      if (x.status === 200 && x.contentType.startsWith("text/event-stream")) {
        try {
          checking(() => this.check?.({ ...answer, body: undefined }));
        } catch (err) {
          x.close();
          throw err;
        }
        return { body: x.body, close: x.close };
      }
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(
          new TextDecoder().decode(await readBody(x.body, MAX_ERROR_ANSWER, "the error answer")),
        );
      } catch (err) {
        // Not JSON: errorFromBody says so by the status. A broken connection is not that.
        if (!(err instanceof SyntaxError)) throw err;
      } finally {
        x.close();
      }
      checking(() => this.check?.({ ...answer, body: parsed }));
      throw x.status === 200
        ? new OrchError(
          "protocol",
          `the conductor answered ${path} with ${
            JSON.stringify(x.contentType)
          }, not an event stream`,
        )
        : errorFromBody(x.status, parsed);
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
  ): Promise<JobSummaryJson[]> {
    const params = new URLSearchParams({ limit: String(limit) });
    if (before !== undefined) params.set("before", String(before));
    if (filter.state !== undefined) params.set("state", filter.state);
    if (filter.score !== undefined) params.set("score", filter.score);
    if (filter.submittedBy !== undefined) params.set("submitted_by", filter.submittedBy);
    if (filter.since !== undefined) params.set("since", timeText(filter.since));
    if (filter.until !== undefined) params.set("until", timeText(filter.until));
    return (await this.#call("GET", `/jobs?${params}`) as { jobs: JobSummaryJson[] }).jobs;
  }

  /** Audit records, newest first. */
  async audit(
    q: { limit: number; before?: number; since?: number; who?: string },
  ): Promise<AuditRecordJson[]> {
    const params = new URLSearchParams({ limit: String(q.limit) });
    if (q.before !== undefined) params.set("before", String(q.before));
    if (q.since !== undefined) params.set("since", timeText(q.since));
    if (q.who !== undefined) params.set("who", q.who);
    return (await this.#call("GET", `/audit?${params}`) as { records: AuditRecordJson[] })
      .records;
  }

  /** The players. */
  async players(): Promise<PlayerViewJson[]> {
    return (await this.#call("GET", "/players") as { players: PlayerViewJson[] }).players;
  }

  /** The conductor's health answer. */
  async health(): Promise<Record<string, unknown>> {
    return await this.#call("GET", "/health") as Record<string, unknown>;
  }

  /** Adds a schedule; answers with it as stored. */
  async addSchedule(req: ScheduleRequest): Promise<ScheduleViewJson> {
    const body: Record<string, unknown> = { name: req.name, policy: req.policy, job: req.job };
    if ("cron" in req.spec) {
      body.cron = req.spec.cron;
      if (req.spec.timezone !== null) body.timezone = req.spec.timezone;
    } else body.every_ms = req.spec.every_ms;
    return await this.#call("POST", "/schedules", body) as ScheduleViewJson;
  }

  /** Every schedule. */
  async schedules(): Promise<ScheduleViewJson[]> {
    return (await this.#call("GET", "/schedules") as { schedules: ScheduleViewJson[] })
      .schedules;
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
   * The same body goes to each: a submit keeps its request id. A request
   * that must not be sent twice (see {@linkcode isRepeatable}) goes to the
   * next conductor only when it provably had no effect: the dial failed,
   * the connection ended before a byte of it was written, or the conductor
   * answered with an error (a standby's `not_leader`, a 503 while it stops).
   * Lost after it was written, it is not sent again: the error says it may
   * have taken effect, and how to check.
   */
  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const e = this.endpoint;
    const repeatable = isRepeatable(method, body);
    if (e.kind === "https") {
      const tried = new Set<number>();
      for (;;) {
        tried.add(this.#at);
        try {
          return await this.#send(method, path, body, undefined, repeatable);
        } catch (err) {
          if (!repeatable) throwIfMayHaveArrived(err, method, path, this.where);
          if (!this.#moveOn(err, tried)) throw err;
        }
      }
    }
    const proof = await makeLocalProof(e.path);
    try {
      return await this.#send(method, path, body, proof?.header, repeatable);
    } catch (err) {
      if (!repeatable) throwIfMayHaveArrived(err, method, path, this.where);
      throw err;
    } finally {
      await proof?.discard();
    }
  }

  async #send(
    method: string,
    path: string,
    body: unknown,
    auth: string | undefined,
    repeatable: boolean,
  ): Promise<unknown> {
    const payload = body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(body));
    const headers: Record<string, string> = { accept: "application/json" };
    if (auth !== undefined) headers["authorization"] = auth;
    if (payload !== undefined) headers["content-type"] = "application/json";
    const target = `${API_PREFIX}${path}`;
    const wait = /[?&]wait=([\d.]+)/.exec(path);
    const answerMs = wait ? Number(wait[1]) * 1000 + POLL_GRACE_MS : ANSWER_MS;
    // A request that may be sent twice safely may go on the kept connection, and again on a new
    // one when the conductor closed that one unseen; any other goes on a new connection, so that
    // it is never sent again after it may have arrived.
    const x = await this.#exchange(method, target, headers, payload, {
      answerMs,
      stream: false,
      fresh: !repeatable,
    });
    let bytes: Uint8Array;
    try {
      bytes = await readBody(x.body, MAX_ANSWER);
    } catch (err) {
      x.close();
      throw err;
    }
    x.release();
    const text = new TextDecoder().decode(bytes);
    let parsed: unknown;
    try {
      parsed = text === "" ? null : JSON.parse(text);
    } catch {
      throw new OrchError(
        "protocol",
        `the conductor answered ${x.status} with a body that is not JSON`,
      );
    }
    this.check?.({
      method,
      path: target,
      status: x.status,
      contentType: x.contentType,
      body: parsed,
    });
    if (x.status >= 200 && x.status < 300) return parsed;
    // An error answer: the conductor refused the request, it did not act on it.
    throw hadNoEffect(errorFromBody(x.status, parsed));
  }

  /**
   * Sends one request on a connection of its own and reads the answer's
   * head. The time limit `answerMs` covers the whole answer, or with
   * `stream` only its head (an event stream then flows for as long as it
   * does); when it passes, or `signal` is aborted, the connection is closed.
   * Errors are the client's: "cannot reach" for a conductor that cannot be
   * reached or went away, a refusal for a TLS failure.
   */
  async #exchange(
    method: string,
    target: string,
    headers: Record<string, string>,
    body: Uint8Array | undefined,
    opts: { answerMs: number; stream: boolean; signal?: AbortSignal; fresh?: boolean },
  ): Promise<Exchange> {
    const e = this.endpoint;
    const keepAlive = e.kind === "https" && !opts.stream;
    // An event stream keeps a connection of its own; the kept one waits for the next request.
    const idle = keepAlive ? this.#idle : null;
    if (keepAlive) this.#idle = null;
    const reused = idle !== null && idle.at === this.#at && !opts.fresh;
    if (idle !== null && !reused) closeQuietly(idle.conn);
    let conn: ByteConn;
    try {
      conn = reused ? idle.conn : await this.#dial();
    } catch (err) {
      throw hadNoEffect(err);
    }
    const at = this.#at;
    /** Bytes of the request handed to the connection: none, and it cannot have arrived. */
    let written = 0;
    const counted: ByteConn = {
      read: (p) => conn.read(p),
      write: async (p) => {
        const n = await conn.write(p);
        written += n;
        return n;
      },
      close: () => conn.close(),
    };
    let closed = false;
    let late = false;
    // Not setTimeout: its first use costs 9-15 ms of a command's start-up (see _dial.ts). The
    // deadline's timer keeps the process alive only while `onLate` listens: every end removes it.
    const deadline = AbortSignal.timeout(opts.answerMs);
    const onLate = () => {
      late = true;
      close();
    };
    const stopTiming = () => deadline.removeEventListener("abort", onLate);
    const close = () => {
      stopTiming();
      opts.signal?.removeEventListener("abort", close);
      if (closed) return;
      closed = true;
      closeQuietly(conn);
    };
    deadline.addEventListener("abort", onLate);
    opts.signal?.addEventListener("abort", close);
    if (opts.signal?.aborted) close();
    const failed = (err: unknown) => {
      if (late) {
        return new OrchError(
          "unavailable",
          `the conductor at ${this.where} did not answer within ${opts.answerMs / 1000}s`,
        );
      }
      return err instanceof OrchError ? err : this.#unavailable(err);
    };
    try {
      await writeRequest(counted, {
        method,
        target,
        host: this.#hostHeader(),
        headers,
        body,
        keepAlive,
      });
      const answer = await readAnswer(conn, method);
      if (opts.stream) stopTiming();
      const translated = async function* (
        body: AsyncIterable<Uint8Array>,
      ): AsyncGenerator<Uint8Array> {
        try {
          yield* body;
        } catch (err) {
          if (closed && !late) return;
          throw failed(err);
        }
      };
      return {
        status: answer.status,
        contentType: answer.headers.get("content-type") ?? "",
        body: translated(answer.body),
        close,
        release: () => {
          if (!keepAlive || closed || !answer.reusable() || this.#idle !== null) return close();
          stopTiming();
          opts.signal?.removeEventListener("abort", close);
          this.#idle = { conn, at };
        },
      };
    } catch (err) {
      close();
      const early = (err instanceof ConnectionClosed && err.received === 0) ||
        err instanceof Deno.errors.BrokenPipe || err instanceof Deno.errors.ConnectionReset ||
        err instanceof Deno.errors.UnexpectedEof;
      // A kept connection the conductor closed while it was idle: the request did not reach it.
      if (reused && early && !late && !opts.signal?.aborted) {
        return await this.#exchange(method, target, headers, body, { ...opts, fresh: true });
      }
      // A conductor that refuses this client's certificate closes the connection before answering:
      // the request never reached its API.
      if (!late && !opts.signal?.aborted && early) {
        const refusal = await this.#refusal();
        if (refusal !== null) throw hadNoEffect(refusal);
      }
      const e = failed(err);
      throw written === 0 ? hadNoEffect(e) : e;
    }
  }

  /** A connection to the conductor in use; rejects with the client's error. */
  async #dial(): Promise<ByteConn> {
    const e = this.endpoint;
    if (e.kind === "socket") {
      try {
        return await dialSocket(e.path, CONNECT_MS);
      } catch (err) {
        throw this.#unavailable(err);
      }
    }
    const c = this.#conductors()[this.#at];
    checkPems(e.tls, e.files);
    try {
      return await dialTls(c, e.tls, CONNECT_MS);
    } catch (err) {
      if (err instanceof OrchError) throw err;
      const problem = reachFailure(err, c.host) === null ? tlsProblem(err) : null;
      if (problem?.kind === "name" && problem.names === null) {
        const { certificateNames } = await import("./_diagnose.ts");
        problem.names = await certificateNames(c.host, c.port, c.expectName, CONNECT_MS);
      }
      if (problem !== null) {
        throw tlsError(problem, {
          where: this.where,
          host: c.host,
          expectName: c.expectName,
          nameFrom: e.nameFrom,
          caFile: e.files?.ca,
        }, err);
      }
      const material = materialError(err, e.files);
      if (material !== null) throw material;
      throw this.#unavailable(err);
    }
  }

  /**
   * Over HTTPS, after the conductor closed a connection before answering:
   * the refusal of this client's certificate when that is why, else null.
   */
  async #refusal(): Promise<OrchError | null> {
    const e = this.endpoint;
    if (e.kind !== "https") return null;
    const { refusedCertificate } = await import("./_diagnose.ts");
    return await refusedCertificate(this.#conductors()[this.#at], e.tls, this.where, CONNECT_MS);
  }

  /** The `Host` header: the conductor's address as dialled. */
  #hostHeader(): string {
    const e = this.endpoint;
    if (e.kind === "socket") return "localhost";
    const c = this.#conductors()[this.#at];
    return `${c.host.includes(":") ? `[${c.host}]` : c.host}:${c.port}`;
  }

  #unavailable(err: unknown): OrchError {
    const e = this.endpoint;
    const host = e.kind === "socket" ? null : this.#conductors()[this.#at].host;
    const why = err instanceof ConnectionClosed
      ? `${err.message}`
      : reachFailure(err, host) ?? errorMessage(err);
    return new OrchError("unavailable", `cannot reach the conductor at ${this.where}: ${why}`, {
      cause: err,
      hint: "is the conductor running? choose it with --socket PATH or --conductor HOST:PORT",
    });
  }
}

/**
 * Whether a request may be sent again safely: a read, a submit with its
 * request id (the conductor answers a second one with the job the first
 * made), or a dry run (it changes nothing).
 */
function isRepeatable(method: string, body: unknown): boolean {
  if (method === "GET") return true;
  if (typeof body !== "object" || body === null) return false;
  return "request_id" in body || ("dry_run" in body && body.dry_run === true);
}

/**
 * Errors of a request that provably had no effect: it never reached a
 * conductor's API, or the conductor answered it with an error (it refuses
 * before it acts). See {@linkcode hadNoEffect}.
 */
const noEffect = new WeakSet<object>();

/** Marks `err` as the failure of a request that had no effect; returns it. */
function hadNoEffect(err: unknown): unknown {
  if (typeof err === "object" && err !== null) noEffect.add(err);
  return err;
}

/**
 * After a request that must not be sent twice failed: when it was lost
 * after it may have reached the conductor (the connection ended or timed
 * out once it was written), throws an error saying so and how to check
 * whether it took effect; else returns, and the caller goes on with `err`.
 */
function throwIfMayHaveArrived(err: unknown, method: string, path: string, where: string): void {
  if (!(err instanceof OrchError) || err.code !== "unavailable" || noEffect.has(err)) return;
  const why = (err.cause instanceof Error ? err.cause.message : err.message)
    .replace(`the conductor at ${where} `, "it ");
  throw new OrchError(
    "unavailable",
    `${method} ${API_PREFIX}${
      path.replace(/\?.*$/, "")
    } may have reached the conductor at ${where} ` +
      `(${why}); it was not sent again, to it or to another conductor`,
    {
      cause: err,
      hint: `before trying again, see whether it took effect: ${checkCommand(path)}`,
    },
  );
}

/** The command that shows whether the request to `path` took effect. */
function checkCommand(path: string): string {
  const p = path.replace(/\?.*$/, "");
  const cancel = /^\/jobs\/(\d+)\/cancel$/.exec(p);
  if (cancel) return `orch status ${cancel[1]}`;
  if (/^\/players\/[^/]+\/(un)?drain$/.test(p)) return "orch players";
  if (p === "/prune") return "orch prune --dry-run with the same --before (it counts what is left)";
  if (/^\/schedules\/[^/]+\/run$/.test(p)) return "orch jobs (a job of the schedule, just made)";
  if (p.startsWith("/schedules")) return "orch schedule list";
  return "orch jobs, orch status JOB";
}

/** Closes `conn`, which may be closed already. */
function closeQuietly(conn: ByteConn): void {
  try {
    conn.close();
  } catch {
    // closed already
  }
}

/**
 * Refuses PEM texts that cannot be certificate material before dialling
 * (the runtime ignores a CA text holding no certificate, and would then
 * blame the conductor's certificate); `files` name them.
 */
function checkPems(pems: TlsPems, files?: { ca: string; cert: string; key: string }): void {
  const bad = (what: string, file: string | undefined, expected: string) =>
    new OrchError(
      "config",
      `${what}${file ? ` ${file}` : ""} holds no PEM ${expected}`,
      { hint: "give the files orch ca made: --ca ca.crt --cert NAME.crt --key NAME.key" },
    );
  if (!pems.ca.includes("-----BEGIN CERTIFICATE-----")) {
    throw bad("CA certificate", files?.ca, "certificate");
  }
  if (!pems.cert.includes("-----BEGIN CERTIFICATE-----")) {
    throw bad("certificate", files?.cert, "certificate");
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pems.key)) {
    throw bad("key file", files?.key, "private key");
  }
}

/** The error for certificate material the runtime could not load, or null for another error. */
function materialError(
  err: unknown,
  files?: { ca: string; cert: string; key: string },
): OrchError | null {
  const message = err instanceof Error ? err.message : "";
  const named = (what: string, file?: string) => `${what}${file ? ` ${file}` : ""}`;
  if (/KeyMismatch|keys may not be consistent/i.test(message)) {
    return new OrchError(
      "config",
      `${named("key file", files?.key)} does not belong to ${named("certificate", files?.cert)}`,
    );
  }
  if (
    /No certificates found|No keys found|Unable to decode|invalid (key|certificate)/i.test(message)
  ) {
    return new OrchError(
      "config",
      `cannot use ${named("certificate", files?.cert)} and ${
        named("key file", files?.key)
      }: ${message}`,
    );
  }
  return null;
}
