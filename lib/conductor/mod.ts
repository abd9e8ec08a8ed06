/**
 * The conductor: player sessions over mutual TLS, the in-memory queue over
 * the durable store, scheduling, and the audience API on a Unix socket and
 * HTTPS.
 *
 * @module
 */

export * from "./api.ts";
export * from "./conductor.ts";
export * from "./http.ts";
export * from "./queue.ts";
