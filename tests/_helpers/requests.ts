/**
 * What tests announce and submit: a score as a player announces it, and a
 * submit request with the options left at their defaults.
 *
 * @module
 */

import type { ScoreInfo, SubmitRequest } from "../../lib/protocol/mod.ts";

/** A score as a player announces it: `env`, any params, no limits, unless `extra` says. */
export function scoreInfo(name: string, extra: Partial<ScoreInfo> = {}): ScoreInfo {
  return {
    name,
    interface: "env",
    params: null,
    timeout_ms: null,
    max_timeout_ms: null,
    idempotent: false,
    ...extra,
  };
}

/** A submit of score `hello` on `targets`, defaults elsewhere unless `extra` says. */
export function submitRequest(
  scope: "all" | "one",
  targets: string[],
  extra: Partial<SubmitRequest> = {},
): SubmitRequest {
  return {
    score: "hello",
    scope,
    targets,
    params: {},
    timeout_ms: null,
    deadline: null,
    retries: 0,
    request_id: null,
    secret: [],
    quorum: null,
    batch: null,
    max_errors: null,
    batch_wait_ms: 0,
    ...extra,
  };
}
