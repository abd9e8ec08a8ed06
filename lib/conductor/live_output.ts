/**
 * The live output of running tasks: for each, the latest pieces of its
 * stdout and stderr (a bounded ring per stream), so that someone who starts
 * watching a running task sees what it printed lately, and each piece as a
 * `task.output` event as it arrives.
 *
 * Memory is bounded twice: each stream of a task keeps at most
 * {@linkcode LiveOutputLimits.perStream} bytes of text, and all of them
 * together at most {@linkcode LiveOutputLimits.total}; past that a piece is
 * still published but not kept. A task's output is forgotten when its
 * attempt ends (the result, with its head and tail, is what is stored).
 *
 * @module
 */

import type { Output, OutputStream } from "../protocol/mod.ts";
import { maskText, utf8Length } from "../protocol/mod.ts";
import type { Clock } from "./clock.ts";
import type { ConductorEvent, EventBus } from "./events.ts";

/** A piece of output as kept and published. */
export interface OutputPiece {
  stream: OutputStream;
  /** Where in the stream it starts (bytes the score wrote before it). */
  offset: number;
  /** Bytes of the stream it stands for. */
  bytes: number;
  data: string;
}

/** What a running task printed lately. */
export interface LiveTaskOutput {
  task: number;
  attempt: number;
  player: string;
  /** The pieces kept, oldest first, both streams. */
  pieces: OutputPiece[];
}

/** How much is kept. */
export interface LiveOutputLimits {
  /** Bytes of text kept per stream of a task. */
  perStream: number;
  /** Bytes of text kept for every task together. */
  total: number;
}

/** The limits when none are given. */
export const DEFAULT_LIVE_LIMITS: LiveOutputLimits = { perStream: 16 << 10, total: 64 << 20 };

interface Entry {
  job: number;
  /** The job's secret values: masked again in the joined text, where a piece boundary cannot hide one. */
  secrets: readonly string[];
  attempt: number;
  player: string;
  pieces: (OutputPiece & { size: number })[];
  size: Record<OutputStream, number>;
}

/** The line that stands for `n` bytes of output not shown. */
export function gapMarker(n: number): string {
  return `[… ${n} bytes not shown …]`;
}

/** See the module doc. */
export class LiveOutputs {
  readonly #entries = new Map<number, Entry>();
  readonly #limits: LiveOutputLimits;
  readonly #bus: EventBus;
  readonly #clock: Clock;
  #total = 0;

  constructor(bus: EventBus, clock: Clock, limits: LiveOutputLimits = DEFAULT_LIVE_LIMITS) {
    this.#bus = bus;
    this.#clock = clock;
    this.#limits = limits;
    bus.tap((e) => this.#onEvent(e));
  }

  /** Bytes of text kept now, all tasks together. */
  get size(): number {
    return this.#total;
  }

  /**
   * Takes a piece `player` sent for an attempt of task `task` of job `job`
   * that runs there (the caller checked), its text already masked; keeps it
   * and publishes it.
   */
  add(
    job: number,
    task: number,
    player: string,
    m: Output,
    data: string,
    secrets: readonly string[] = [],
  ): void {
    let e = this.#entries.get(task);
    if (e && e.attempt !== m.attempt) {
      this.#forget(task);
      e = undefined;
    }
    if (!e) {
      e = {
        job,
        secrets,
        attempt: m.attempt,
        player,
        pieces: [],
        size: { stdout: 0, stderr: 0 },
      };
      this.#entries.set(task, e);
    }
    const size = utf8Length(data);
    if (size <= this.#limits.perStream && this.#total + size <= this.#limits.total) {
      e.pieces.push({ stream: m.stream, offset: m.offset, bytes: m.bytes, data, size });
      e.size[m.stream] += size;
      this.#total += size;
      while (e.size[m.stream] > this.#limits.perStream) {
        const i = e.pieces.findIndex((p) => p.stream === m.stream);
        const [gone] = e.pieces.splice(i, 1);
        e.size[m.stream] -= gone.size;
        this.#total -= gone.size;
      }
    }
    this.#bus.publish({
      type: "task.output",
      at: this.#clock.now(),
      job,
      task,
      attempt: m.attempt,
      player,
      stream: m.stream,
      offset: m.offset,
      bytes: m.bytes,
      data,
    });
  }

  /** What task `task` printed lately, or undefined when it is not running (or printed nothing). */
  get(task: number): LiveTaskOutput | undefined {
    const e = this.#entries.get(task);
    if (!e) return undefined;
    return {
      task,
      attempt: e.attempt,
      player: e.player,
      pieces: e.pieces.map(({ stream, offset, bytes, data }) => ({ stream, offset, bytes, data })),
    };
  }

  /**
   * The text of `stream` kept for task `task` (attempt `attempt`), with a
   * marker line where bytes are missing (not kept, or never received);
   * undefined when none is kept.
   */
  text(task: number, attempt: number, stream: OutputStream): string | undefined {
    const e = this.#entries.get(task);
    if (!e || e.attempt !== attempt) return undefined;
    let out = "";
    let next = 0;
    let any = false;
    for (const p of e.pieces) {
      if (p.stream !== stream) continue;
      any = true;
      if (p.offset > next) {
        if (out !== "" && !out.endsWith("\n")) out += "\n";
        out += `${gapMarker(p.offset - next)}\n`;
      }
      out += p.data;
      next = p.offset + p.bytes;
    }
    return any ? maskText(out, e.secrets) : undefined;
  }

  /** The tasks of job `job` with live output kept. */
  ofJob(job: number): LiveTaskOutput[] {
    const out: LiveTaskOutput[] = [];
    for (const [task, e] of this.#entries) if (e.job === job) out.push(this.get(task)!);
    return out;
  }

  #onEvent(e: ConductorEvent): void {
    // An attempt that ends, or goes back to the queue, prints no more.
    if (e.type === "task.finished" || e.type === "task.queued") {
      const entry = this.#entries.get(e.task);
      if (entry && (e.type === "task.queued" || entry.attempt <= e.attempt)) this.#forget(e.task);
    }
  }

  #forget(task: number): void {
    const e = this.#entries.get(task);
    if (!e) return;
    this.#total -= e.size.stdout + e.size.stderr;
    this.#entries.delete(task);
  }
}
