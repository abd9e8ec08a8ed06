/**
 * Durable state in SQLite: the conductor's store (behind the interface of
 * `types.ts`, which any store implements), the player's journal, and
 * numbered migrations. The only owner of `node:sqlite`.
 *
 * @module
 */

export * from "./db.ts";
export * from "./journal.ts";
export * from "./rows.ts";
export * from "./sqlite_store.ts";
export * from "./types.ts";
export * from "./write_bound.ts";
