/**
 * The audience's event log: every event of the bus, numbered and turned
 * into its wire form (`task`, `output`, `end`, `player`, and the `progress`
 * events added by the streams), with the latest of them kept so that a
 * client that lost its connection can resume after the last event it saw.
 *
 * An event's id is `BOOT.SEQ`: BOOT names this run of the conductor (an id
 * from before a restart is recognised and not used), SEQ counts up from 1.
 * The log keeps at most {@linkcode EventLogLimits.maxEvents} events and
 * {@linkcode EventLogLimits.maxBytes} bytes of their data, oldest dropped
 * first; a resume from further back than it reaches gets `null` (the
 * stream then starts with a snapshot instead).
 *
 * @module
 */

import { timeText, utf8Length } from "../protocol/mod.ts";
import type { ConductorEvent } from "./events.ts";

/** The event types of the audience's stream. */
export type WireType = "snapshot" | "task" | "output" | "progress" | "end" | "player" | "cutoff";

/** One numbered event, ready to send. */
export interface LoggedEvent {
  seq: number;
  /** The job it is about; null for a player's connect or disconnect. */
  job: number | null;
  type: WireType;
  /** Its data, one line of JSON. */
  data: string;
}

/** How much the log keeps. */
export interface EventLogLimits {
  /** Events kept at most. */
  maxEvents: number;
  /** Bytes of event data kept at most. */
  maxBytes: number;
}

/**
 * The limits when none are given: a reconnect comes within seconds, and
 * 8 MiB holds that long of output at the players' default rate (32 KiB/s
 * per running task) from dozens of hosts at once; 20,000 events bound the
 * bookkeeping when the events are small state changes.
 */
export const DEFAULT_EVENT_LOG_LIMITS: EventLogLimits = {
  maxEvents: 20_000,
  maxBytes: 8 << 20,
};

/** A resume point, parsed from `Last-Event-ID`. */
export interface EventId {
  boot: string;
  seq: number;
}

/** Longest `Last-Event-ID` taken. */
const MAX_ID_LENGTH = 64;

/**
 * Parses an event id as sent in `Last-Event-ID`; throws a `RangeError`
 * naming the value when it is not `BOOT.SEQ`.
 */
export function parseEventId(text: string): EventId {
  const m = text.length <= MAX_ID_LENGTH ? /^([0-9a-z]{1,32})\.(\d{1,15})$/.exec(text) : null;
  if (!m) {
    throw new RangeError(
      `expected an event id BOOT.SEQ as sent in an event's "id:" line, got ${
        JSON.stringify(text.slice(0, MAX_ID_LENGTH))
      }`,
    );
  }
  return { boot: m[1], seq: Number(m[2]) };
}

/** A new BOOT: random, so that two runs of a conductor never share one. */
export function newBoot(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The wire form of a bus event (its type and data), or null for none. */
export function wireOf(e: ConductorEvent): { job: number | null; type: WireType; data: unknown } {
  switch (e.type) {
    case "task.queued":
      return {
        job: e.job,
        type: "task",
        data: {
          job: e.job,
          task: e.task,
          host: null,
          attempt: null,
          state: "queued",
          at: timeText(e.at),
          ...(e.why ? { why: e.why } : {}),
        },
      };
    case "task.assigned":
    case "task.started":
    case "task.finished":
      return {
        job: e.job,
        type: "task",
        data: {
          job: e.job,
          task: e.task,
          host: e.player,
          attempt: e.attempt,
          state: e.type === "task.finished"
            ? e.state
            : e.type === "task.assigned"
            ? "assigned"
            : "running",
          at: timeText(e.at),
        },
      };
    case "task.output":
      return {
        job: e.job,
        type: "output",
        data: {
          job: e.job,
          task: e.task,
          host: e.player,
          attempt: e.attempt,
          stream: e.stream,
          offset: e.offset,
          bytes: e.bytes,
          data: e.data,
        },
      };
    case "job.finished":
      return {
        job: e.job,
        type: "end",
        data: { job: e.job, aggregate: e.aggregate, finished_at: timeText(e.at) },
      };
    case "player.connected":
      return {
        job: null,
        type: "player",
        data: { player: e.player, connected: true, at: timeText(e.at) },
      };
    case "player.disconnected":
      return {
        job: null,
        type: "player",
        data: { player: e.player, connected: false, at: timeText(e.at), reason: e.reason },
      };
  }
}

/** See the module doc. */
export class EventLog {
  /** This run's BOOT. */
  readonly boot: string;
  readonly #limits: EventLogLimits;
  readonly #ring: (LoggedEvent & { size: number })[] = [];
  #head = 0;
  #bytes = 0;
  #seq = 0;
  readonly #listeners = new Set<(e: LoggedEvent) => void>();

  constructor(boot: string = newBoot(), limits: EventLogLimits = DEFAULT_EVENT_LOG_LIMITS) {
    this.boot = boot;
    this.#limits = limits;
  }

  /** The SEQ of the newest event (0 before the first). */
  get seq(): number {
    return this.#seq;
  }

  /** Events kept now. */
  get length(): number {
    return this.#ring.length - this.#head;
  }

  /** Bytes of event data kept now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The id of event `seq` of this run. */
  idOf(seq: number): string {
    return `${this.boot}.${seq}`;
  }

  /** Numbers an event, keeps it, and hands it to every listener; returns it. */
  append(job: number | null, type: WireType, data: unknown): LoggedEvent {
    const text = JSON.stringify(data);
    const e = { seq: ++this.#seq, job, type, data: text, size: utf8Length(text) };
    this.#ring.push(e);
    this.#bytes += e.size;
    while (
      this.length > this.#limits.maxEvents ||
      (this.#bytes > this.#limits.maxBytes && this.length > 1)
    ) {
      this.#bytes -= this.#ring[this.#head].size;
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#ring.length) {
      this.#ring.splice(0, this.#head);
      this.#head = 0;
    }
    const out: LoggedEvent = { seq: e.seq, job, type, data: text };
    for (const l of this.#listeners) l(out);
    return out;
  }

  /** Calls `fn` with every event appended from now on, until the returned function is called. */
  listen(fn: (e: LoggedEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /**
   * The events after `id` (of job `job` only, when given), oldest first;
   * null when they cannot all be given: the id is from another run, or
   * from further back than the log reaches, or from the future.
   */
  after(id: EventId, job?: number): LoggedEvent[] | null {
    if (id.boot !== this.boot || id.seq > this.#seq) return null;
    const oldest = this.length > 0 ? this.#ring[this.#head].seq : this.#seq + 1;
    // Every event after id.seq must still be here: the next one is the oldest kept, or later.
    if (id.seq + 1 < oldest) return null;
    const out: LoggedEvent[] = [];
    for (let i = this.#head + Math.max(0, id.seq + 1 - oldest); i < this.#ring.length; i++) {
      const e = this.#ring[i];
      if (job !== undefined && e.job !== job) continue;
      out.push({ seq: e.seq, job: e.job, type: e.type, data: e.data });
    }
    return out;
  }
}
