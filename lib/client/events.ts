/**
 * The audience event stream as the client reads it: typed events decoded
 * from the server-sent events of `GET /v1/jobs/ID/events` and
 * `GET /v1/events`, and the bookkeeping that makes output pieces printable
 * exactly once across reconnects ({@linkcode OutputTracker}).
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import {
  type Aggregate,
  type JobViewJson,
  parseTimeText,
  type TaskState,
} from "../protocol/mod.ts";
import type { SseEvent } from "./sse.ts";

/** Which output stream of a score. */
export type OutputStream = "stdout" | "stderr";

/** A piece of a running task's output. */
export interface OutputPiece {
  stream: OutputStream;
  /** Where the piece starts in its stream (bytes from the start of the attempt's output). */
  offset: number;
  /** Its size in bytes. */
  bytes: number;
  data: string;
}

/** What the conductor holds of one running task's output when a stream starts. */
export interface LiveTask {
  task: number;
  attempt: number;
  host: string;
  pieces: OutputPiece[];
}

/** The first event of a stream without a usable `Last-Event-ID`. */
export interface SnapshotEvent {
  type: "snapshot";
  id: string | null;
  /** The job as it is (per-job streams only). */
  job?: JobViewJson;
  /** The latest output of its running tasks (per-job streams only). */
  live: LiveTask[];
  /** The event's data as sent, for `GET /v1/events`' own snapshot fields. */
  raw: Record<string, unknown>;
}

/** A task entered `state`. */
export interface TaskEvent {
  type: "task";
  id: string | null;
  job: number;
  task: number;
  /** The host, or null for a task not placed yet (a queued one-of task). */
  host: string | null;
  /** The attempt, or null before the first. */
  attempt: number | null;
  state: TaskState;
  /** When (RFC 3339, as sent). */
  at: string;
  why?: string;
}

/** A piece of live output. */
export interface OutputEvent extends OutputPiece {
  type: "output";
  id: string | null;
  job: number;
  task: number;
  host: string;
  attempt: number;
}

/** A job's counts. */
export interface ProgressEvent {
  type: "progress";
  id: string | null;
  job: number;
  total: number;
  done: number;
  counts: Partial<Record<TaskState, number>>;
  /** Queued tasks waiting for a host that is not connected. */
  offline: number;
  aggregate: Aggregate;
}

/** The job is finished; a per-job stream closes after it. */
export interface EndEvent {
  type: "end";
  id: string | null;
  job: number;
  aggregate: Aggregate;
  /** When (RFC 3339, as sent). */
  finished_at: string;
}

/** A player connected or went away (`GET /v1/events` only). */
export interface PlayerEvent {
  type: "player";
  id: string | null;
  player: string;
  connected: boolean;
  /** When (RFC 3339, as sent). */
  at: string;
  reason?: string;
}

/** The conductor ends the stream (the client was too slow, or it is stopping). */
export interface CutoffEvent {
  type: "cutoff";
  id: string | null;
  reason: string;
}

/** An event of the audience event stream. */
export type AudienceEvent =
  | SnapshotEvent
  | TaskEvent
  | OutputEvent
  | ProgressEvent
  | EndEvent
  | PlayerEvent
  | CutoffEvent;

/** The event types the client knows; others (from a newer conductor) are skipped. */
export const EVENT_TYPES: readonly AudienceEvent["type"][] = [
  "snapshot",
  "task",
  "output",
  "progress",
  "end",
  "player",
  "cutoff",
];

function bad(what: string): OrchError {
  return new OrchError("protocol", `the conductor sent an event that is not valid: ${what}`);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw bad(`${what} is not an object`);
  }
  return v as Record<string, unknown>;
}

function num(o: Record<string, unknown>, k: string, what: string): number {
  const v = o[k];
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw bad(`${what}.${k} is not a number`);
  }
  return v;
}

/** A time field: an RFC 3339 string, kept as sent. */
function time(o: Record<string, unknown>, k: string, what: string): string {
  const v = str(o, k, what);
  if (parseTimeText(v) === null) throw bad(`${what}.${k} is not an RFC 3339 time`);
  return v;
}

function str(o: Record<string, unknown>, k: string, what: string): string {
  const v = o[k];
  if (typeof v !== "string") throw bad(`${what}.${k} is not a string`);
  return v;
}

function piece(o: Record<string, unknown>, what: string): OutputPiece {
  const stream = str(o, "stream", what);
  if (stream !== "stdout" && stream !== "stderr") throw bad(`${what}.stream is ${stream}`);
  return {
    stream,
    offset: num(o, "offset", what),
    bytes: num(o, "bytes", what),
    data: str(o, "data", what),
  };
}

/**
 * Decodes one server-sent event into an {@linkcode AudienceEvent}; null for
 * a type this client does not know. Throws a `protocol` error for data that
 * is not what the type says.
 */
export function decodeEvent(sse: SseEvent): AudienceEvent | null {
  const type = sse.event as AudienceEvent["type"];
  if (!EVENT_TYPES.includes(type)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(sse.data);
  } catch {
    throw bad(`the data of a ${type} event is not JSON`);
  }
  const d = obj(parsed, type);
  const id = sse.id;
  switch (type) {
    case "snapshot": {
      const live = Array.isArray(d.live) ? d.live : [];
      return {
        type,
        id,
        ...(d.job === undefined
          ? {}
          : { job: obj(d.job, "snapshot.job") as unknown as JobViewJson }),
        live: live.map((l, i) => {
          const t = obj(l, `snapshot.live[${i}]`);
          const pieces = Array.isArray(t.pieces) ? t.pieces : [];
          return {
            task: num(t, "task", "snapshot.live"),
            attempt: num(t, "attempt", "snapshot.live"),
            host: str(t, "host", "snapshot.live"),
            pieces: pieces.map((p) => piece(obj(p, "snapshot.live.pieces"), "snapshot.live")),
          };
        }),
        raw: d,
      };
    }
    case "task":
      return {
        type,
        id,
        job: num(d, "job", type),
        task: num(d, "task", type),
        host: d.host === null ? null : str(d, "host", type),
        attempt: d.attempt === null ? null : num(d, "attempt", type),
        state: str(d, "state", type) as TaskState,
        at: time(d, "at", type),
        ...(typeof d.why === "string" ? { why: d.why } : {}),
      };
    case "output":
      return {
        type,
        id,
        job: num(d, "job", type),
        task: num(d, "task", type),
        host: str(d, "host", type),
        attempt: num(d, "attempt", type),
        ...piece(d, type),
      };
    case "progress":
      return {
        type,
        id,
        job: num(d, "job", type),
        total: num(d, "total", type),
        done: num(d, "done", type),
        counts: obj(d.counts ?? {}, "progress.counts") as Partial<Record<TaskState, number>>,
        offline: typeof d.offline === "number" ? d.offline : 0,
        aggregate: str(d, "aggregate", type) as Aggregate,
      };
    case "end":
      return {
        type,
        id,
        job: num(d, "job", type),
        aggregate: str(d, "aggregate", type) as Aggregate,
        finished_at: time(d, "finished_at", type),
      };
    case "player":
      return {
        type,
        id,
        player: str(d, "player", type),
        connected: d.connected === true,
        at: time(d, "at", type),
        ...(typeof d.reason === "string" ? { reason: d.reason } : {}),
      };
    case "cutoff":
      return { type, id, reason: typeof d.reason === "string" ? d.reason : "" };
  }
}

/** What to print of a piece of output: its new text, after `missed` bytes not shown. */
export interface Fresh {
  /** Bytes between what was printed and this piece that never arrived (0: none). */
  missed: number;
  /** The part of the piece not printed before ("" when all of it was). */
  data: string;
}

/** Most streams an {@linkcode OutputTracker} remembers; the oldest are forgotten beyond it. */
const MAX_TRACKED = 100_000;

/**
 * Remembers, per (task, attempt, stream), how far output has been printed,
 * so that a piece seen again (replayed after a reconnect, or in a
 * snapshot) is not printed twice and a piece beyond it tells how many
 * bytes were missed.
 */
export class OutputTracker {
  readonly #printed = new Map<string, number>();

  /** The part of `p` (of task `task`, attempt `attempt`) not printed yet, and the gap before it. */
  take(task: number, attempt: number, p: OutputPiece): Fresh {
    const key = `${task}/${attempt}/${p.stream}`;
    const at = this.#printed.get(key) ?? 0;
    const end = p.offset + p.bytes;
    if (end <= at) return { missed: 0, data: "" };
    let data = p.data;
    if (p.offset < at) {
      // Part of the piece was printed: keep the bytes after `at`.
      const bytes = new TextEncoder().encode(p.data);
      data = new TextDecoder().decode(bytes.subarray(at - p.offset));
    }
    this.#printed.delete(key);
    this.#printed.set(key, end);
    if (this.#printed.size > MAX_TRACKED) {
      this.#printed.delete(this.#printed.keys().next().value!);
    }
    return { missed: Math.max(0, p.offset - at), data };
  }

  /** How far the stream has been printed (bytes). */
  printed(task: number, attempt: number, stream: OutputStream): number {
    return this.#printed.get(`${task}/${attempt}/${stream}`) ?? 0;
  }
}
