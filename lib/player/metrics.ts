/**
 * The player's Prometheus metrics: tasks running and run, by score (capped,
 * {@linkcode MAX_SCORE_LABELS}) and outcome, their durations, the
 * connection to the conductor, frames, and live output sent and dropped.
 * Counters are bumped inline; gauges read the player's state when scraped.
 *
 * @module
 */

import {
  Counter,
  Gauge,
  Histogram,
  LabelCap,
  newRegistry,
  peerCounters,
  type Registry,
} from "../metrics/mod.ts";

/** Score names kept as labels; later ones are counted as `other`. */
export const MAX_SCORE_LABELS = 200;

/** Buckets of task durations, in seconds: a tenth of a second to a day. */
const DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 86_400];

/** What the gauges read when scraped. */
export interface PlayerMetricsDeps {
  running(): number;
  connected(): boolean;
}

/** The player's metrics. */
export class PlayerMetrics {
  readonly registry: Registry = newRegistry();
  readonly #scores = new LabelCap(MAX_SCORE_LABELS);
  readonly #finished: Counter<"score" | "outcome">;
  readonly #durations: Histogram<"score" | "outcome">;
  readonly #connections: Counter;
  readonly #liveSent: Counter;
  readonly #liveDropped: Counter;

  constructor(d: PlayerMetricsDeps) {
    const registers = [this.registry];
    new Gauge({
      name: "orch_player_tasks_running",
      help: "Tasks running on this player now.",
      registers,
      collect() {
        this.set(d.running());
      },
    });
    new Gauge({
      name: "orch_player_connected",
      help: "1 while this player is connected to the conductor and welcomed, else 0.",
      registers,
      collect() {
        this.set(d.connected() ? 1 : 0);
      },
    });
    this.#connections = new Counter({
      name: "orch_player_connections_total",
      help:
        "Connections to the conductor welcomed since the player started (the first and each reconnect).",
      registers,
    });
    this.#finished = new Counter({
      name: "orch_player_tasks_finished_total",
      help: "Tasks this player ran to an end since it started, by score and outcome.",
      labelNames: ["score", "outcome"] as const,
      registers,
    });
    this.#durations = new Histogram({
      name: "orch_player_task_duration_seconds",
      help: "Run time of tasks on this player, by score and outcome.",
      labelNames: ["score", "outcome"] as const,
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#liveSent = new Counter({
      name: "orch_player_live_output_sent_bytes_total",
      help: "Bytes of running scores' output streamed to the conductor.",
      registers,
    });
    this.#liveDropped = new Counter({
      name: "orch_player_live_output_dropped_bytes_total",
      help:
        "Bytes of running scores' output not streamed (over the rate, or the link busy); results keep them.",
      registers,
    });
    peerCounters(
      registers,
      "Connections closed because the conductor fell silent past the heartbeat.",
    );
  }

  /** A connection was welcomed. */
  connected(): void {
    this.#connections.inc();
  }

  /** A task ended with `outcome` after `seconds`. */
  finished(score: string, outcome: string, seconds: number): void {
    const labels = { score: this.#scores.label(score), outcome };
    this.#finished.inc(labels);
    this.#durations.observe(labels, Math.max(0, seconds));
  }

  /** Live output bytes sent. */
  liveSent(bytes: number): void {
    this.#liveSent.inc(bytes);
  }

  /** Live output bytes dropped by a run that ended. */
  liveDropped(bytes: number): void {
    if (bytes > 0) this.#liveDropped.inc(bytes);
  }
}
