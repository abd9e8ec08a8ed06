/**
 * The conductor's Prometheus metrics. Counters are bumped inline from the
 * event bus, the committer and the API; what needs a look over the open
 * work (tasks by state, queue depth and age) is counted when scraped, in
 * one pass over the open tasks. No label holds a job id, nor a host name
 * unless `metrics_per_player` asks for the queue of each player; score names
 * are capped (the first 200, the rest `other`: `metrics/tasks.ts`).
 *
 * @module
 */

import {
  Counter,
  Gauge,
  Histogram,
  newRegistry,
  peerCounters,
  type Registry,
  TaskOutcomes,
} from "../metrics/mod.ts";
import { ERROR_CODES } from "../errors.ts";
import { type Aggregate, aggregateOfCounts, type TaskState } from "../protocol/mod.ts";
import type { ApiHandler } from "./api.ts";
import type { Clock } from "./clock.ts";
import type { EventBus } from "./events.ts";
import type { TaskMachine } from "./machine.ts";
import type { Registry as Players } from "./registry.ts";

/** Buckets of commit latency, in seconds. */
const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
/** Buckets of commit batch sizes, in records. */
const BATCH_BUCKETS = [1, 2, 5, 10, 50, 100, 500, 1000, 5000];
/** Running tasks whose start time is remembered at most (for their duration). */
const MAX_STARTED = 1_000_000;

/** What the conductor's metrics read. */
export interface ConductorMetricsDeps {
  bus: EventBus;
  machine: TaskMachine;
  players: Players;
  clock: Clock;
  /** Give each player's queue depth and oldest age, labelled by its name (`metrics_per_player`). */
  perPlayer?: boolean;
}

/** The conductor's metrics and the hooks that feed them. */
export class ConductorMetrics {
  /** The registry the metrics listener serves. */
  readonly registry: Registry = newRegistry();
  readonly #d: ConductorMetricsDeps;
  /** When each queued task entered the queue (as far as this process saw). */
  readonly #queuedAt = new Map<number, number>();
  /** Running tasks: when they started and their score's label. */
  readonly #started = new Map<number, { at: number; score: string }>();
  readonly #bootAt: number;
  readonly #tasks: TaskOutcomes;
  readonly #jobs: Counter<"aggregate">;
  readonly #connects: Counter;
  readonly #disconnects: Counter;
  readonly #commitSeconds: Histogram;
  readonly #batchSize: Histogram;
  readonly #submits: Counter<"result">;
  readonly #refusals: Counter<"status" | "reason">;

  constructor(d: ConductorMetricsDeps) {
    this.#d = d;
    this.#bootAt = d.clock.now();
    const registers = [this.registry];
    new Gauge({
      name: "orch_players_connected",
      help: "Players connected now.",
      registers,
      collect() {
        this.set(d.players.sessions.size);
      },
    });
    new Gauge({
      name: "orch_players_listed",
      help: "Players in the players file.",
      registers,
      collect() {
        this.set(d.players.authorised.size);
      },
    });
    // prom-client collects in the order of registration: `orch_tasks` (registered first of the
    // gauges reading the open work) makes the one pass, the later ones read what it found.
    const scan = () => this.#scan();
    const last = () => this.#last;
    new Gauge({
      name: "orch_tasks",
      help: "Open tasks by state (queued, assigned, running).",
      labelNames: ["state"] as const,
      registers,
      collect() {
        const s = scan();
        this.set({ state: "queued" }, s.queued);
        this.set({ state: "assigned" }, s.assigned);
        this.set({ state: "running" }, s.running);
      },
    });
    new Gauge({
      name: "orch_jobs_open",
      help: "Jobs not finished yet, by their aggregate now (pending, running; with a quorum, " +
        "success or failure can be decided before the last task ends).",
      labelNames: ["aggregate"] as const,
      registers,
      collect() {
        this.reset();
        this.set({ aggregate: "pending" }, 0);
        this.set({ aggregate: "running" }, 0);
        for (const [aggregate, n] of last().openJobs) this.set({ aggregate }, n);
      },
    });
    new Gauge({
      name: "orch_queue_depth",
      help: "Tasks queued, overall.",
      registers,
      collect() {
        this.set(last().queued);
      },
    });
    new Gauge({
      name: "orch_queue_oldest_age_seconds",
      help: "Age of the oldest queued task (since it was queued, or since the conductor started).",
      registers,
      collect() {
        this.set(last().oldestAge);
      },
    });
    new Gauge({
      name: "orch_queue_worst_player_depth",
      help: "Queued tasks waiting for the one player with the most of them.",
      registers,
      collect() {
        this.set(last().worstDepth);
      },
    });
    new Gauge({
      name: "orch_queue_worst_player_oldest_age_seconds",
      help: "Age of the oldest queued task bound to a player (any player's; 0 when none).",
      registers,
      collect() {
        this.set(last().worstAge);
      },
    });
    if (d.perPlayer) this.#perPlayerGauges(registers);
    this.#tasks = new TaskOutcomes(registers, {
      finished: "orch_tasks_finished_total",
      finishedHelp:
        "Tasks that reached a final state since the conductor started, by score and outcome.",
      duration: "orch_task_duration_seconds",
      durationHelp: "Time from start to final state of tasks that started, by score and outcome.",
    });
    this.#jobs = new Counter({
      name: "orch_jobs_finished_total",
      help: "Jobs finished since the conductor started, by aggregate.",
      labelNames: ["aggregate"] as const,
      registers,
    });
    this.#connects = new Counter({
      name: "orch_player_connections_total",
      help: "Player connections accepted (hello accepted) since the conductor started.",
      registers,
    });
    this.#disconnects = new Counter({
      name: "orch_player_disconnections_total",
      help: "Player connections ended since the conductor started.",
      registers,
    });
    this.#commitSeconds = new Histogram({
      name: "orch_store_commit_seconds",
      help: "Time of one store commit (a batch of changes).",
      buckets: COMMIT_BUCKETS,
      registers,
    });
    this.#batchSize = new Histogram({
      name: "orch_store_commit_batch_size",
      help: "Changes (task, job, player and audit records) written by one store commit.",
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.#submits = new Counter({
      name: "orch_submits_total",
      help: "Job submits through the audience API, by result (accepted, refused).",
      labelNames: ["result"] as const,
      registers,
    });
    this.#refusals = new Counter({
      name: "orch_api_refusals_total",
      help: "Audience API requests answered with an error, by HTTP status and error code.",
      labelNames: ["status", "reason"] as const,
      registers,
    });
    peerCounters(
      registers,
      "Player connections closed because the player fell silent past the heartbeat.",
    );
    d.bus.tap((e) => this.#event(e));
  }

  #last = {
    queued: 0,
    oldestAge: 0,
    worstDepth: 0,
    worstAge: 0,
    perHost: new Map<string, { n: number; oldest: number }>(),
    openJobs: new Map<Aggregate, number>(),
  };

  /**
   * The queue of each player, labelled by its name: every listed player (0
   * when nothing waits for it, so a series does not come and go) and any other
   * host tasks wait for. One series per player each: asked for, never default.
   */
  #perPlayerGauges(registers: Registry[]): void {
    const last = () => this.#last;
    const hosts = () => new Set([...this.#d.players.authorised.keys(), ...last().perHost.keys()]);
    const now = () => this.#d.clock.now();
    new Gauge({
      name: "orch_queue_player_depth",
      help: "Tasks queued for each player (metrics_per_player).",
      labelNames: ["player"] as const,
      registers,
      collect() {
        this.reset();
        for (const player of hosts()) this.set({ player }, last().perHost.get(player)?.n ?? 0);
      },
    });
    new Gauge({
      name: "orch_queue_player_oldest_age_seconds",
      help: "Age of the oldest task queued for each player, 0 when none (metrics_per_player).",
      labelNames: ["player"] as const,
      registers,
      collect() {
        this.reset();
        const at = now();
        for (const player of hosts()) {
          const h = last().perHost.get(player);
          this.set({ player }, h ? (at - h.oldest) / 1000 : 0);
        }
      },
    });
  }

  /** One pass over the open tasks: counts by state, and the queue's depth and age. */
  #scan(): { queued: number; assigned: number; running: number } {
    const now = this.#d.clock.now();
    let queued = 0, assigned = 0, running = 0, oldest = now;
    const perHost = new Map<string, { n: number; oldest: number }>();
    for (const t of this.#d.machine.all()) {
      if (t.state === "assigned") assigned++;
      else if (t.state === "running") running++;
      else {
        queued++;
        const at = this.#queuedAt.get(t.id) ?? this.#bootAt;
        if (at < oldest) oldest = at;
        if (t.host !== null) {
          const h = perHost.get(t.host);
          if (h) {
            h.n++;
            if (at < h.oldest) h.oldest = at;
          } else perHost.set(t.host, { n: 1, oldest: at });
        }
      }
    }
    const openJobs = new Map<Aggregate, number>();
    for (const job of this.#d.machine.jobs()) {
      const counts: Partial<Record<TaskState, number>> = {
        succeeded: job.succeeded,
        failed: job.unsucceeded,
      };
      for (const t of job.open) counts[t.state] = (counts[t.state] ?? 0) + 1;
      const aggregate = aggregateOfCounts(counts, job.rollout?.quorum ?? null);
      openJobs.set(aggregate, (openJobs.get(aggregate) ?? 0) + 1);
    }
    let worstDepth = 0, worstOldest = now;
    for (const h of perHost.values()) {
      if (h.n > worstDepth) worstDepth = h.n;
      if (h.oldest < worstOldest) worstOldest = h.oldest;
    }
    this.#last = {
      queued,
      oldestAge: queued > 0 ? (now - oldest) / 1000 : 0,
      worstDepth,
      worstAge: worstDepth > 0 ? (now - worstOldest) / 1000 : 0,
      perHost,
      openJobs,
    };
    return { queued, assigned, running };
  }

  #event(e: Parameters<Parameters<EventBus["tap"]>[0]>[0]): void {
    switch (e.type) {
      case "task.queued":
        this.#queuedAt.set(e.task, e.at);
        break;
      case "task.assigned":
        this.#queuedAt.delete(e.task);
        break;
      case "task.started": {
        const score = this.#d.machine.job(e.job)?.score;
        if (score !== undefined && this.#started.size < MAX_STARTED) {
          this.#started.set(e.task, { at: e.at, score: this.#tasks.label(score) });
        }
        break;
      }
      case "task.finished": {
        this.#queuedAt.delete(e.task);
        const s = this.#started.get(e.task);
        this.#started.delete(e.task);
        const score = s?.score ?? this.#scoreOf(e.job);
        this.#tasks.ended(score, e.state, s ? (e.at - s.at) / 1000 : null);
        break;
      }
      case "job.finished":
        this.#jobs.inc({ aggregate: e.aggregate });
        break;
      case "player.connected":
        this.#connects.inc();
        break;
      case "player.disconnected":
        this.#disconnects.inc();
        break;
    }
  }

  #scoreOf(job: number): string {
    const score = this.#d.machine.job(job)?.score;
    return score === undefined ? "unknown" : this.#tasks.label(score);
  }

  /** Records one store commit: how long it took and how many records it wrote. */
  commit(seconds: number, records: number): void {
    this.#commitSeconds.observe(seconds);
    this.#batchSize.observe(records);
  }

  /** Wraps the audience API handler to count submits and refusals. */
  countApi(handler: ApiHandler): ApiHandler {
    return async (req, ctx) => {
      const res = await handler(req, ctx);
      if (res.status >= 400) {
        this.#refusals.inc({ status: String(res.status), reason: await errorCode(res) });
      }
      if (req.method === "POST" && new URL(req.url).pathname === "/v1/jobs") {
        this.#submits.inc({ result: res.status < 400 ? "accepted" : "refused" });
      }
      return res;
    };
  }
}

/**
 * The error code of an error answer (`{error: {code}}`), one of the API's
 * codes, so the label's values stay few; `other` for anything else.
 */
async function errorCode(res: Response): Promise<string> {
  try {
    const code = (await res.clone().json())?.error?.code;
    return typeof code === "string" && Object.hasOwn(ERROR_CODES, code) ? code : "other";
  } catch {
    return "other";
  }
}
