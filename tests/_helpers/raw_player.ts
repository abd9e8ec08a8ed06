/**
 * A player that speaks raw frames: it connects to a test cluster's
 * conductor with mutual TLS and a player certificate made by `orch ca`,
 * then sends whatever a test gives it, so that a test can play a
 * compromised player or one of a newer version. It answers pings (unless
 * told not to) and keeps every frame it receives, decoded only as JSON.
 *
 * @example
 * ```ts
 * await using rp = await RawPlayer.connect(c, "rp");
 * rp.hello({ scores: [] });
 * const welcome = await rp.next("welcome");
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { instantResult } from "../../lib/bench/mod.ts";
import {
  encodeFrame,
  FrameDecoder,
  ORCH_VERSION,
  PROTOCOL_VERSION,
} from "../../lib/protocol/mod.ts";
import type { ScoreInfo } from "../../lib/protocol/mod.ts";
import { connectMutualTls, loadTlsMaterial, type TLSSocket } from "../../lib/tls/mod.ts";
import type { Cluster } from "./cluster.ts";

/** A frame as received: any JSON object. */
export type Frame = Record<string, unknown> & { type?: unknown };

/** A score as announced, with its parameters declared. */
export function rawScore(
  name: string,
  params: ScoreInfo["params"],
  extra: Partial<ScoreInfo> = {},
): ScoreInfo {
  return {
    name,
    interface: "env",
    params,
    timeout_ms: null,
    max_timeout_ms: null,
    idempotent: false,
    ...extra,
  };
}

/** A raw protocol connection to a cluster's conductor. */
export class RawPlayer implements AsyncDisposable {
  readonly name: string;
  readonly #socket: TLSSocket;
  readonly #decoder = new FrameDecoder(1 << 20);
  /** Every frame received, in order (pings included). */
  readonly received: Frame[] = [];
  #read = 0;
  readonly #waiters = new Set<() => void>();
  /** Resolves with why the connection ended. */
  readonly closed: Promise<string>;
  #closedWhy: string | null = null;
  /** Answer the conductor's pings (turn off to play a silent player). */
  answerPings = true;

  private constructor(name: string, socket: TLSSocket) {
    this.name = name;
    this.#socket = socket;
    this.closed = new Promise((resolve) => {
      const end = (why: string) => {
        if (this.#closedWhy !== null) return;
        this.#closedWhy = why;
        resolve(why);
        for (const w of [...this.#waiters]) w();
      };
      socket.on("end", () => end("the conductor closed the connection"));
      socket.on("close", () => end("the connection closed"));
      socket.on("error", (err: Error) => end(`connection error: ${err.message}`));
    });
    socket.on("data", (chunk: Uint8Array) => {
      for (const value of this.#decoder.push(chunk)) {
        const frame = value as Frame;
        this.received.push(frame);
        if (frame.type === "ping" && this.answerPings) this.send({ type: "pong", t: frame.t });
      }
      for (const w of [...this.#waiters]) w();
    });
  }

  /** Connects to `cluster`'s conductor as `name`, with the certificate issued for `name`. */
  static async connect(cluster: Cluster, name: string): Promise<RawPlayer> {
    const material = await loadTlsMaterial(
      {
        ca: join(cluster.caDir, "ca.crt"),
        cert: join(cluster.caDir, `${name}.crt`),
        key: join(cluster.caDir, `${name}.key`),
      },
      "player",
      new Date(),
    );
    const socket = await connectMutualTls({
      host: "127.0.0.1",
      port: cluster.playersPort,
      expectName: "localhost",
      expectRole: "conductor",
      material,
      timeoutMs: 5000,
    });
    return new RawPlayer(name, socket);
  }

  /** Sends any JSON value as one frame. */
  send(value: unknown): void {
    this.#socket.write(encodeFrame(value));
  }

  /** Sends a hello as this player, with `fields` added or replacing the usual ones. */
  hello(fields: Record<string, unknown> = {}): void {
    this.send({
      type: "hello",
      name: this.name,
      version: ORCH_VERSION,
      protocol: PROTOCOL_VERSION,
      slots: 1,
      scores: [],
      journal: [],
      ...fields,
    });
  }

  /**
   * The next frame of type `type` (or of any of several types) not yet
   * returned; frames of other types before it are passed over. Rejects when
   * the connection ends first or after `timeoutMs`.
   */
  next(type: string | string[], timeoutMs = 15_000): Promise<Frame> {
    const types: unknown[] = Array.isArray(type) ? type : [type];
    return new Promise((resolve, reject) => {
      const check = () => {
        for (; this.#read < this.received.length; this.#read++) {
          const frame = this.received[this.#read];
          if (types.includes(frame.type)) {
            this.#read++;
            done();
            resolve(frame);
            return;
          }
        }
        if (this.#closedWhy !== null) {
          done();
          reject(new Error(`${this.name}: no ${type} before the end (${this.#closedWhy})`));
        }
      };
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no ${type} within ${timeoutMs}ms`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  /** True once the connection has ended. */
  get isClosed(): boolean {
    return this.#closedWhy !== null;
  }

  /**
   * Waits for an assignment, accepts it and reports it succeeded with
   * `response`; resolves with the assignment.
   */
  async runNext(response: Record<string, string> = {}): Promise<Frame> {
    const a = await this.next("assign");
    const now = Date.now();
    this.send({ type: "accept", task_id: a.task_id, attempt: a.attempt, started_at: now });
    this.send(instantResult(a as { task_id: number; attempt: number }, now, { response }));
    return a;
  }

  /** Closes the connection. */
  close(): void {
    this.#socket.destroy();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return this.closed.then(() => {});
  }
}
