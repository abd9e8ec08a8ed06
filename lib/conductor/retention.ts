/**
 * Retention: finished jobs older than `retention`, and audit records older
 * than `audit_retention`, are pruned at start and then every ten minutes,
 * and on demand (`POST /v1/prune`).
 *
 * A prune is a run of small batches, each one store write of at most
 * {@linkcode PRUNE_BATCH_ROWS} rows made through the committer (so it is
 * never run beside another write). Between batches the conductor serves
 * whatever came in — submits, results, heartbeats — so that a prune of a
 * large backlog never stalls it; a run that reaches its bound of batches
 * goes on a second later. A job that is not finished is never pruned.
 *
 * @module
 */

import { errorMessage, OrchError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { PruneBody, PruneResponse } from "../protocol/mod.ts";
import type { PruneCount } from "../store/mod.ts";
import type { Clock } from "./clock.ts";
import type { Committer } from "./committer.ts";
import type { Timers } from "./timers.ts";

/**
 * Rows (jobs, tasks, attempts, audit records) one batch removes at most.
 * Measured with 100,000 finished jobs of one task each (1.5 KiB of output)
 * on a shared 2-core machine, each batch an fsync'd commit with its
 * incremental vacuum (`tests/bench/retention_space.ts`): batches of 500
 * rows took 34–44 ms at the median, 61–76 ms at p90; 250 rows about 20 ms,
 * 1,000 rows 40–75 ms and 2,000 rows 60–160 ms. 500 keeps what a batch adds
 * to the commit it shares with submits and results to tens of milliseconds,
 * and prunes 100,000 jobs in 16–20 s.
 */
export const PRUNE_BATCH_ROWS = 500;
/** Time between two periodic runs. */
export const PRUNE_EVERY_MS = 600_000;
/** Batches one periodic run makes at most (a million rows); then it goes on soon after. */
export const PRUNE_BATCHES_PER_RUN = 2000;
/** Wait before a periodic run that stopped at its bound goes on. */
export const PRUNE_AGAIN_MS = 1000;

/** What a prune removed, over all its batches. */
export interface PruneTotals {
  jobs: number;
  tasks: number;
  audit: number;
  batches: number;
  /** It stopped at its bound of batches: more is left. */
  more: boolean;
}

/** What the pruner needs. */
export interface PrunerDeps {
  clock: Clock;
  timers: Timers;
  committer: Committer;
  log: Logger;
  /** Finished jobs older than this (ms) are pruned periodically; 0 keeps every job. */
  retentionMs: number;
  /** Audit records older than this (ms) are pruned periodically; 0 keeps every record. */
  auditRetentionMs: number;
  /** What a prune to `before` would remove (a read of the store). */
  prunable: (before: number) => Promise<{ jobs: number; tasks: number }>;
}

/** Prunes old finished jobs and audit records, periodically and on demand. */
export class Pruner {
  readonly #d: PrunerDeps;
  #running = false;
  #stopped = false;

  constructor(deps: PrunerDeps) {
    this.#d = deps;
  }

  /** Starts the periodic runs, the first at once; nothing when both retentions are off. */
  start(): void {
    if (this.#d.retentionMs <= 0 && this.#d.auditRetentionMs <= 0) return;
    this.#d.timers.at(this.#d.clock.now(), () => void this.#run());
  }

  /** Stops: no batch is started any more. */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * Prunes the jobs finished before `before` (epoch ms) and, unless
   * `auditBefore` is null, the audit records made before it, batch by
   * batch, at most `maxBatches` batches; resolves with what went.
   */
  async prune(
    before: number,
    auditBefore: number | null,
    maxBatches = Number.MAX_SAFE_INTEGER,
  ): Promise<PruneTotals> {
    const totals: PruneTotals = { jobs: 0, tasks: 0, audit: 0, batches: 0, more: true };
    while (totals.more && !this.#stopped) {
      if (totals.batches >= maxBatches) return totals;
      const c: PruneCount = await this.#d.committer.prune({
        before,
        auditBefore,
        maxRows: PRUNE_BATCH_ROWS,
      });
      totals.batches++;
      totals.jobs += c.jobs;
      totals.tasks += c.tasks;
      totals.audit += c.audit;
      totals.more = c.more;
      // Whatever came in meanwhile (submits, results, heartbeats) is served before the next batch.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return totals;
  }

  /**
   * `POST /v1/prune`: prunes the jobs finished before `body.before` now (not
   * the audit trail), or only counts them with `dry_run`; answers once every
   * batch is done. A cutoff later than now is refused.
   */
  async onDemand(body: PruneBody, by: string): Promise<PruneResponse> {
    const d = this.#d;
    const now = d.clock.now();
    if (body.before > now) {
      throw new OrchError(
        "invalid",
        `before: ${iso(body.before)} is later than now (${
          iso(now)
        }); only finished jobs are pruned`,
      );
    }
    if (this.#stopped) throw new OrchError("unavailable", "the conductor is stopping");
    if (body.dry_run) {
      const c = await d.prunable(body.before);
      return { before: body.before, jobs: c.jobs, tasks: c.tasks, dry_run: true };
    }
    const t = await this.prune(body.before, null);
    d.log.info("pruned jobs on demand", {
      by,
      jobs: t.jobs,
      tasks: t.tasks,
      batches: t.batches,
      finished_before: iso(body.before),
    });
    return { before: body.before, jobs: t.jobs, tasks: t.tasks, dry_run: false };
  }

  async #run(): Promise<void> {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    const d = this.#d;
    let next = PRUNE_EVERY_MS;
    try {
      const now = d.clock.now();
      // With job retention off, no job is finished before the earliest time there is.
      const before = d.retentionMs > 0 ? now - d.retentionMs : Number.MIN_SAFE_INTEGER;
      const auditBefore = d.auditRetentionMs > 0 ? now - d.auditRetentionMs : null;
      const t = await this.prune(before, auditBefore, PRUNE_BATCHES_PER_RUN);
      if (t.more && !this.#stopped) next = PRUNE_AGAIN_MS;
      const fields = {
        jobs: t.jobs,
        tasks: t.tasks,
        audit_records: t.audit,
        batches: t.batches,
        finished_before: d.retentionMs > 0 ? iso(before) : "off",
        more: t.more ? "yes" : "no",
      };
      if (t.jobs + t.tasks + t.audit > 0) d.log.info("pruned old jobs", fields);
      else d.log.debug("pruned old jobs", fields);
    } catch (err) {
      if (!this.#stopped) d.log.error("pruning old jobs failed", { error: errorMessage(err) });
    } finally {
      this.#running = false;
      if (!this.#stopped) d.timers.at(d.clock.now() + next, () => void this.#run());
    }
  }
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
