/**
 * The wire: every message between conductor and player, the audience API's
 * types, framing, name rules and the decoding of untrusted input into typed
 * values. This folder does no I/O.
 *
 * @module
 */

export * from "./api.ts";
export * from "./api_json.ts";
export * from "./framing.ts";
export * from "./legacy.ts";
export * from "./masking.ts";
export * from "./messages.ts";
export * from "./negotiate.ts";
export * from "./schedules.ts";
export * from "./names.ts";
export * from "./states.ts";
export * from "./targets.ts";
export * from "./times.ts";
export * from "./validate.ts";

export { ORCH_VERSION } from "../version.ts";
