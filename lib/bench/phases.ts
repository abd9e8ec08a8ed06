/**
 * The measuring phases of `orch bench`, in the order they run: connect,
 * one all-of job, sustained load, one-of latency, and a restart with
 * queued tasks; then the checks read back from the conductor.
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import type { JobViewJson as JobView } from "../protocol/mod.ts";
import { answer, type BenchContext, submitBench } from "./context.ts";
import { STALL_MS } from "./fleet.ts";
import { CpuMeter, cpuMs, type CpuUse, round, rssKiB } from "./proc_stats.ts";
import type {
  AllOfFigures,
  BenchChecks,
  ConnectFigures,
  OneOfFigures,
  RestartFigures,
  SustainedFigures,
} from "./result.ts";

/** How often the health endpoint is polled during the all-of phase. */
const HEALTH_EVERY_MS = 50;
/** One long poll of the job API. */
const POLL_MS = 5_000;
/** Tasks kept in flight during the sustained phase, in whole jobs: enough to keep the conductor busy. */
const SUSTAINED_TASKS = 2000;
/** Fewest and most jobs in flight during the sustained phase. */
const SUSTAINED_JOBS = { min: 4, max: 100 };
/** Targets of each one-of job at most. */
const ONE_OF_TARGETS = 100;
/** Submits in flight while tasks are queued for the restart. */
const QUEUE_CONCURRENCY = 8;
/** Jobs listed per page when the run is checked. */
const PAGE = 1000;
/** Longest wait for the conductor to see the players gone, and for graceful stops. */
const SETTLE_MS = 60_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Connects every simulated player; measures from the conductor's ready line to the last welcome. */
export async function connectPhase(ctx: BenchContext): Promise<ConnectFigures> {
  const k = ctx.opts.players;
  ctx.progress.phase("connect", `connecting ${k} simulated players over mutual TLS`);
  const meter = new CpuMeter(ctx.conductor.pid);
  await ctx.guard(
    ctx.fleet.connectAll(ctx.target(), (n) => ctx.progress.count(n, k, "players welcomed")),
  );
  const ms = performance.now() - ctx.conductor.readyAt;
  const cpu = meter.read();
  ctx.progress.done();
  return {
    players: k,
    ms: round(ms),
    per_s: round(k / (ms / 1000)),
    conductor_cpu_ms_per_connect: cpu.conductor_ms === null
      ? null
      : Math.round((cpu.conductor_ms / k) * 1000) / 1000,
    cpu,
  };
}

/** One all-of job on every player, with the health endpoint polled throughout. */
export async function allOfPhase(ctx: BenchContext): Promise<AllOfFigures> {
  const { fleet, deployment } = ctx;
  const k = ctx.opts.players;
  ctx.progress.phase("all-of", `one all-of job on all ${k} players`);
  const meter = new CpuMeter(ctx.conductor.pid);
  const dropped0 = fleet.dropped;
  const twice0 = fleet.twice;
  let polling = true;
  let worst = 0;
  let polls = 0;
  const health = (async () => {
    while (polling) {
      const t = performance.now();
      await answer(ctx, ctx.client.health(), "a health request");
      worst = Math.max(worst, performance.now() - t);
      polls++;
      await sleep(HEALTH_EVERY_MS);
    }
  })();
  try {
    const t0 = performance.now();
    const id = await submitBench(ctx, "all", deployment.names);
    const submitMs = performance.now() - t0;
    const counting = setInterval(() => ctx.progress.count(fleet.jobAcks(id), k, "tasks done"), 250);
    let job: JobView;
    try {
      job = await waitFinished(ctx, id);
    } finally {
      clearInterval(counting);
    }
    const completeMs = performance.now() - t0;
    await ctx.guard(fleet.until(() => fleet.jobAcks(id) >= k, `the results of job ${id}`));
    ctx.progress.count(k, k, "tasks done");
    const lastAckMs = fleet.lastAckAt - t0;
    fleet.forgetJob(id);
    polling = false;
    await ctx.guard(health);
    ctx.progress.done();
    return {
      tasks: k,
      submit_ms: round(submitMs),
      complete_ms: round(completeMs),
      last_ack_ms: round(lastAckMs),
      completed: job.counts.succeeded ?? 0,
      dropped: fleet.dropped - dropped0,
      dispatched_twice: fleet.twice - twice0,
      health_worst_ms: round(worst),
      health_polls: polls,
      cpu: meter.read(),
    };
  } finally {
    polling = false;
    health.catch(() => {});
  }
}

/** Long-polls job `id` until it is finished; fails when nothing happens for a long time. */
async function waitFinished(ctx: BenchContext, id: number): Promise<JobView> {
  const since = performance.now();
  for (;;) {
    const job = await answer(ctx, ctx.client.waitJob(id, { timeoutMs: POLL_MS }), `job ${id}`);
    if (job.finished_at !== null) return job;
    if (ctx.fleet.quietMs(since) > STALL_MS) {
      throw new OrchError(
        "timeout",
        `job ${id} is not finished, and no task ended for ${Math.round(STALL_MS / 1000)}s`,
      );
    }
  }
}

/** All-of jobs on every player back to back for the window, a few in flight. */
export async function sustainedPhase(ctx: BenchContext): Promise<SustainedFigures> {
  const { fleet, deployment } = ctx;
  const k = ctx.opts.players;
  const windowMs = ctx.opts.windowMs;
  const inFlightJobs = Math.min(
    SUSTAINED_JOBS.max,
    Math.max(SUSTAINED_JOBS.min, Math.ceil(SUSTAINED_TASKS / k)),
  );
  ctx.progress.phase(
    "sustained",
    `all-of jobs back to back for ${windowMs / 1000}s, ${inFlightJobs} in flight`,
  );
  const dropped0 = fleet.dropped;
  const twice0 = fleet.twice;
  const acks0 = fleet.acks;
  const meter = new CpuMeter(ctx.conductor.pid);
  const t0 = performance.now();
  let atEnd: { acks: number; cpu: CpuUse } | null = null;
  let over = false;
  let windowTimer: ReturnType<typeof setTimeout> | undefined;
  const window = new Promise<void>((resolve) =>
    windowTimer = setTimeout(() => {
      atEnd = { acks: fleet.acks, cpu: meter.read() };
      over = true;
      resolve();
    }, windowMs)
  );
  const counting = setInterval(() => {
    const elapsed = meter.read().wall_ms;
    if (elapsed < windowMs) {
      ctx.progress.count(Math.round(elapsed / 100) / 10, windowMs / 1000, "s");
    }
  }, 250);
  const inFlight = new Set<Promise<void>>();
  let jobs = 0;
  let drainedAt = 0;
  const runJob = async () => {
    const id = await submitBench(ctx, "all", deployment.names);
    await ctx.guard(fleet.until(() => fleet.jobAcks(id) >= k, `the results of job ${id}`));
    fleet.forgetJob(id);
  };
  try {
    while (!over) {
      while (!over && inFlight.size < inFlightJobs) {
        jobs++;
        const p: Promise<void> = runJob().finally(() => inFlight.delete(p));
        p.catch(() => {}); // its failure is seen by the race or the wait below
        inFlight.add(p);
      }
      await ctx.guard(Promise.race([...inFlight, window]));
    }
    // Let the jobs still in flight finish, so that the next phase starts idle.
    await ctx.guard(Promise.all(inFlight));
    drainedAt = performance.now();
  } finally {
    clearInterval(counting);
    clearTimeout(windowTimer);
  }
  ctx.progress.count(windowMs / 1000, windowMs / 1000, "s");
  const end = atEnd ?? { acks: fleet.acks, cpu: meter.read() };
  const cpu = end.cpu;
  const seconds = cpu.wall_ms / 1000;
  ctx.progress.done();
  return {
    window_ms: cpu.wall_ms,
    jobs,
    in_flight: inFlightJobs,
    completions: end.acks - acks0,
    completions_per_s: round((end.acks - acks0) / seconds),
    drain_ms: round(drainedAt - t0 - cpu.wall_ms),
    drained: fleet.acks - end.acks,
    conductor_cores: cpu.conductor_ms === null ? null : round2(cpu.conductor_ms / cpu.wall_ms),
    bench_cores: cpu.bench_ms === null ? null : round2(cpu.bench_ms / cpu.wall_ms),
    dropped: fleet.dropped - dropped0,
    dispatched_twice: fleet.twice - twice0,
    cpu,
  };
}

/** One-of jobs one after another; submit → finished as the audience client sees it. */
export async function oneOfPhase(ctx: BenchContext): Promise<OneOfFigures> {
  const n = ctx.opts.oneOf;
  const { fleet } = ctx;
  const targets = ctx.deployment.names.slice(0, ONE_OF_TARGETS);
  ctx.progress.phase("one-of", `${n} one-of jobs, one at a time, on ${targets.length} targets`);
  const meter = new CpuMeter(ctx.conductor.pid);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const id = await submitBench(ctx, "one", targets);
    const job = await waitFinished(ctx, id);
    times.push(performance.now() - t0);
    // The answer may come before the acknowledgement of its result: the phase ends with none owed.
    // (A job that did not succeed has no result to acknowledge; the checks count it.)
    if (job.aggregate === "success") {
      await ctx.guard(fleet.until(() => fleet.jobAcks(id) >= 1, `the result of job ${id}`));
    }
    fleet.forgetJob(id);
    ctx.progress.count(i + 1, n, "jobs");
  }
  times.sort((a, b) => a - b);
  ctx.progress.done();
  return {
    jobs: n,
    targets: targets.length,
    p50_ms: round(percentile(times, 50)),
    p99_ms: round(percentile(times, 99)),
    max_ms: round(times[times.length - 1]),
    cpu: meter.read(),
  };
}

/** The nearest-rank `p`th percentile of sorted `values`. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * With no player connected, queues `--queued` tasks, kills the conductor
 * with SIGKILL, starts it again on the same database and port, and lets
 * the players back in to run them all.
 */
export async function restartPhase(ctx: BenchContext): Promise<RestartFigures> {
  const { fleet, deployment, client } = ctx;
  const q = ctx.opts.queued;
  const k = ctx.opts.players;
  ctx.progress.phase("restart", `queueing ${q} tasks with every player away`);
  const meter = new CpuMeter(ctx.conductor.pid);
  // Every result so far acknowledged first: none is sent again (and counted) after the restart.
  await ctx.guard(fleet.until(() => fleet.unacknowledged === 0, "every result acknowledged"));
  fleet.closeAll();
  await ctx.guard(untilHealth(ctx, (h) => h.players === 0, "every player gone"));
  const dropped0 = fleet.dropped;
  const twice0 = fleet.twice;
  // Whole jobs on every player, and one on the first (Q mod K) players for the rest.
  const batches: string[][] = [];
  for (let i = 0; i < Math.floor(q / k); i++) batches.push(deployment.names);
  if (q % k > 0) batches.push(deployment.names.slice(0, q % k));
  let next = 0;
  let queued = 0;
  const submitter = async () => {
    while (next < batches.length) {
      const targets = batches[next++];
      await submitBench(ctx, "all", targets);
      queued += targets.length;
      ctx.progress.count(queued, q, "tasks queued");
    }
  };
  await Promise.all(Array.from({ length: Math.min(QUEUE_CONCURRENCY, batches.length) }, submitter));
  const open = Number((await answer(ctx, client.health(), "a health request")).open_tasks);
  const rssBeforeKill = rssKiB(ctx.conductor.pid);
  const beforeKill = meter.read();

  ctx.progress.phase(
    "restart",
    `kill -9 of the conductor with ${open} open tasks; starting it again`,
  );
  await ctx.conductor.kill9();
  const again = await ctx.startConductor(ctx.conductor.port);
  const readyMs = again.readyAt - again.spawnedAt;
  const rssAfterReady = rssKiB(again.pid);

  ctx.progress.phase("restart", `reconnecting ${k} players; running the ${q} queued tasks`);
  const acks0 = fleet.acks;
  let firstAssign = 0;
  fleet.onNextAssign((at) => (firstAssign = at));
  await ctx.guard(fleet.connectAll(ctx.target(), (n) => ctx.progress.count(n, k, "players back")));
  const reconnectMs = performance.now() - again.readyAt;
  const counting = setInterval(() => ctx.progress.count(fleet.acks - acks0, q, "tasks done"), 250);
  try {
    await ctx.guard(fleet.until(() => fleet.acks - acks0 >= q, `the ${q} queued tasks`));
  } finally {
    clearInterval(counting);
  }
  ctx.progress.count(q, q, "tasks done");
  const dispatchMs = fleet.lastAckAt - firstAssign;
  const dispatched = fleet.acks - acks0;
  // The conductor's CPU: the first one's until it was killed, and all of the second one's.
  const whole = meter.read();
  const second = cpuMs(again.pid);
  const cpu: CpuUse = {
    ...whole,
    conductor_ms: beforeKill.conductor_ms === null || second === null
      ? null
      : round(beforeKill.conductor_ms + second),
  };
  ctx.progress.done();
  return {
    queued: q,
    jobs: batches.length,
    open_tasks_before_kill: open,
    rss_before_kill_kib: rssBeforeKill,
    ready_ms: round(readyMs),
    rss_after_ready_kib: rssAfterReady,
    reconnect_ms: round(reconnectMs),
    dispatched,
    dispatch_ms: round(dispatchMs),
    dispatch_per_s: round(dispatched / Math.max(dispatchMs, 1) * 1000),
    dropped: fleet.dropped - dropped0,
    dispatched_twice: fleet.twice - twice0,
    cpu,
  };
}

/** Polls the health endpoint until `ok` holds, for at most {@linkcode SETTLE_MS}. */
async function untilHealth(
  ctx: BenchContext,
  ok: (h: Record<string, unknown>) => boolean,
  what: string,
): Promise<void> {
  const deadline = performance.now() + SETTLE_MS;
  while (!ok(await answer(ctx, ctx.client.health(), "a health request"))) {
    if (performance.now() > deadline) {
      throw new OrchError(
        "timeout",
        `the conductor did not report ${what} within ${SETTLE_MS / 1000}s`,
      );
    }
    await sleep(HEALTH_EVERY_MS);
  }
}

/** Reads every job back from the conductor and counts what ended how. */
export async function checksPhase(ctx: BenchContext): Promise<BenchChecks> {
  const { fleet } = ctx;
  ctx.progress.phase("checks", "reading every job back from the conductor");
  let listed = 0;
  let notSuccess = 0;
  let succeeded = 0;
  let before: number | undefined;
  for (;;) {
    const page = await answer(ctx, ctx.client.jobs(PAGE, before), "the list of jobs");
    for (const j of page) {
      listed++;
      if (j.aggregate !== "success") notSuccess++;
      succeeded += j.counts.succeeded ?? 0;
    }
    ctx.progress.count(listed, ctx.submitted.jobs, "jobs read");
    if (page.length < PAGE) break;
    before = page[page.length - 1].id;
  }
  ctx.progress.done();
  return {
    jobs: ctx.submitted.jobs,
    jobs_listed: listed,
    jobs_not_success: notSuccess,
    tasks: ctx.submitted.tasks,
    tasks_succeeded: succeeded,
    results_acknowledged: fleet.acks,
    dropped: fleet.dropped,
    drop_reasons: [...fleet.dropReasons],
    dispatched_twice: fleet.twice,
  };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
