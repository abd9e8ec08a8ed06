/**
 * State changes as typed events, and the in-process bus that carries them.
 *
 * Every change of a task's, job's or player's state emits exactly one
 * event. Task and job events are published once the change is committed,
 * in commit order, so a subscriber never sees a state the database may not
 * have. Subscribers (waiting clients, and later live output, metrics,
 * audit, the dashboard) each get a bounded queue: one that falls behind is
 * cut off, never the conductor.
 *
 * @module
 */

import type { Aggregate, OutputStream, TaskState } from "../protocol/mod.ts";

/** A task entered the queue: submitted, or put back (a retry, a refusal, never accepted). */
export interface TaskQueued {
  type: "task.queued";
  at: number;
  job: number;
  task: number;
  /** Why it went back, when it is not new. */
  why?: "retry" | "refused" | "unstarted" | "busy" | "offline";
  /** A retry is placed no sooner than this (epoch ms). */
  not_before?: number;
}

/** A task's attempt was sent to a player. */
export interface TaskAssigned {
  type: "task.assigned";
  at: number;
  job: number;
  task: number;
  attempt: number;
  player: string;
}

/** A player started a task's attempt. */
export interface TaskStarted {
  type: "task.started";
  at: number;
  job: number;
  task: number;
  attempt: number;
  player: string;
}

/** A task reached a final state. */
export interface TaskFinished {
  type: "task.finished";
  at: number;
  job: number;
  task: number;
  attempt: number;
  player: string | null;
  state: TaskState;
}

/**
 * A piece of a running task's output, as its player streamed it (not
 * durable: published as it arrives, not after a commit; pieces may be
 * missing, which the jump in `offset` shows).
 */
export interface TaskOutput {
  type: "task.output";
  at: number;
  job: number;
  task: number;
  attempt: number;
  player: string;
  stream: OutputStream;
  /** Where in the stream it starts (bytes the score wrote before it). */
  offset: number;
  /** Bytes of the stream it stands for. */
  bytes: number;
  /** The text, secret values masked. */
  data: string;
}

/** Every task of a job is final. */
export interface JobFinished {
  type: "job.finished";
  at: number;
  job: number;
  aggregate: Aggregate;
}

/** A player's hello was accepted. */
export interface PlayerConnected {
  type: "player.connected";
  at: number;
  player: string;
}

/** A player's connection ended. */
export interface PlayerDisconnected {
  type: "player.disconnected";
  at: number;
  player: string;
  reason: string;
}

/** Any event. */
export type ConductorEvent =
  | TaskQueued
  | TaskAssigned
  | TaskStarted
  | TaskFinished
  | TaskOutput
  | JobFinished
  | PlayerConnected
  | PlayerDisconnected;

/** The event types. */
export type EventType = ConductorEvent["type"];

/** Which events a subscriber wants. */
export interface SubscribeOptions {
  /** Only events of this job. */
  job?: number;
  /** Only events of these types. */
  types?: readonly EventType[];
  /** Events held for it at most; past that it is cut off (default 10,000). */
  maxQueue?: number;
}

/** Events held for one subscriber by default. */
const DEFAULT_MAX_QUEUE = 10_000;

/** One subscriber's view of the bus: a bounded queue read with {@linkcode next}. */
export class Subscription {
  readonly #queue: ConductorEvent[] = [];
  #head = 0;
  readonly #max: number;
  #waiter: ((e: ConductorEvent | undefined) => void) | null = null;
  #closed: string | null = null;
  readonly #unsubscribe: (s: Subscription) => void;
  readonly types: ReadonlySet<EventType> | null;

  constructor(opts: SubscribeOptions, unsubscribe: (s: Subscription) => void) {
    this.#max = opts.maxQueue ?? DEFAULT_MAX_QUEUE;
    this.types = opts.types ? new Set(opts.types) : null;
    this.#unsubscribe = unsubscribe;
  }

  /** Why the subscription ended (cut off, closed, the conductor stopping), or null while open. */
  get closedReason(): string | null {
    return this.#closed;
  }

  /** Called by the bus. */
  deliver(e: ConductorEvent): void {
    if (this.#closed !== null) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w(e);
      return;
    }
    if (this.#queue.length - this.#head >= this.#max) {
      this.close(`too slow: more than ${this.#max} events waiting`);
      return;
    }
    this.#queue.push(e);
  }

  /** The next event; undefined once the subscription is closed and drained. */
  next(): Promise<ConductorEvent | undefined> {
    if (this.#head < this.#queue.length) {
      const e = this.#queue[this.#head++];
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      return Promise.resolve(e);
    }
    if (this.#closed !== null) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  /** Ends the subscription; a pending {@linkcode next} resolves undefined. */
  close(reason = "closed"): void {
    if (this.#closed !== null) return;
    this.#closed = reason;
    this.#unsubscribe(this);
    const w = this.#waiter;
    this.#waiter = null;
    w?.(undefined);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The in-process bus. Publishing never blocks and never throws. */
export class EventBus {
  readonly #all = new Set<Subscription>();
  readonly #byJob = new Map<number, Set<Subscription>>();
  readonly #taps: ((e: ConductorEvent) => void)[] = [];

  /**
   * Calls `fn` with every event as it is published, before any subscriber
   * sees it: for the conductor's own bookkeeping, which must be quick and
   * must not throw.
   */
  tap(fn: (e: ConductorEvent) => void): void {
    this.#taps.push(fn);
  }

  /** Subscribes to the events `opts` selects. */
  subscribe(opts: SubscribeOptions = {}): Subscription {
    const job = opts.job;
    const sub = new Subscription(opts, (s) => {
      if (job === undefined) this.#all.delete(s);
      else {
        const set = this.#byJob.get(job);
        set?.delete(s);
        if (set?.size === 0) this.#byJob.delete(job);
      }
    });
    if (job === undefined) this.#all.add(sub);
    else {
      let set = this.#byJob.get(job);
      if (!set) this.#byJob.set(job, set = new Set());
      set.add(sub);
    }
    return sub;
  }

  /** Hands `e` to every subscriber that wants it. */
  publish(e: ConductorEvent): void {
    for (const t of this.#taps) t(e);
    for (const s of this.#all) if (!s.types || s.types.has(e.type)) s.deliver(e);
    if ("job" in e) {
      const set = this.#byJob.get(e.job);
      if (set) { for (const s of set) if (!s.types || s.types.has(e.type)) s.deliver(e); }
    }
  }

  /** Closes every subscription with `reason`. */
  closeAll(reason: string): void {
    for (const s of [...this.#all]) s.close(reason);
    for (const set of [...this.#byJob.values()]) for (const s of [...set]) s.close(reason);
  }
}
