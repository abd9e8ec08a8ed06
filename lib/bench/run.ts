/**
 * One bench run from start to end: the deployment, the conductor, the
 * phases in order, and the teardown that stops everything started and
 * removes the folder, whether the run ends, fails or is interrupted.
 *
 * @module
 */

import { AudienceClient } from "../client/mod.ts";
import { OrchError } from "../errors.ts";
import { ORCH_VERSION } from "../protocol/mod.ts";
import { type BenchContext, Progress } from "./context.ts";
import { ConductorDiedError, ConductorProcess, Deployment } from "./deployment.ts";
import { Fleet, type FleetTarget } from "./fleet.ts";
import {
  allOfPhase,
  checksPhase,
  connectPhase,
  oneOfPhase,
  restartPhase,
  sustainedPhase,
} from "./phases.ts";
import { cpuMs, round, rssKiB } from "./proc_stats.ts";
import type {
  BenchComparison,
  BenchOptions,
  BenchProgress,
  BenchResult,
  StoreBoundFigures,
} from "./result.ts";
import { measureWriteBound } from "../store/mod.ts";
import { emptyBenchDatabase, measurePgWriteBound, prepareBenchDatabase } from "./pg.ts";

/** Grace for the conductor to stop on SIGTERM at the end, before SIGKILL. */
const STOP_GRACE_MS = 10_000;
/** How long a failed run waits to learn whether the conductor died. */
const EXPLAIN_MS = 3_000;

/** What `p` settles to, or undefined after `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The run was interrupted through {@linkcode BenchOptions.signal}. */
export class BenchInterrupted extends OrchError {
  constructor() {
    super("unavailable", "the bench was interrupted");
    this.name = "BenchInterrupted";
  }
}

/**
 * Runs every phase against a conductor of its own and returns the figures.
 * When a phase fails — the conductor dies, or a wait makes no progress —
 * the figures of the phases before it come back with `failure` saying
 * what happened. Rejects with {@linkcode BenchInterrupted} when
 * `opts.signal` aborts. In every case everything it started is stopped,
 * and its folder removed unless `opts.keep`.
 */
export async function runBench(
  opts: BenchOptions,
  onProgress: (p: BenchProgress) => void = () => {},
): Promise<BenchResult> {
  const t0 = performance.now();
  const selfCpu0 = cpuMs("self");
  const run = new Run(opts, new Progress(onProgress));
  const onAbort = () => run.fail(new BenchInterrupted());
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  const dir = await Deno.makeTempDir({ prefix: "orch-bench-" });
  const r: BenchResult = {
    version: ORCH_VERSION,
    store: opts.store?.shown ?? "sqlite",
    settings: {
      players: opts.players,
      slots: opts.slots,
      window_ms: opts.windowMs,
      oneof: opts.oneOf,
      queued: opts.queued,
      heartbeat_ms: opts.heartbeatMs,
    },
    dir: opts.keep ? dir : null,
    failure: null,
    setup: null,
    connect: null,
    all_of: null,
    sustained: null,
    one_of: null,
    memory: { rss_before_kib: null, rss_with_players_kib: null, per_player_kib: null },
    restart: null,
    store_bound: null,
    checks: null,
    bench_cpu_ms: null,
    total_ms: 0,
  };
  try {
    run.progress.phase(
      "setup",
      `making a CA, ${opts.players} player certificates and a players file in ${dir}`,
    );
    const t = performance.now();
    const deployment = await run.guard(Deployment.create(dir, opts.players));
    const certificatesMs = performance.now() - t;
    run.progress.phase("setup", "starting the conductor");
    const conductor = await run.begin(deployment);
    r.setup = {
      certificates_ms: round(certificatesMs),
      conductor_start_ms: round(conductor.readyAt - conductor.spawnedAt),
    };
    const m = r.memory;
    m.rss_before_kib = rssKiB(conductor.pid);
    run.progress.done();

    r.connect = await connectPhase(run);
    m.rss_with_players_kib = rssKiB(run.conductor.pid);
    if (m.rss_before_kib !== null && m.rss_with_players_kib !== null) {
      m.per_player_kib = round((m.rss_with_players_kib - m.rss_before_kib) / opts.players);
    }
    r.all_of = await allOfPhase(run);
    r.sustained = await sustainedPhase(run);
    if (opts.oneOf > 0) r.one_of = await oneOfPhase(run);
    if (opts.queued > 0) r.restart = await restartPhase(run);
    r.checks = await checksPhase(run);
  } catch (caught) {
    if (caught instanceof BenchInterrupted || !(caught instanceof OrchError)) throw caught;
    const err = await run.explain(caught);
    r.failure = {
      phase: run.progress.current,
      message: err.message,
      conductor_log: err instanceof ConductorDiedError ? err.log : null,
    };
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    await run.teardown();
    if (!opts.keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
    // The database is left empty, as the bench found it (also after a failure or an interrupt).
    if (opts.store && (r.failure !== null || opts.signal?.aborted)) {
      await emptyBenchDatabase(opts.store).catch(() => {});
    }
  }
  if (r.failure === null) {
    try {
      r.store_bound = await storeBound(run, r);
    } finally {
      if (opts.store) await emptyBenchDatabase(opts.store).catch(() => {});
    }
  }
  const selfCpu = cpuMs("self");
  r.bench_cpu_ms = selfCpu === null || selfCpu0 === null ? null : round(selfCpu - selfCpu0);
  r.total_ms = round(performance.now() - t0);
  return r;
}

/**
 * The same phases on SQLite, then on the PostgreSQL database `opts.store`,
 * which must be empty — or hold only orch's tables, dropped first when
 * `reset` — else this throws `OrchError("conflict")` before anything runs.
 * The database is left empty again at the end. A failure of the first run
 * does not keep the second from running; an interrupt ends both.
 */
export async function runBenchComparison(
  opts: BenchOptions & { store: NonNullable<BenchOptions["store"]> },
  reset: boolean,
  onProgress: (p: BenchProgress) => void = () => {},
): Promise<BenchComparison> {
  await prepareBenchDatabase(opts.store, reset);
  onProgress({ kind: "store", store: "sqlite" });
  const sqlite = await runBench({ ...opts, store: undefined }, onProgress);
  if (opts.signal?.aborted) throw new BenchInterrupted();
  onProgress({ kind: "store", store: opts.store.shown });
  const postgres = await runBench(opts, onProgress);
  return { sqlite, postgres };
}

/** The store's write bound, measured alone once the conductor is stopped. */
async function storeBound(run: Run, r: BenchResult): Promise<StoreBoundFigures> {
  run.progress.phase("store", "measuring the store alone: batched rows, then whole task lives");
  const dir = await Deno.makeTempDir({ prefix: "orch-bench-store-" });
  try {
    const sizes = { rows: 100_000, tasks: 50_000 };
    const b = run.opts.store
      ? await measurePgWriteBound(run.opts.store, sizes)
      : await measureWriteBound(dir, sizes);
    const orch = r.sustained?.completions_per_s ?? null;
    return {
      rows_per_s: Math.round(b.rows_per_s),
      store_tasks_per_s: Math.round(b.store_tasks_per_s),
      orch_to_store: orch === null ? null : round(orch / b.store_tasks_per_s),
    };
  } finally {
    run.progress.done();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The shared state of one run, as the phases see it. */
class Run implements BenchContext {
  readonly opts: BenchOptions;
  readonly progress: Progress;
  readonly submitted = { jobs: 0, tasks: 0 };
  #deployment: Deployment | null = null;
  #fleet: Fleet | null = null;
  #client: AudienceClient | null = null;
  #conductor: ConductorProcess | null = null;
  #starting: Promise<unknown> | null = null;
  #failure: unknown = null;
  /** Rejects each pending guarded wait. */
  readonly #waiting = new Set<(err: unknown) => void>();
  /** Aborted on failure: a conductor still starting is killed. */
  readonly #stop = new AbortController();

  constructor(opts: BenchOptions, progress: Progress) {
    this.opts = opts;
    this.progress = progress;
  }

  get deployment(): Deployment {
    return this.#deployment!;
  }

  get fleet(): Fleet {
    return this.#fleet!;
  }

  get client(): AudienceClient {
    return this.#client!;
  }

  get conductor(): ConductorProcess {
    return this.#conductor!;
  }

  /** Starts the conductor of `deployment` and makes the simulated players. */
  async begin(deployment: Deployment): Promise<ConductorProcess> {
    this.#deployment = deployment;
    this.#client = new AudienceClient({ kind: "socket", path: deployment.files.socket });
    const c = await this.startConductor(0);
    this.#fleet = new Fleet(deployment);
    return c;
  }

  target(): FleetTarget {
    return {
      port: this.conductor.port,
      slots: this.opts.slots,
      heartbeatMs: this.opts.heartbeatMs,
    };
  }

  async startConductor(port: number): Promise<ConductorProcess> {
    const starting = ConductorProcess.start(
      this.deployment.files,
      port,
      this.opts.heartbeatMs,
      this.#stop.signal,
      this.opts.store,
    );
    this.#starting = starting;
    const c = await this.guard(starting);
    this.#starting = null;
    this.#conductor = c;
    c.died(this.deployment.files).catch((err) => this.fail(err));
    return c;
  }

  guard<T>(p: Promise<T>): Promise<T> {
    if (this.#failure !== null) {
      p.catch(() => {});
      return Promise.reject(this.#failure);
    }
    return new Promise<T>((resolve, reject) => {
      this.#waiting.add(reject);
      p.then(
        (v) => {
          this.#waiting.delete(reject);
          resolve(v);
        },
        (err) => {
          this.#waiting.delete(reject);
          reject(err);
        },
      );
    });
  }

  /** Ends every guarded wait with `err` (the first failure wins). */
  fail(err: unknown): void {
    this.#failure ??= err;
    this.#stop.abort();
    for (const reject of [...this.#waiting]) reject(this.#failure);
    this.#waiting.clear();
  }

  /**
   * The real cause of a failure: a wait that failed because the conductor
   * died (its socket refused, say) fails because the conductor died.
   */
  async explain(err: OrchError): Promise<OrchError> {
    if (this.#failure instanceof ConductorDiedError) return this.#failure;
    const c = this.#conductor;
    if (err instanceof ConductorDiedError || !c) return err;
    const died = await within(c.died(this.deployment.files).catch((e) => e), EXPLAIN_MS);
    return died instanceof ConductorDiedError ? died : err;
  }

  /** Disconnects the players and stops the conductor (or kills one still starting). */
  async teardown(): Promise<void> {
    this.#fleet?.stop();
    if (this.#starting) {
      this.#stop.abort();
      await this.#starting.catch(() => {});
    }
    await this.#conductor?.stop(STOP_GRACE_MS);
  }
}
