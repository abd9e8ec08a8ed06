/**
 * `orch bench`: benchmarks the control plane. It makes a throwaway
 * deployment, starts a real conductor as a child process, and measures it
 * against simulated players — real mutual-TLS connections speaking the
 * real protocol from this one process, answering every assignment at once,
 * running nothing.
 *
 * @module
 */

export { BenchInterrupted, runBench, runBenchComparison } from "./run.ts";
export type { BenchPgStore } from "./pg.ts";
export { instantResult } from "./sim_player.ts";
export type * from "./result.ts";
export type { CpuUse } from "./proc_stats.ts";
