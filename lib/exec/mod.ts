/**
 * Running scores: spawning with a clean environment, bounded output,
 * timeouts and cancellation that stop the whole process group; and
 * starting orch's own daemons as child processes.
 *
 * @module
 */

export * from "./accounts.ts";
export * from "./child.ts";
export * from "./env.ts";
export * from "./fds.ts";
export * from "./output.ts";
export * from "./run.ts";
