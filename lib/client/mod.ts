/**
 * The audience's client for the conductor's API.
 *
 * @module
 */

export * from "./client.ts";
