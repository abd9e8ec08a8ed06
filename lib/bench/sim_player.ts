/**
 * A simulated player: one real mutual-TLS connection speaking the real
 * protocol, which announces one trivial score and answers every assignment
 * at once (accept, then a succeeded result) without running anything.
 *
 * Like a real player it keeps each result until the conductor acknowledges
 * it, reports the unacknowledged ones in its hello, and sends them again
 * after a reconnect, so that a dropped connection loses nothing.
 *
 * @module
 */

import {
  type Assign,
  CONDUCTOR_TYPES,
  type ConductorMessage,
  DEFAULT_MAX_FRAME,
  ORCH_VERSION,
  type PlayerMessage,
  PROTOCOL_VERSION,
  type Result,
  type ScoreInfo,
} from "../protocol/mod.ts";
import { connectMutualTls, Peer, type TlsMaterial } from "../tls/mod.ts";
import { OrchError } from "../errors.ts";
import { CONDUCTOR_NAME } from "./deployment.ts";

/**
 * The result of an attempt that ran in no time at `at`: succeeded with
 * `response` (or failed with exit status 1), no output.
 */
export function instantResult(
  ref: { task_id: number; attempt: number },
  at: number,
  opts: { outcome?: "succeeded" | "failed"; response?: Record<string, unknown> } = {},
): Result {
  const failed = opts.outcome === "failed";
  return {
    type: "result",
    task_id: ref.task_id,
    attempt: ref.attempt,
    outcome: failed ? "failed" : "succeeded",
    exit_code: failed ? 1 : 0,
    signal: null,
    response: opts.response ?? {},
    stdout_tail: "",
    stderr_tail: "",
    started_at: at,
    ended_at: at,
    error: failed ? "the score exited with status 1" : null,
  };
}

/** The one score every simulated player announces. */
export const BENCH_SCORE: ScoreInfo = {
  name: "bench",
  interface: "env",
  params: {},
  timeout_ms: null,
  max_timeout_ms: null,
  idempotent: false,
};

/** Longest TLS handshake. */
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** Longest wait for the welcome after the hello. */
const WELCOME_TIMEOUT_MS = 60_000;

/** What a simulated player tells the fleet. */
export interface SimPlayerEvents {
  /** An assignment arrived (before it is answered). */
  onAssign(player: SimPlayer, assign: Assign): void;
  /** The conductor acknowledged a result this player held. */
  onAck(player: SimPlayer, taskId: number): void;
  /** The connection ended without {@linkcode SimPlayer.close}, after the welcome. */
  onDrop(player: SimPlayer, reason: string): void;
}

/** One simulated player. */
export class SimPlayer {
  readonly name: string;
  readonly #tls: TlsMaterial;
  readonly #events: SimPlayerEvents;
  #peer: Peer<ConductorMessage, PlayerMessage> | null = null;
  /** Results sent and not yet acknowledged, by `task/attempt`. */
  readonly #unacked = new Map<string, Result>();
  #conductorId = "";
  #closing = false;
  #welcomed = false;

  constructor(name: string, tls: TlsMaterial, events: SimPlayerEvents) {
    this.name = name;
    this.#tls = tls;
    this.#events = events;
  }

  /** Results sent and not yet acknowledged. */
  get unacknowledged(): number {
    return this.#unacked.size;
  }

  /**
   * Connects, says hello and resolves once welcomed. Rejects when the
   * handshake fails, the conductor refuses, or no welcome comes in time.
   */
  async connect(
    to: { port: number; slots: number; heartbeatMs: number },
  ): Promise<void> {
    this.#closing = false;
    this.#welcomed = false;
    const socket = await connectMutualTls({
      host: "127.0.0.1",
      port: to.port,
      expectName: CONDUCTOR_NAME,
      expectRole: "conductor",
      material: this.#tls,
      timeoutMs: HANDSHAKE_TIMEOUT_MS,
    });
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const peer = new Peer<ConductorMessage, PlayerMessage>(socket, {
        maxFrame: DEFAULT_MAX_FRAME,
        heartbeatMs: to.heartbeatMs,
        allowed: ["welcome", "refuse"],
        onMessage: (m) => {
          if (m.type === "welcome") {
            this.#conductorId = m.conductor_id;
            this.#welcomed = true;
            peer.allow(CONDUCTOR_TYPES);
            peer.send({ type: "ready", slots: to.slots });
            for (const r of this.#unacked.values()) peer.send(r);
            settle();
          } else if (m.type === "refuse") {
            settle(
              new OrchError("forbidden", `${this.name}: the conductor refused it: ${m.message}`),
            );
            peer.close("refused");
          } else this.#onMessage(peer, m);
        },
        onClose: (reason) => {
          const welcomed = this.#welcomed;
          this.#welcomed = false;
          settle(
            new OrchError(
              "unavailable",
              `${this.name}: connection closed before the welcome: ${reason}`,
            ),
          );
          if (welcomed && !this.#closing) this.#events.onDrop(this, reason);
        },
      });
      this.#peer = peer;
      const timer = setTimeout(() => {
        settle(
          new OrchError("timeout", `${this.name}: no welcome within ${WELCOME_TIMEOUT_MS / 1000}s`),
        );
        this.#closing = true;
        peer.close("no welcome");
      }, WELCOME_TIMEOUT_MS);
      peer.send({
        type: "hello",
        name: this.name,
        version: ORCH_VERSION,
        protocol: PROTOCOL_VERSION,
        slots: to.slots,
        scores: [BENCH_SCORE],
        journal: [...this.#unacked.values()].map((r) => ({
          task_id: r.task_id,
          attempt: r.attempt,
          conductor_id: this.#conductorId,
          state: "finished" as const,
        })),
      });
    });
  }

  /** Closes the connection on purpose (not counted as a drop). */
  close(): void {
    this.#closing = true;
    this.#peer?.close("the bench disconnects");
  }

  #onMessage(peer: Peer<ConductorMessage, PlayerMessage>, m: ConductorMessage): void {
    if (m.type === "assign") {
      this.#events.onAssign(this, m);
      const now = Date.now();
      peer.send({ type: "accept", task_id: m.task_id, attempt: m.attempt, started_at: now });
      const result = instantResult(m, now);
      this.#unacked.set(`${m.task_id}/${m.attempt}`, result);
      peer.send(result);
    } else if (m.type === "result_ack") {
      if (this.#unacked.delete(`${m.task_id}/${m.attempt}`)) this.#events.onAck(this, m.task_id);
    }
    // A cancel finds nothing running: every task here ends as soon as it starts.
  }
}
