/**
 * What `orch bench` is asked to do, what it reports while it runs, and the
 * figures it hands back (printed as JSON with `--json`). Times are in ms,
 * rates per second, memory in KiB.
 *
 * @module
 */

import type { BenchPgStore } from "./pg.ts";
import type { CpuUse } from "./proc_stats.ts";

/** The settings of a bench run. */
export interface BenchOptions {
  /** Simulated players (1..10000). */
  players: number;
  /** Slots each simulated player announces. */
  slots: number;
  /** Length of the sustained phase, ms. */
  windowMs: number;
  /** One-of jobs in the latency phase; 0 skips it. */
  oneOf: number;
  /** Tasks queued before the conductor is killed and restarted; 0 skips that phase. */
  queued: number;
  /** The conductor's (and the simulated players') heartbeat, ms. */
  heartbeatMs: number;
  /** Keep the deployment folder (and the conductor's log) instead of removing it. */
  keep: boolean;
  /** Run on this PostgreSQL database instead of a SQLite file in the deployment folder. */
  store?: BenchPgStore;
  /** Aborting it stops the run: everything started is stopped, the folder removed. */
  signal?: AbortSignal;
}

/** The phases, in the order they run. */
export type PhaseName =
  | "setup"
  | "connect"
  | "all-of"
  | "sustained"
  | "one-of"
  | "restart"
  | "checks"
  | "store";

/** The conductor's store alone, and orch against it. */
export interface StoreBoundFigures {
  /**
   * The raw bound: task-sized rows written per second with batched
   * multi-row statements, 2,000 per fsync'd commit, in a scratch database.
   */
  rows_per_s: number;
  /** Whole task lives (inserted, assigned, finished with a result) per second through the store alone. */
  store_tasks_per_s: number;
  /** orch's sustained completions per second over `store_tasks_per_s` (1 = as fast as its store). */
  orch_to_store: number | null;
}

/** What the bench reports while it runs. */
export type BenchProgress =
  /** A run on one store begins (when the bench compares two). */
  | { kind: "store"; store: string }
  /** A phase begins; `text` says what it does. */
  | { kind: "phase"; phase: PhaseName; text: string }
  /** Progress within a phase; sent at most every half second, and once at the end. */
  | { kind: "count"; phase: PhaseName; done: number; total: number; what: string }
  /** A phase is over. */
  | { kind: "done"; phase: PhaseName };

/** Figures of the connect phase. */
export interface ConnectFigures {
  /** Simulated players connected. */
  players: number;
  /** From the conductor's ready line to the last player welcomed. */
  ms: number;
  /** Players welcomed per second over that time. */
  per_s: number;
  /** The conductor's CPU time per connection (TLS handshake, hello, welcome); null without /proc. */
  conductor_cpu_ms_per_connect: number | null;
  cpu: CpuUse;
}

/** Figures of one all-of job on every player. */
export interface AllOfFigures {
  /** Tasks in the job (one per player). */
  tasks: number;
  /** Until the submit was answered (the job durable). */
  submit_ms: number;
  /** From the submit to the API's long poll answering with the job finished. */
  complete_ms: number;
  /** From the submit to the last result acknowledged to a simulated player. */
  last_ack_ms: number;
  /** Tasks that ended `succeeded`. */
  completed: number;
  /** Simulated players whose connection closed during the phase. */
  dropped: number;
  /** Assignments of a task a simulated player had been given before. */
  dispatched_twice: number;
  /** Slowest `GET /v1/health` answer while the job ran, polled every 50 ms. */
  health_worst_ms: number;
  /** Health answers measured. */
  health_polls: number;
  cpu: CpuUse;
}

/** Figures of the sustained phase: all-of jobs back to back for the window. */
export interface SustainedFigures {
  /** The window as measured. */
  window_ms: number;
  /** Jobs submitted during the window (each on every player). */
  jobs: number;
  /** Jobs kept in flight at once. */
  in_flight: number;
  /** Results acknowledged to simulated players during the window. */
  completions: number;
  /** The same per second. */
  completions_per_s: number;
  /** After the window, until the jobs still in flight finished. */
  drain_ms: number;
  /** Results acknowledged in that time. */
  drained: number;
  /** The conductor's CPU use over the window, in cores (1 = one core busy); null without /proc. */
  conductor_cores: number | null;
  /** The bench process's own CPU use over the window, in cores; null without /proc. */
  bench_cores: number | null;
  /** Simulated players dropped during the phase. */
  dropped: number;
  /** Tasks assigned twice during the phase. */
  dispatched_twice: number;
  cpu: CpuUse;
}

/** Figures of the one-of latency phase at low load. */
export interface OneOfFigures {
  /** One-of jobs, one after another. */
  jobs: number;
  /** Targets each job names (every player, or the first 100). */
  targets: number;
  /** Submit to finished, as the audience client sees it: median. */
  p50_ms: number;
  /** 99th percentile. */
  p99_ms: number;
  /** Slowest. */
  max_ms: number;
  cpu: CpuUse;
}

/** The conductor's resident memory. */
export interface MemoryFigures {
  /** Once ready, before any player connected; null without /proc. */
  rss_before_kib: number | null;
  /** With every simulated player connected and idle; null without /proc. */
  rss_with_players_kib: number | null;
  /** (with − before) / players; null without /proc. */
  per_player_kib: number | null;
}

/** Figures of the restart with queued tasks. */
export interface RestartFigures {
  /** Tasks queued while no player was connected. */
  queued: number;
  /** All-of jobs submitted to queue them. */
  jobs: number;
  /** Open tasks the conductor reported before it was killed. */
  open_tasks_before_kill: number;
  /** The conductor's memory before kill -9; null without /proc. */
  rss_before_kill_kib: number | null;
  /** From spawning the conductor again to its ready line. */
  ready_ms: number;
  /** Its memory once ready; null without /proc. */
  rss_after_ready_kib: number | null;
  /** From its ready line to every player welcomed again. */
  reconnect_ms: number;
  /** Queued tasks whose results were acknowledged after the restart. */
  dispatched: number;
  /** From the first assignment after the restart to the last queued task's result acknowledged. */
  dispatch_ms: number;
  /** `dispatched` per second over `dispatch_ms`. */
  dispatch_per_s: number;
  /** Simulated players dropped during the phase (the deliberate disconnect not counted). */
  dropped: number;
  /** Tasks assigned twice during the phase. */
  dispatched_twice: number;
  cpu: CpuUse;
}

/** Correctness facts over the whole run, read back from the conductor's API at the end. */
export interface BenchChecks {
  /** Jobs the bench submitted. */
  jobs: number;
  /** Jobs the conductor lists. */
  jobs_listed: number;
  /** Listed jobs whose aggregate is not `success`. */
  jobs_not_success: number;
  /** Tasks the bench submitted. */
  tasks: number;
  /** Tasks the conductor counts as `succeeded`. */
  tasks_succeeded: number;
  /** Results acknowledged to simulated players. */
  results_acknowledged: number;
  /** Simulated players dropped over the run. */
  dropped: number;
  /** Why they dropped (the first few distinct reasons). */
  drop_reasons: string[];
  /** Tasks assigned twice over the run. */
  dispatched_twice: number;
}

/** Why a run ended early. */
export interface BenchFailure {
  /** The phase that failed. */
  phase: PhaseName;
  /** What happened. */
  message: string;
  /** The conductor's last log lines when it died (control characters escaped), else null. */
  conductor_log: string | null;
}

/** Two runs of the same phases, one per store (`orch bench --store postgres://…`). */
export interface BenchComparison {
  sqlite: BenchResult;
  postgres: BenchResult;
}

/** Everything `orch bench` measured. A phase that did not run (skipped, or after a failure) is null. */
export interface BenchResult {
  /** The orch version benchmarked (bench and conductor run the same program). */
  version: string;
  /** The conductor's store: `sqlite`, or the PostgreSQL database as messages show it. */
  store: string;
  /** The settings of the run. */
  settings: {
    players: number;
    slots: number;
    window_ms: number;
    oneof: number;
    queued: number;
    heartbeat_ms: number;
  };
  /** The deployment folder, when kept with `--keep`; else null (it was removed). */
  dir: string | null;
  /** Null when every phase ran; else why the run ended early (exit status 1). */
  failure: BenchFailure | null;
  /** Making the CA and every certificate; the conductor's first start (spawn to ready). */
  setup: { certificates_ms: number; conductor_start_ms: number } | null;
  connect: ConnectFigures | null;
  all_of: AllOfFigures | null;
  sustained: SustainedFigures | null;
  /** Also null when skipped (`--oneof 0`). */
  one_of: OneOfFigures | null;
  memory: MemoryFigures;
  /** Also null when skipped (`--queued 0`). */
  restart: RestartFigures | null;
  /** The conductor's store measured alone, once the conductor is stopped; null after a failure. */
  store_bound: StoreBoundFigures | null;
  checks: BenchChecks | null;
  /** CPU time the bench process itself used over the whole run, ms; null without /proc. */
  bench_cpu_ms: number | null;
  /** Wall-clock time of the whole run, ms. */
  total_ms: number;
}
