/**
 * Configuration: keys declared once (type, default, doc), YAML files with
 * line-exact errors, flags that override them, and the players file.
 *
 * @module
 */

export * from "./conductor.ts";
export * from "./grants_file.ts";
export * from "./load.ts";
export * from "./player.ts";
export * from "./players_file.ts";
export * from "./facts_file.ts";
export * from "./spec.ts";
export * from "./store_spec.ts";
export * from "./units.ts";
