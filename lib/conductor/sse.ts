/**
 * The audience's event streams (server-sent events): `GET /v1/jobs/ID/events`
 * for one job and `GET /v1/events` for every job the caller may read. A
 * stream starts with a snapshot, or, given a usable `Last-Event-ID`, with
 * the events after it from the {@linkcode EventLog}; then come the events
 * as they happen, and `progress` (the job's counts) at most every
 * {@linkcode StreamLimits.progressMs} per job.
 *
 * No race between the snapshot and what follows: a stream listens to the
 * log first, takes the live output and the log's position in the same
 * step, then reads the job from the store.
 *
 * Never the conductor's problem: each stream holds at most
 * {@linkcode StreamLimits.bufferBytes} bytes and
 * {@linkcode StreamLimits.bufferEvents} events not yet taken by its
 * connection (which takes them only as fast as the client reads); past that
 * it is cut off with a `cutoff` event and closed. So many streams are open
 * at most; past that a new one is refused with 503.
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import type { Logger } from "../log.ts";
import {
  isFinal,
  type JobView,
  jobViewJson,
  type TaskState,
  timeText,
  utf8Length,
} from "../protocol/mod.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import {
  type EventId,
  type EventLog,
  type LoggedEvent,
  parseEventId,
  wireOf,
} from "./event_log.ts";
import type { EventBus } from "./events.ts";
import type { LiveOutputs } from "./live_output.ts";

/** The bounds of the streams. */
export interface StreamLimits {
  /** Streams open at most (`max_event_streams`). */
  maxStreams: number;
  /** Streams one caller may hold open at once, so that one cannot take them all. */
  maxPerCaller: number;
  /** Bytes of events waiting for one stream's client at most. */
  bufferBytes: number;
  /** Events waiting for one stream's client at most. */
  bufferEvents: number;
  /** A keep-alive comment goes out after this long without an event. */
  keepAliveMs: number;
  /** A job's `progress` goes out at most this often. */
  progressMs: number;
  /**
   * A stream that was cut off or told to end, and whose client does not
   * take its last events within this time, is closed without them.
   */
  graceMs: number;
}

/**
 * The bounds when none are given. A buffer only absorbs bursts (a client
 * that keeps up empties it continuously): 1 MiB is several seconds of
 * output from dozens of hosts at the players' default rate, and at the
 * default of 100 streams the buffers hold 100 MiB at worst.
 */
export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxStreams: 100,
  maxPerCaller: 16,
  bufferBytes: 1 << 20,
  bufferEvents: 10_000,
  keepAliveMs: 15_000,
  progressMs: 250,
  graceMs: 30_000,
};

/** What the streams need. */
export interface StreamDeps {
  bus: EventBus;
  log: EventLog;
  live: LiveOutputs;
  clock: Clock;
  logger: Logger;
  /** A job's view from the store, or undefined when there is none. */
  job(id: number): Promise<JobView | undefined>;
  /** Players connected now. */
  connected(): number;
}

/** Decides whether the caller of a `/v1/events` stream may see a job. */
export type JobFilter = (job: number) => Promise<boolean>;

/** Jobs whose decision a `/v1/events` stream remembers at most. */
const FILTER_CACHE = 10_000;

const encoder = new TextEncoder();

/**
 * Which `output` events a stream carries (its `output` query parameter):
 * every one (`all`, the parameter absent), `none`, or only those of one
 * task (a number). The snapshot's live output follows the same choice.
 */
export type OutputChoice = "all" | "none" | number;

/**
 * The output choice of a request's `output` query parameter; `perTask`
 * says whether a task id makes sense (a job's stream). Throws `OrchError`
 * `invalid` naming the parameter for anything else.
 */
export function outputChoice(text: string | undefined, perTask: boolean): OutputChoice {
  if (text === undefined) return "all";
  if (text === "none") return "none";
  if (perTask && /^[1-9][0-9]{0,15}$/.test(text) && Number.isSafeInteger(Number(text))) {
    return Number(text);
  }
  throw new OrchError(
    "invalid",
    `query parameter output: ${JSON.stringify(text.slice(0, 40))} is not ${
      perTask ? "none or a task id (a number from 1)" : "none (the only value this stream takes)"
    }`,
  );
}

/** The task an `output` event's data names, or null when it names none. */
function taskOfOutput(data: string): number | null {
  // The data is written by wireOf in a fixed order: the task is its second key.
  const m = /^\{"job":[0-9]+,"task":([0-9]+),/.exec(data);
  if (m) return Number(m[1]);
  try {
    const o = JSON.parse(data) as { task?: unknown };
    return typeof o.task === "number" ? o.task : null;
  } catch {
    return null;
  }
}

/** True when a stream with choice `output` carries the event `e`. */
function carries(output: OutputChoice, e: LoggedEvent): boolean {
  if (e.type !== "output" || output === "all") return true;
  return output !== "none" && taskOfOutput(e.data) === output;
}

/** The `progress` data of a job's view. */
export function progressOf(view: JobView): Record<string, unknown> {
  let done = 0;
  for (const [state, n] of Object.entries(view.counts)) {
    if (isFinal(state as TaskState)) done += n ?? 0;
  }
  return {
    job: view.id,
    total: view.task_count,
    done,
    counts: view.counts,
    // Queued tasks waiting for a host that is not connected.
    offline: view.offline,
    aggregate: view.aggregate,
  };
}

/** One event as it goes on the wire. */
function frame(type: string, data: string, id?: string): string {
  return `${id === undefined ? "" : `id: ${id}\n`}event: ${type}\ndata: ${data}\n\n`;
}

/** An event waiting for a stream's client. */
interface Waiting {
  job: number | null;
  text: string;
  /** The job ended: the stream closes after it. */
  end?: boolean;
}

/** One open stream. */
class Stream {
  readonly body: ReadableStream<Uint8Array>;
  readonly #limits: StreamLimits;
  readonly #clock: Clock;
  readonly #filter: JobFilter | null;
  readonly #allowed = new Map<number, boolean>();
  readonly #onClose: (why: string | null) => void;
  /** Events waiting for the client, each encoded once (its size is what the buffer counts). */
  #queue: (Waiting & { bytes: Uint8Array })[] = [];
  #bytes = 0;
  #waiter: (() => void) | null = null;
  /** No more events are taken: the queue is sent, then the stream closes. */
  #closing = false;
  #closed = false;
  #keepAlive: TimerHandle | null = null;
  #grace: TimerHandle | null = null;
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  readonly #cleanups: (() => void)[] = [];

  constructor(
    limits: StreamLimits,
    clock: Clock,
    filter: JobFilter | null,
    onClose: (why: string | null) => void,
  ) {
    this.#limits = limits;
    this.#clock = clock;
    this.#filter = filter;
    this.#onClose = onClose;
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: (controller) => this.#pull(controller),
        cancel: () => this.#finish(null),
      },
      // Nothing is read ahead: an event leaves the queue only when the connection takes it.
      { highWaterMark: 0 },
    );
    this.#armKeepAlive();
  }

  /** Adds an event for the client; one too many cuts the stream off. */
  push(w: Waiting): void {
    if (this.#closing) return;
    const bytes = encoder.encode(w.text);
    if (
      this.#queue.length >= this.#limits.bufferEvents ||
      this.#bytes + bytes.length > this.#limits.bufferBytes
    ) {
      this.cutoff(
        `too slow: more than ${this.#limits.bufferBytes} bytes or ${this.#limits.bufferEvents} events waiting`,
        true,
      );
      return;
    }
    this.#queue.push({ ...w, bytes });
    this.#bytes += bytes.length;
    this.#wake();
  }

  /** Puts events before those waiting (a resume's replay). */
  unshift(ws: Waiting[]): void {
    if (this.#closing) return;
    const queued = ws.map((w) => ({ ...w, bytes: encoder.encode(w.text) }));
    this.#queue = [...queued, ...this.#queue];
    for (const w of queued) this.#bytes += w.bytes.length;
    this.#wake();
  }

  /** True when an `end` waits. */
  get endQueued(): boolean {
    return this.#queue.some((w) => w.end);
  }

  /**
   * Ends the stream with a `cutoff` event saying why; `drop` throws away
   * what waits (the client is too slow for it).
   */
  cutoff(reason: string, drop: boolean): void {
    if (this.#closing) return;
    if (drop) {
      this.#queue = [];
      this.#bytes = 0;
    }
    const text = frame("cutoff", JSON.stringify({ reason }));
    const bytes = encoder.encode(text);
    this.#queue.push({ job: null, text, bytes });
    this.#bytes += bytes.length;
    this.close(reason);
  }

  /** Calls `fn` once the stream takes no more events. */
  whenClosing(fn: () => void): void {
    if (this.#closing) fn();
    else this.#cleanups.push(fn);
  }

  #beginClosing(why: string | null): void {
    this.#closing = true;
    for (const fn of this.#cleanups.splice(0)) fn();
    this.#onClose(why);
  }

  /** Takes no more events; closes once those waiting are taken, or after the grace time. */
  close(why: string | null = null): void {
    if (this.#closing) return;
    this.#beginClosing(why);
    this.#grace = this.#clock.setTimeout(() => {
      this.#grace = null;
      // The client did not take its last events in time: the connection is dropped.
      if (!this.#closed) this.#controller?.error(new Error("the client did not read its events"));
      this.#finish(null);
    }, this.#limits.graceMs);
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const w = this.#queue.shift();
      if (!w) {
        if (this.#closing) {
          controller.close();
          this.#finish(null);
          return;
        }
        await new Promise<void>((resolve) => (this.#waiter = resolve));
        continue;
      }
      this.#bytes -= w.bytes.length;
      if (w.job !== null && this.#filter && !(await this.#mayRead(w.job))) continue;
      if (this.#closed) return;
      controller.enqueue(w.bytes);
      this.#armKeepAlive();
      if (w.end) {
        this.#queue = [];
        this.#bytes = 0;
        this.close();
      }
      return;
    }
  }

  async #mayRead(job: number): Promise<boolean> {
    let ok = this.#allowed.get(job);
    if (ok === undefined) {
      ok = await this.#filter!(job).catch(() => false);
      if (this.#allowed.size >= FILTER_CACHE) this.#allowed.clear();
      this.#allowed.set(job, ok);
    }
    return ok;
  }

  #armKeepAlive(): void {
    if (this.#keepAlive !== null) this.#clock.clearTimeout(this.#keepAlive);
    this.#keepAlive = null;
    if (this.#closing) return;
    this.#keepAlive = this.#clock.setTimeout(() => {
      this.#keepAlive = null;
      if (this.#queue.length === 0) this.push({ job: null, text: ": keep-alive\n\n" });
      this.#armKeepAlive();
    }, this.#limits.keepAliveMs);
  }

  /** Lets go of everything (the client went away, or every event was taken). */
  #finish(why: string | null): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#closing) this.#beginClosing(why);
    if (this.#keepAlive !== null) this.#clock.clearTimeout(this.#keepAlive);
    if (this.#grace !== null) this.#clock.clearTimeout(this.#grace);
    this.#queue = [];
    this.#bytes = 0;
    this.#wake();
  }

  /** Called when the client went away. */
  abandon(): void {
    this.#finish(null);
  }
}

/** See the module doc. */
export class EventStreams {
  readonly #d: StreamDeps;
  readonly #limits: StreamLimits;
  readonly #streams = new Set<Stream>();
  /** Streams open per caller (its label). */
  readonly #perCaller = new Map<string, number>();
  /** Per-job streams open, by job; and `/v1/events` streams open. */
  readonly #watching = new Map<number, number>();
  #watchingAll = 0;
  readonly #progressDue = new Map<number, TimerHandle>();
  #stopping: string | null = null;

  constructor(deps: StreamDeps, limits: StreamLimits = DEFAULT_STREAM_LIMITS) {
    this.#d = deps;
    this.#limits = limits;
    deps.bus.tap((e) => {
      const w = wireOf(e);
      deps.log.append(w.job, w.type, w.data);
      if (w.type === "task" && w.job !== null) this.#changed(w.job);
    });
  }

  /** Streams open now. */
  get open(): number {
    return this.#streams.size;
  }

  /**
   * The stream of job `id`, resuming after `last` when given (a
   * `Last-Event-ID`); `signal` aborts when the client goes away. Throws
   * `OrchError` `not_found` when there is no such job, `unavailable` when
   * too many streams are open or the conductor is stopping.
   */
  async job(
    id: number,
    last: EventId | null,
    who: string,
    signal?: AbortSignal,
    output: OutputChoice = "all",
  ): Promise<Response> {
    const d = this.#d;
    const stream = this.#admit(null, id, who);
    const send = (e: LoggedEvent) => {
      stream.push({
        job: e.job,
        text: frame(e.type, e.data, d.log.idOf(e.seq)),
        end: e.type === "end",
      });
    };
    // Listening, the replay or the live output, and the log's position: in one step.
    const unlisten = d.log.listen((e) => {
      if (e.job === id && carries(output, e)) send(e);
    });
    const replay = this.#fits(last === null ? null : d.log.after(last, id))
      ?.filter((e) => carries(output, e)) ?? null;
    const at = d.log.seq;
    const live = replay === null && output !== "none"
      ? d.live.ofJob(id).filter((t) => output === "all" || t.task === output)
      : [];
    this.#opened(stream, unlisten, signal);
    let view: JobView | undefined;
    try {
      view = await d.job(id);
    } catch (err) {
      stream.abandon();
      throw err;
    }
    if (!view) {
      stream.abandon();
      throw new OrchError("not_found", `no job ${id}`);
    }
    const head: Waiting[] = [];
    if (replay !== null) {
      for (const e of replay) {
        head.push({
          job: e.job,
          text: frame(e.type, e.data, d.log.idOf(e.seq)),
          end: e.type === "end",
        });
      }
    } else {
      const snapshot = {
        job: jobViewJson(view),
        live: live.map((t) => ({
          task: t.task,
          attempt: t.attempt,
          host: t.player,
          pieces: t.pieces,
        })),
      };
      head.push({ job: id, text: frame("snapshot", JSON.stringify(snapshot), d.log.idOf(at)) });
      head.push({ job: id, text: frame("progress", JSON.stringify(progressOf(view))) });
    }
    const ended = head.some((w) => w.end) || stream.endQueued;
    if (view.finished_at !== null && !ended) {
      // Finished before this stream began (or before this run of the conductor): it ends at once.
      head.push({
        job: id,
        text: frame(
          "end",
          JSON.stringify({
            job: id,
            aggregate: view.aggregate,
            finished_at: timeText(view.finished_at),
          }),
        ),
        end: true,
      });
    }
    stream.unshift(head);
    return streamResponse(stream);
  }

  /**
   * The stream of every job `filter` lets through, and of players'
   * connects and disconnects; as {@linkcode job} otherwise.
   */
  all(
    last: EventId | null,
    filter: JobFilter,
    who: string,
    signal?: AbortSignal,
    output: "all" | "none" = "all",
  ): Response {
    const d = this.#d;
    const stream = this.#admit(filter, null, who);
    const unlisten = d.log.listen((e) => {
      if (!carries(output, e)) return;
      stream.push({ job: e.job, text: frame(e.type, e.data, d.log.idOf(e.seq)) });
    });
    const replay = this.#fits(last === null ? null : d.log.after(last))
      ?.filter((e) => carries(output, e)) ?? null;
    const at = d.log.seq;
    this.#opened(stream, unlisten, signal);
    const head: Waiting[] = replay === null
      ? [{
        job: null,
        text: frame(
          "snapshot",
          JSON.stringify({ players: { connected: d.connected() } }),
          d.log.idOf(at),
        ),
      }]
      : replay.map((e) => ({ job: e.job, text: frame(e.type, e.data, d.log.idOf(e.seq)) }));
    stream.unshift(head);
    return streamResponse(stream);
  }

  /**
   * `replay` when it fits in half a stream's buffer (the other half is for
   * what happens meanwhile), else null: the stream starts from a snapshot,
   * so that a resume never holds more than a stream may.
   */
  #fits(replay: LoggedEvent[] | null): LoggedEvent[] | null {
    if (replay === null || replay.length > this.#limits.bufferEvents / 2) return null;
    let bytes = 0;
    for (const e of replay) bytes += utf8Length(e.data) + 64;
    return bytes > this.#limits.bufferBytes / 2 ? null : replay;
  }

  /** Ends every stream with a `cutoff` saying `reason`; new ones are refused from now on. */
  closeAll(reason: string): void {
    this.#stopping = reason;
    for (const s of [...this.#streams]) s.cutoff(reason, false);
    for (const t of this.#progressDue.values()) this.#d.clock.clearTimeout(t);
    this.#progressDue.clear();
  }

  #admit(filter: JobFilter | null, job: number | null, who: string): Stream {
    if (this.#stopping !== null) throw new OrchError("unavailable", this.#stopping);
    const mine = this.#perCaller.get(who) ?? 0;
    if (mine >= this.#limits.maxPerCaller) {
      throw new OrchError(
        "too_many",
        `${who} has ${mine} event streams open, the most one caller may hold`,
        { hint: "close one (each dashboard tab and each --follow holds one)" },
      );
    }
    if (this.#streams.size >= this.#limits.maxStreams) {
      throw new OrchError(
        "unavailable",
        `${this.#limits.maxStreams} event streams are open, the most this conductor serves (max_event_streams)`,
        { hint: "try again later, or raise max_event_streams" },
      );
    }
    let counted = true;
    const stream: Stream = new Stream(this.#limits, this.#d.clock, filter, (why) => {
      if (why !== null && why !== this.#stopping) {
        this.#d.logger.warn("event stream cut off", { job: job ?? undefined, reason: why });
      }
      if (!counted) return;
      counted = false;
      this.#streams.delete(stream);
      const left = (this.#perCaller.get(who) ?? 1) - 1;
      if (left <= 0) this.#perCaller.delete(who);
      else this.#perCaller.set(who, left);
      if (job === null) this.#watchingAll--;
      else {
        const n = (this.#watching.get(job) ?? 1) - 1;
        if (n <= 0) this.#watching.delete(job);
        else this.#watching.set(job, n);
      }
    });
    this.#streams.add(stream);
    this.#perCaller.set(who, mine + 1);
    if (job === null) this.#watchingAll++;
    else this.#watching.set(job, (this.#watching.get(job) ?? 0) + 1);
    return stream;
  }

  #opened(stream: Stream, unlisten: () => void, signal?: AbortSignal): void {
    stream.whenClosing(unlisten);
    const gone = () => stream.abandon();
    if (signal?.aborted) gone();
    signal?.addEventListener("abort", gone, { once: true });
    stream.whenClosing(() => signal?.removeEventListener("abort", gone));
  }

  /** A task of `job` changed: its progress goes out soon, when someone watches it. */
  #changed(job: number): void {
    if (this.#stopping !== null || this.#progressDue.has(job)) return;
    if (this.#watchingAll === 0 && !this.#watching.has(job)) return;
    const d = this.#d;
    this.#progressDue.set(
      job,
      d.clock.setTimeout(() => {
        this.#progressDue.delete(job);
        d.job(job).then((view) => {
          if (view && this.#stopping === null) d.log.append(job, "progress", progressOf(view));
        }).catch((err) => d.logger.warn("job progress not read", { job, error: String(err) }));
      }, this.#limits.progressMs),
    );
  }
}

/** The response that carries `stream`. */
function streamResponse(stream: Stream): Response {
  return new Response(stream.body, {
    status: 200,
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    },
  });
}

/**
 * The resume point of a request: its `Last-Event-ID` header, or its
 * `last_event_id` query parameter; null for none. Throws `OrchError`
 * `invalid` naming a malformed one.
 */
export function resumePoint(header: string | undefined, query: string | undefined): EventId | null {
  if (header !== undefined && query !== undefined) {
    throw new OrchError(
      "invalid",
      "give the resume point once: the Last-Event-ID header or the last_event_id query parameter",
    );
  }
  const text = header ?? query;
  if (text === undefined || text === "") return null;
  try {
    return parseEventId(text.trim());
  } catch (err) {
    throw new OrchError(
      "invalid",
      `${header !== undefined ? "Last-Event-ID" : "query parameter last_event_id"}: ${
        (err as Error).message
      }`,
    );
  }
}
