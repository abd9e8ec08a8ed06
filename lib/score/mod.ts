/**
 * Scores: the conf model and its parser (YAML, and the original Orchestra
 * `key=value` lines), parameter checking with linear-time patterns, the
 * check of what a player announces, and reading a scores directory with
 * every problem found, which is what `orch score lint` shows.
 *
 * @module
 */

export * from "./announced.ts";
export * from "./conf.ts";
export * from "./params.ts";
export * from "./pattern.ts";
export * from "./scan.ts";
export * from "./response.ts";
