/**
 * The audience API's prune route:
 *
 * | method | path | what |
 * | --- | --- | --- |
 * | POST | /v1/prune | `{"before": RFC 3339 time or epoch ms, "dry_run"?: bool}`: prune the jobs finished before then; `{before, jobs, tasks, dry_run}` once done |
 *
 * @module
 */

import type { Hono } from "hono";
import {
  callerLabel,
  decodePrune,
  type PruneBody,
  type PruneResponse,
  pruneResponseJson,
} from "../protocol/mod.ts";
import type { ApiEnv } from "./api.ts";
import type { Guard } from "./guard.ts";
import type { RouteHelpers } from "./schedules_api.ts";

/** What the prune route needs from the conductor. */
export interface PruneBackend {
  /** Prunes (or counts, with `dry_run`) the jobs finished before `body.before`; `by` is for the log. */
  onDemand(body: PruneBody, by: string): Promise<PruneResponse>;
}

/** Adds the prune route to `app`. */
export function pruneRoutes(
  app: Hono<ApiEnv>,
  backend: PruneBackend,
  guard: Guard,
  helpers: RouteHelpers,
): void {
  const { json, query, readJson, notAllowed } = helpers;
  app.post("/prune", guard("prune"), async (c) => {
    query(c, []);
    const body = decodePrune(await readJson(c.req.raw));
    return json(200, pruneResponseJson(await backend.onDemand(body, callerLabel(c.env.caller))));
  });
  app.all("/prune", notAllowed("POST"));
}
