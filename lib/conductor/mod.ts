/**
 * The conductor: the task state machine and its events, the indexed
 * scheduler, the players' gateway over mutual TLS, the audience service
 * and API on a Unix socket and HTTPS, composed over a store and a clock.
 *
 * @module
 */

export * from "./api.ts";
export * from "./clock.ts";
export * from "./conductor.ts";
export * from "./events.ts";
export * from "./handshake.ts";
export * from "./http.ts";
export * from "./limits.ts";
export * from "./link.ts";
export * from "./service.ts";
export * from "./secrets.ts";
