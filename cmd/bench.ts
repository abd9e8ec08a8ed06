/**
 * `orch bench --players K`: benchmarks the conductor against K simulated
 * players, in a throwaway deployment of its own; prints the figures.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import {
  BenchInterrupted,
  type BenchOptions,
  type BenchProgress,
  type BenchResult,
  runBench,
} from "../lib/bench/mod.ts";
import { OrchError } from "../lib/errors.ts";
import { LIMITS } from "../lib/protocol/mod.ts";
import { err, EXIT, exitState, out } from "./_common.ts";
import { durationFlag } from "./submit.ts";

/** Exit status when SIGINT or SIGTERM ended the run. */
const EXIT_INTERRUPTED = 130;
/** Most tasks queued for the restart phase, and most jobs to queue them. */
const MAX_QUEUED = 1_000_000;
const MAX_QUEUE_JOBS = 100_000;

/** A whole number flag within `min..max`. */
function count(flag: string, text: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new OrchError(
      "usage",
      `${flag} ${JSON.stringify(text)} is not a whole number from ${min} to ${max}`,
    );
  }
  return Number(text);
}

/** A duration flag within `minMs..maxMs`. */
function duration(flag: string, text: string, minMs: number, maxMs: number): number {
  const ms = durationFlag(flag, text);
  if (ms < minMs || ms > maxMs) {
    throw new OrchError(
      "usage",
      `${flag} ${JSON.stringify(text)} is out of range: from ${minMs}ms to ${maxMs / 1000}s`,
    );
  }
  return ms;
}

/** The options of a run, from the flags; throws a usage error naming the flag. */
export function benchOptions(opts: {
  players: string;
  slots: string;
  window: string;
  oneof: string;
  queued: string;
  heartbeat: string;
  keep?: boolean;
}): BenchOptions {
  const players = count("--players", opts.players, 1, LIMITS.maxTargets);
  const queued = count("--queued", opts.queued, 0, MAX_QUEUED);
  if (Math.ceil(queued / players) > MAX_QUEUE_JOBS) {
    throw new OrchError(
      "usage",
      `--queued ${queued} with --players ${players} needs ${
        Math.ceil(queued / players)
      } jobs; at most ${MAX_QUEUE_JOBS}`,
      { hint: "queue fewer tasks, or simulate more players" },
    );
  }
  return {
    players,
    slots: count("--slots", opts.slots, 1, LIMITS.maxSlots),
    windowMs: duration("--window", opts.window, 100, 3_600_000),
    oneOf: count("--oneof", opts.oneof, 0, 100_000),
    queued,
    heartbeatMs: duration("--heartbeat", opts.heartbeat, 300, 3_600_000),
    keep: !!opts.keep,
  };
}

/** `orch bench`. */
export function benchCommand(): CommandUnknownOpts {
  const cmd = new Command("bench")
    .description(
      "benchmark the conductor against simulated players, in a throwaway deployment of its own",
    )
    .requiredOption("--players <k>", `simulated players (1..${LIMITS.maxTargets})`)
    .option("--json", "print the figures as one JSON object")
    .option("--window <duration>", "length of the sustained-load phase", "10s")
    .option("--oneof <n>", "one-of jobs in the latency phase (0 skips it)", "200")
    .option(
      "--queued <q>",
      "tasks queued before the conductor is killed and restarted (0 skips it)",
      "100000",
    )
    .option("--heartbeat <duration>", "the conductor's and the players' heartbeat", "15s")
    .option("--slots <n>", "slots each simulated player announces", "4")
    .option("--keep", "keep the deployment folder and the conductor's log");
  cmd.action(async (flags) => {
    const opts = benchOptions(flags);
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    for (const s of signals) Deno.addSignalListener(s, onSignal);
    const progress = progressPrinter(Deno.stderr.isTerminal());
    let result: BenchResult;
    try {
      result = await runBench({ ...opts, signal: stop.signal }, progress);
    } catch (e) {
      progress.end();
      if (stop.signal.aborted || e instanceof BenchInterrupted) {
        err("orch bench: interrupted; everything it started is stopped");
        exitState.code = EXIT_INTERRUPTED;
        return;
      }
      throw e;
    } finally {
      for (const s of signals) Deno.removeSignalListener(s, onSignal);
    }
    progress.end();
    if (flags.json) out(JSON.stringify(result, null, 2));
    else for (const line of formatBench(result)) out(line);
    const f = result.failure;
    if (f) {
      err(`orch bench: ${f.phase}: ${printable(f.message)}`);
      if (f.conductor_log) err(`the conductor's last log lines:\n${indent(f.conductor_log)}`);
      if (!opts.keep) {
        err("hint: run with --keep to keep the deployment and the conductor's whole log");
      }
      exitState.code = EXIT.internal;
    }
  });
  return cmd;
}

/** Prints progress on stderr: a line per phase; counts redraw one line on a terminal. */
function progressPrinter(tty: boolean): ((p: BenchProgress) => void) & { end(): void } {
  let drawn = false;
  const clear = () => {
    if (drawn) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
    drawn = false;
  };
  const print = (p: BenchProgress) => {
    if (p.kind === "phase") {
      clear();
      err(`orch bench: ${p.phase}: ${p.text}`);
    } else if (p.kind === "count") {
      const line = `  ${p.done}/${p.total} ${p.what}`;
      if (tty) {
        Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[K${line}`));
        drawn = true;
      } else err(line);
    } else clear();
  };
  return Object.assign(print, { end: clear });
}

const n = (v: number) => v.toLocaleString("en-US", { maximumFractionDigits: 1 });
const opt = (v: number | null, unit: string) => (v === null ? "n/a" : `${n(v)} ${unit}`);

/** The figures as a person reads them; phases that did not run are left out. */
export function formatBench(r: BenchResult): string[] {
  const s = r.settings;
  const lines = [
    `orch bench ${r.version}: ${n(s.players)} simulated players, ${s.slots} slots each, heartbeat ${
      n(s.heartbeat_ms)
    } ms`,
    "",
  ];
  if (r.setup) {
    lines.push(
      `setup      certificates ${n(r.setup.certificates_ms)} ms; conductor ready ${
        n(r.setup.conductor_start_ms)
      } ms after spawn`,
    );
  }
  const c = r.connect;
  if (c) {
    lines.push(
      `connect    ${n(c.players)} players welcomed ${n(c.ms)} ms after ready (${n(c.per_s)}/s); ` +
        `conductor CPU ${opt(c.conductor_cpu_ms_per_connect, "ms")} per connect`,
    );
  }
  const a = r.all_of;
  if (a) {
    lines.push(
      `all-of     ${n(a.tasks)} tasks: submit answered in ${
        n(a.submit_ms)
      } ms, finished (long poll) ` +
        `after ${n(a.complete_ms)} ms, last result acknowledged after ${n(a.last_ack_ms)} ms`,
      `           worst /v1/health ${n(a.health_worst_ms)} ms (${a.health_polls} polls); ` +
        `${n(a.completed)} succeeded, ${a.dropped} dropped, ${a.dispatched_twice} dispatched twice`,
    );
  }
  const w = r.sustained;
  if (w) {
    lines.push(
      `sustained  ${n(w.completions_per_s)} completions/s over ${n(w.window_ms)} ms ` +
        `(${n(w.jobs)} jobs, ${w.in_flight} in flight); conductor ${
          opt(w.conductor_cores, "cores")
        }, bench ${opt(w.bench_cores, "cores")}`,
      `           then ${n(w.drained)} more in the ${
        n(w.drain_ms)
      } ms the jobs in flight took to finish; ${w.dropped} dropped, ${w.dispatched_twice} dispatched twice`,
    );
  }
  const o = r.one_of;
  if (o) {
    lines.push(
      `one-of     ${n(o.jobs)} jobs on ${o.targets} targets: p50 ${n(o.p50_ms)} ms, ` +
        `p99 ${n(o.p99_ms)} ms, max ${n(o.max_ms)} ms`,
    );
  }
  const m = r.memory;
  if (m.rss_before_kib !== null) {
    lines.push(
      `memory     conductor RSS ${opt(m.rss_before_kib, "KiB")} before players, ${
        opt(m.rss_with_players_kib, "KiB")
      } with them: ${opt(m.per_player_kib, "KiB")} per player`,
    );
  }
  const q = r.restart;
  if (q) {
    lines.push(
      `restart    ${n(q.queued)} tasks queued (${n(q.jobs)} jobs); RSS ${
        opt(q.rss_before_kill_kib, "KiB")
      } before kill -9`,
      `           ready ${n(q.ready_ms)} ms after spawn, RSS ${
        opt(q.rss_after_ready_kib, "KiB")
      }; players back after ${n(q.reconnect_ms)} ms`,
      `           ${n(q.dispatched)} tasks run in ${n(q.dispatch_ms)} ms: ${
        n(q.dispatch_per_s)
      } tasks/s`,
    );
  }
  const k = r.checks;
  if (k) {
    lines.push(
      `checks     ${n(k.jobs)} jobs, ${n(k.tasks)} tasks submitted; ${n(k.jobs_listed)} jobs ` +
        `listed, ${n(k.jobs_not_success)} not successful; ${n(k.tasks_succeeded)} tasks ` +
        `succeeded; ${n(k.results_acknowledged)} results acknowledged; ${k.dropped} dropped; ` +
        `${k.dispatched_twice} dispatched twice`,
    );
    for (const reason of k.drop_reasons) lines.push(`           dropped: ${printable(reason)}`);
  }
  const b = r.store_bound;
  if (b) {
    lines.push(
      `store      alone: ${n(b.rows_per_s)} rows/s batched (the raw bound), ${
        n(b.store_tasks_per_s)
      } task lives/s; orch sustained ${
        b.orch_to_store === null ? "-" : `${b.orch_to_store}×`
      } of that`,
    );
  }
  const phases = [["connect", c], ["all-of", a], ["sustained", w], ["one-of", o], ["restart", q]]
    .flatMap(([name, p]) =>
      p && typeof p === "object" && "cpu" in p ? [`${name} ${opt(p.cpu.bench_ms, "ms")}`] : []
    );
  lines.push(
    `bench CPU  ${opt(r.bench_cpu_ms, "ms")} over ${n(r.total_ms)} ms` +
      (phases.length > 0 ? ` (${phases.join(", ")})` : ""),
  );
  if (r.failure) lines.push(`failed     in ${r.failure.phase}: ${printable(r.failure.message)}`);
  if (r.dir) lines.push(`kept       ${r.dir}`);
  return lines;
}

/** `text` with control characters escaped, safe for a terminal. */
function printable(text: string): string {
  return text.replace(
    // deno-lint-ignore no-control-regex -- control characters must not reach a terminal
    /[\x00-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

function indent(text: string): string {
  return text.split("\n").map((l) => `  ${l}`).join("\n");
}
