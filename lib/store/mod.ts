/**
 * Durable state in SQLite: the conductor's queue, results and players, the
 * player's journal, numbered migrations, and group commit. The only owner
 * of `node:sqlite`.
 *
 * @module
 */

export * from "./conductor_store.ts";
export * from "./db.ts";
export * from "./group_commit.ts";
export * from "./journal.ts";
export * from "./sqlite_store.ts";
export * from "./write_bound.ts";
