/**
 * A player played by the test, in-process, over the conductor's link seam:
 * every message goes through the real framing and validation, so the
 * conductor sees exactly what it would see from the wire.
 *
 * @module
 */

import type { Conductor, LinkHandlers } from "../../lib/conductor/mod.ts";
import {
  CONDUCTOR_TYPES,
  type ConductorMessage,
  decodeMessage,
  encodeFrame,
  FrameDecoder,
  type JournalEntry,
  PLAYER_TYPES,
  type PlayerMessage,
  PROTOCOL_VERSION,
  type ScoreInfo,
} from "../../lib/protocol/mod.ts";
import { instantResult } from "../../lib/bench/mod.ts";
import { scoreInfo } from "./requests.ts";

function roundTrip<T>(m: unknown, allowed: readonly string[]): T {
  const [value] = new FrameDecoder().push(encodeFrame(m));
  return decodeMessage(value, allowed as never) as T;
}

/** An in-process player connected to `conductor`. */
export class TestPlayer {
  readonly name: string;
  /** Every message the conductor sent, in order. */
  readonly inbox: ConductorMessage[] = [];
  closedBecause: string | null = null;
  #handlers!: LinkHandlers;
  readonly #waiters = new Set<() => void>();

  constructor(conductor: Conductor, name: string) {
    this.name = name;
    const isClosed = () => this.closedBecause !== null;
    conductor.connect((handlers) => {
      this.#handlers = handlers;
      return {
        remote: `test:${name}`,
        identity: { cn: name, role: "player", names: [name] },
        get closed() {
          return isClosed();
        },
        send: (m: ConductorMessage): boolean => {
          if (isClosed()) return false;
          this.inbox.push(roundTrip(m, [...CONDUCTOR_TYPES, "welcome"]));
          for (const w of [...this.#waiters]) w();
          return true;
        },
        established: () => {},
        close: (reason: string): void => {
          if (isClosed()) return;
          this.closedBecause = reason;
          for (const w of [...this.#waiters]) w();
          queueMicrotask(() => handlers.onClose(reason));
        },
      };
    });
  }

  /** Sends a message to the conductor. */
  send(m: PlayerMessage): void {
    this.#handlers.onMessage(roundTrip(m, ["hello", ...PLAYER_TYPES]));
  }

  /** Says hello, waits for the welcome, and says it is ready with `slots`. */
  async join(
    opts: { scores?: ScoreInfo[]; slots?: number; journal?: JournalEntry[] } = {},
  ): Promise<void> {
    this.send({
      type: "hello",
      name: this.name,
      version: "test",
      protocol: PROTOCOL_VERSION,
      slots: opts.slots ?? 1,
      scores: opts.scores ?? [scoreInfo("hello")],
      journal: opts.journal ?? [],
    });
    await this.next("welcome");
    this.send({ type: "ready", slots: opts.slots ?? 1 });
  }

  /** Messages of `type` received so far. */
  received<T extends ConductorMessage["type"]>(type: T): Extract<ConductorMessage, { type: T }>[] {
    return this.inbox.filter((m) => m.type === type) as Extract<ConductorMessage, { type: T }>[];
  }

  #seen = new Map<string, number>();

  /** The next message of `type` not yet taken by `next` (waits up to 5 s of real time). */
  next<T extends ConductorMessage["type"]>(
    type: T,
  ): Promise<Extract<ConductorMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const from = this.#seen.get(type) ?? 0;
        const all = this.received(type);
        if (all.length > from) {
          this.#seen.set(type, from + 1);
          done();
          resolve(all[from]);
        } else if (this.closedBecause !== null) {
          done();
          reject(new Error(`${this.name} closed (${this.closedBecause}) before a ${type}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no ${type} within 5s; got ${JSON.stringify(this.inbox)}`));
      }, 5000);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Accepts an assignment and reports its result at once. */
  run(
    a: { task_id: number; attempt: number },
    outcome: "succeeded" | "failed" = "succeeded",
  ): void {
    const now = Date.now();
    this.send({ type: "accept", task_id: a.task_id, attempt: a.attempt, started_at: now });
    this.send(instantResult(a, now, { outcome }));
  }

  /** A frame with no message in it (a ping or a pong) arrives at the conductor. */
  heartbeat(): void {
    this.#handlers.onHeard?.();
  }

  /** Drops the connection from the player's side. */
  disconnect(): void {
    if (this.closedBecause !== null) return;
    this.closedBecause = "the player went away";
    this.#handlers.onClose(this.closedBecause);
  }
}
