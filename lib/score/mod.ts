/**
 * Scores: the conf model and its parser (YAML, and the original Orchestra
 * `key=value` lines), parameter checking, and reading a scores directory
 * with every problem found, which is what `orch score lint` shows.
 *
 * @module
 */

export * from "./conf.ts";
export * from "./params.ts";
export * from "./scan.ts";
