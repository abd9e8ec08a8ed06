/**
 * A metrics registry with the process figures every role exposes:
 * prom-client's default metrics (`process_*` memory, CPU and file
 * descriptors, `nodejs_eventloop_lag_*`, heap), which work under Deno.
 *
 * @module
 */

import { collectDefaultMetrics, Registry } from "prom-client";

/** A new registry holding the process metrics. */
export function newRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
