/**
 * A metrics registry with the process figures every role exposes:
 * prom-client's default metrics (`process_*` memory, CPU and file
 * descriptors, `nodejs_eventloop_lag_*`, heap), which work under Deno.
 *
 * @module
 */

import { collectDefaultMetrics, Counter, Registry } from "prom-client";
import { peerCounts } from "../tls/mod.ts";

/**
 * Default metrics left out: Node's active handles, requests and resources.
 * Under Deno they count nothing of orch's (handles and requests are always
 * 0), and the three `…_total` gauges break Prometheus's naming rules
 * (`promtool check metrics`: "non-counter metrics should not have _total").
 */
const LEFT_OUT = [
  "nodejs_active_handles",
  "nodejs_active_handles_total",
  "nodejs_active_requests",
  "nodejs_active_requests_total",
  "nodejs_active_resources",
  "nodejs_active_resources_total",
];

/** A new registry holding the process metrics. */
export function newRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of LEFT_OUT) registry.removeSingleMetric(name);
  return registry;
}

/** A counter whose value is read with `value` at each scrape (a plain count kept elsewhere). */
export function counterFrom(
  registers: Registry[],
  name: string,
  help: string,
  value: () => number,
): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(value());
    },
  });
}

/**
 * The protocol connections' counters of this process (frames in and out,
 * connections closed for silence), read from `peerCounts`; `silenceHelp`
 * says whose silence closes them.
 */
export function peerCounters(registers: Registry[], silenceHelp: string): void {
  counterFrom(
    registers,
    "orch_frames_received_total",
    "Protocol frames received.",
    () => peerCounts.framesIn,
  );
  counterFrom(
    registers,
    "orch_frames_sent_total",
    "Protocol frames sent.",
    () => peerCounts.framesOut,
  );
  counterFrom(
    registers,
    "orch_heartbeat_misses_total",
    silenceHelp,
    () => peerCounts.silenceCloses,
  );
}
