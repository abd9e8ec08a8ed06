/**
 * Prometheus metrics: the listener that serves them (plain HTTP, `GET
 * /metrics` only, loopback unless the operator opts in), the bounded label
 * sets, and the process figures every role exposes. The conductor and the
 * player each register their own metrics on a registry made here.
 *
 * @module
 */

export { LabelCap, OTHER_LABEL } from "./labels.ts";
export { checkMetricsListen, isLoopback } from "./loopback.ts";
export { counterFrom, newRegistry, peerCounters } from "./registry.ts";
export { MAX_SCORE_LABELS, type TaskOutcomeNames, TaskOutcomes } from "./tasks.ts";
export { type MetricsServer, type MetricsServerOptions, startMetricsServer } from "./server.ts";
export type { Registry } from "prom-client";
export { Counter, Gauge, Histogram } from "prom-client";
