/**
 * The player: its connection loop with backoff, the journal-backed task
 * lifecycle, and running scores for assignments.
 *
 * @module
 */

export * from "./backoff.ts";
export * from "./facts.ts";
export * from "./player.ts";
export * from "./runner.ts";
