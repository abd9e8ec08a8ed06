/**
 * Running scores: spawning with a clean environment, bounded output,
 * timeouts and cancellation that stop the whole process group.
 *
 * @module
 */

export * from "./env.ts";
export * from "./output.ts";
export * from "./run.ts";
