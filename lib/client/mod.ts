/**
 * The audience's client for the conductor's API.
 *
 * @module
 */

export * from "./client.ts";
export * from "./local_proof.ts";
export * from "./events.ts";
export * from "./sse.ts";
export * from "./dashboard_proxy.ts";
