/**
 * The player's Prometheus metrics: tasks running and run, by score (capped)
 * and outcome, their durations, the
 * connection to the conductor, frames, and live output sent and dropped.
 * Counters are bumped inline; gauges read the player's state when scraped.
 *
 * @module
 */

import {
  Counter,
  Gauge,
  newRegistry,
  peerCounters,
  type Registry,
  TaskOutcomes,
} from "../metrics/mod.ts";

/** What the gauges read when scraped. */
export interface PlayerMetricsDeps {
  running(): number;
  connected(): boolean;
}

/** The player's metrics. */
export class PlayerMetrics {
  readonly registry: Registry = newRegistry();
  readonly #tasks: TaskOutcomes;
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
    this.#tasks = new TaskOutcomes(registers, {
      finished: "orch_player_tasks_finished_total",
      finishedHelp: "Tasks this player ran to an end since it started, by score and outcome.",
      duration: "orch_player_task_duration_seconds",
      durationHelp: "Run time of tasks on this player, by score and outcome.",
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
    this.#tasks.ended(this.#tasks.label(score), outcome, Math.max(0, seconds));
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
