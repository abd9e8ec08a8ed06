/**
 * `orch bench --players K`: benchmarks the conductor against K simulated
 * players, in a throwaway deployment of its own; prints the figures.
 *
 * @module
 */

import { command, type Input } from "../lib/cli/spec.ts";
import {
  type BenchComparison,
  BenchInterrupted,
  type BenchOptions,
  type BenchPgStore,
  type BenchProgress,
  type BenchResult,
  runBench,
  runBenchComparison,
} from "../lib/bench/mod.ts";
import { parseStoreSpec, shownStore, storeConnection } from "../lib/config/mod.ts";
import { OrchError } from "../lib/errors.ts";
import { LIMITS } from "../lib/protocol/mod.ts";
import { err, EXIT, exitState, out, printJson } from "./_common.ts";
import { summaryOf } from "./_commands.ts";
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
export function benchOptions(
  input: Input<"players" | "slots" | "window" | "oneof" | "queued" | "heartbeat" | "keep">,
): BenchOptions {
  const playersText = input.str("players");
  if (playersText === undefined) {
    throw new OrchError("usage", "--players is needed: how many players to simulate", {
      hint: "e.g. orch bench --players 1000",
    });
  }
  const players = count("--players", playersText, 1, LIMITS.maxTargets);
  const queued = count("--queued", input.str("queued")!, 0, MAX_QUEUED);
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
    slots: count("--slots", input.str("slots")!, 1, LIMITS.maxSlots),
    windowMs: duration("--window", input.str("window")!, 100, 3_600_000),
    oneOf: count("--oneof", input.str("oneof")!, 0, 100_000),
    queued,
    heartbeatMs: duration("--heartbeat", input.str("heartbeat")!, 300, 3_600_000),
    keep: input.flag("keep"),
  };
}

/** `orch bench`. */
export const benchCommand = command({
  name: "bench",
  summary: summaryOf("bench"),
  description:
    "Makes a deployment of its own in a temporary folder (a CA, a real orch conductor on " +
    "loopback) and K simulated players in this process, each a real mutual-TLS connection; " +
    "nothing runs on any node. Measures connecting, an all-of job on every player, sustained " +
    "load, one-of latency, memory, and a kill -9 and restart with Q tasks queued. Prints the " +
    "figures on stdout, progress on stderr. Exits 0 when it ran, 1 when a phase failed, 130 " +
    "when interrupted; everything it started is stopped either way.",
  options: [
    {
      long: "players",
      value: "k",
      help: `simulated players (1..${LIMITS.maxTargets}); needed`,
    },
    { long: "json", help: "print the figures as one JSON object" },
    {
      long: "window",
      value: "duration",
      help: "length of the sustained-load phase",
      default: "10s",
    },
    {
      long: "oneof",
      value: "n",
      help: "one-of jobs in the latency phase (0 skips it)",
      default: "200",
    },
    {
      long: "queued",
      value: "q",
      help: "tasks queued before the conductor is killed and restarted (0 skips it)",
      default: "100000",
    },
    {
      long: "heartbeat",
      value: "duration",
      help: "the conductor's and the players' heartbeat",
      default: "15s",
    },
    { long: "slots", value: "n", help: "slots each simulated player announces", default: "4" },
    { long: "keep", help: "keep the deployment folder and the conductor's log" },
    {
      long: "store",
      value: "url",
      help:
        "also run every phase on this PostgreSQL database (postgres://USER@HOST[:PORT]/DB, no password in it; empty, or see --store-reset) and print both stores side by side",
      shows: "SQLite only",
    },
    {
      long: "store-password-file",
      value: "file",
      help: "file holding its password (mode 0600)",
      shows: "ORCH_STORE_PASSWORD, else PGPASSWORD",
      complete: "file",
    },
    {
      long: "store-tls-ca",
      value: "file",
      help: "CA certificates (PEM) to check its server's against",
      complete: "file",
    },
    {
      long: "store-reset",
      help:
        "drop orch's tables in that database first (a database for the bench only: its jobs are lost)",
    },
  ],
  examples: [
    { says: "Benchmark with 1000 simulated players", cmd: "orch bench --players 1000" },
    {
      says: "A quick run: 100 players, a short window, no restart phase, as JSON",
      cmd: "orch bench --players 100 --window 2s --queued 0 --json",
    },
    {
      says: "SQLite and PostgreSQL side by side, on a database for the bench only",
      cmd:
        "orch bench --players 500 --store postgres://bench@db.example.net/bench --store-password-file ./bench.password --store-reset",
    },
  ],
  async run(input) {
    const opts = benchOptions(input);
    const store = await benchStore(input);
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    for (const s of signals) Deno.addSignalListener(s, onSignal);
    const progress = progressPrinter(Deno.stderr.isTerminal());
    let result: BenchResult | BenchComparison;
    try {
      result = store === null
        ? await runBench({ ...opts, signal: stop.signal }, progress)
        : await runBenchComparison(
          { ...opts, store, signal: stop.signal },
          input.flag("store-reset"),
          progress,
        );
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
    if (input.flag("json")) printJson(result);
    else {
      const lines = "sqlite" in result ? formatComparison(result) : formatBench(result);
      for (const line of lines) out(line);
    }
    const runs = "sqlite" in result ? [result.sqlite, result.postgres] : [result];
    for (const r of runs) {
      const f = r.failure;
      if (!f) continue;
      const on = runs.length > 1 ? ` on ${printable(r.store)}` : "";
      err(`orch bench: ${f.phase}${on}: ${printable(f.message)}`);
      if (f.conductor_log) err(`the conductor's last log lines:\n${indent(f.conductor_log)}`);
      if (!opts.keep) {
        err("hint: run with --keep to keep the deployment and the conductor's whole log");
      }
      exitState.code = EXIT.internal;
    }
  },
});

/** The PostgreSQL database of `--store`, with its password and CA read; null without it. */
async function benchStore(
  input: Input<"store" | "store-password-file" | "store-tls-ca" | "store-reset">,
): Promise<BenchPgStore | null> {
  const url = input.str("store");
  const passwordFile = input.str("store-password-file");
  const tlsCa = input.str("store-tls-ca");
  if (url === undefined) {
    for (
      const [flag, given] of [
        ["--store-password-file", passwordFile !== undefined],
        ["--store-tls-ca", tlsCa !== undefined],
        ["--store-reset", input.flag("store-reset")],
      ] as const
    ) {
      if (given) throw new OrchError("usage", `${flag} is given without --store`);
    }
    return null;
  }
  const spec = parseStoreSpec(url, "--store");
  if (spec.kind !== "postgres") {
    throw new OrchError(
      "usage",
      "--store must be a PostgreSQL database (postgres://USER@HOST/DB); the bench always runs on SQLite too",
    );
  }
  const conn = await storeConnection(spec, { passwordFile, tlsCa });
  return {
    spec: url,
    shown: shownStore(spec),
    url: conn.url,
    ...(conn.password === undefined ? {} : { password: conn.password }),
    tls: conn.tls,
    ...(passwordFile ? { passwordFile } : {}),
    ...(tlsCa ? { tlsCa } : {}),
  };
}

/** Prints progress on stderr: a line per phase; counts redraw one line on a terminal. */
function progressPrinter(tty: boolean): ((p: BenchProgress) => void) & { end(): void } {
  let drawn = false;
  const clear = () => {
    if (drawn) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
    drawn = false;
  };
  const print = (p: BenchProgress) => {
    if (p.kind === "store") {
      clear();
      err(`orch bench: store: running every phase on ${printable(p.store)}`);
    } else if (p.kind === "phase") {
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

/** One figure of the side-by-side table: its label and how to read it from a result. */
type Row = [string, (r: BenchResult) => number | string | null | undefined];

const COMPARED: Row[] = [
  ["conductor ready after spawn, ms", (r) => r.setup?.conductor_start_ms],
  ["connect: players welcomed/s", (r) => r.connect?.per_s],
  ["connect: conductor CPU per connect, ms", (r) => r.connect?.conductor_cpu_ms_per_connect],
  ["all-of: submit answered, ms", (r) => r.all_of?.submit_ms],
  ["all-of: finished (long poll), ms", (r) => r.all_of?.complete_ms],
  ["all-of: last result acknowledged, ms", (r) => r.all_of?.last_ack_ms],
  ["all-of: worst /v1/health, ms", (r) => r.all_of?.health_worst_ms],
  ["sustained: completions/s", (r) => r.sustained?.completions_per_s],
  ["sustained: conductor cores", (r) => r.sustained?.conductor_cores],
  ["one-of: p50, ms", (r) => r.one_of?.p50_ms],
  ["one-of: p99, ms", (r) => r.one_of?.p99_ms],
  ["one-of: max, ms", (r) => r.one_of?.max_ms],
  ["memory: RSS with players, KiB", (r) => r.memory.rss_with_players_kib],
  ["memory: per player, KiB", (r) => r.memory.per_player_kib],
  ["restart: queued tasks", (r) => r.restart?.queued],
  ["restart: ready after spawn, ms", (r) => r.restart?.ready_ms],
  ["restart: players back, ms", (r) => r.restart?.reconnect_ms],
  ["restart: queued tasks run/s", (r) => r.restart?.dispatch_per_s],
  ["checks: tasks succeeded", (r) => r.checks?.tasks_succeeded],
  ["checks: tasks submitted", (r) => r.checks?.tasks],
  ["checks: dropped", (r) => r.checks?.dropped],
  ["checks: dispatched twice", (r) => r.checks?.dispatched_twice],
  ["store alone: rows/s batched", (r) => r.store_bound?.rows_per_s],
  ["store alone: task lives/s", (r) => r.store_bound?.store_tasks_per_s],
  ["orch sustained / store alone", (r) => r.store_bound?.orch_to_store],
  ["bench CPU, ms", (r) => r.bench_cpu_ms],
  ["total, ms", (r) => r.total_ms],
];

/** Both runs as one table, a column per store; a figure a run lacks shows as "-". */
export function formatComparison(c: BenchComparison): string[] {
  const s = c.sqlite.settings;
  const cell = (v: number | string | null | undefined) =>
    v === null || v === undefined ? "-" : typeof v === "number" ? n(v) : printable(v);
  const head = ["", "sqlite", "postgres"];
  const rows = COMPARED.map(([label, get]) => [label, cell(get(c.sqlite)), cell(get(c.postgres))]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  ");
  const lines = [
    `orch bench ${c.sqlite.version}: ${
      n(s.players)
    } simulated players, ${s.slots} slots each, heartbeat ${n(s.heartbeat_ms)} ms`,
    `postgres is ${printable(c.postgres.store)}`,
    "",
    line(head),
    ...rows.map(line),
  ];
  for (const r of [c.sqlite, c.postgres]) {
    const on = r === c.sqlite ? "sqlite" : "postgres";
    if (r.failure) {
      lines.push(`failed     on ${on} in ${r.failure.phase}: ${printable(r.failure.message)}`);
    }
    for (const reason of r.checks?.drop_reasons ?? []) {
      lines.push(`dropped    on ${on}: ${printable(reason)}`);
    }
    if (r.dir) lines.push(`kept       ${r.dir} (${on})`);
  }
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
