/**
 * Schedules on the wire: the body of `POST /v1/schedules` and what
 * `GET /v1/schedules` lists. A schedule is a job template (as a submit,
 * without a request id, a deadline or secret params) and when it is due: a
 * cron expression or a fixed interval.
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import { type Amount, type Caller, decodeSubmit, type Scope } from "./api.ts";
import { Obj } from "./validate.ts";

/** The shape of a schedule's name. */
export const SCHEDULE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** What {@linkcode SCHEDULE_NAME} means, for messages. */
export const SCHEDULE_NAME_DESC =
  "a schedule name (letters, digits, '.', '_', '-', starting with a letter or digit, at most 64)";

/** What a schedule does about due times that passed while the conductor could not fire them. */
export type MissedPolicy = "catch-up-once" | "skip";
/** Every policy. */
export const MISSED_POLICIES: readonly MissedPolicy[] = ["catch-up-once", "skip"];

/** Shortest interval of an `every` schedule (ms). */
export const MIN_EVERY_MS = 1000;
/** Longest interval of an `every` schedule (ms): a year. */
export const MAX_EVERY_MS = 366 * 24 * 3600 * 1000;
/** Longest cron expression, in bytes. */
export const MAX_CRON = 256;
/** Schedules a conductor keeps, at most. */
export const MAX_SCHEDULES = 1000;

/** When a schedule is due: a cron expression (in UTC unless a time zone is given), or an interval. */
export type ScheduleSpec =
  | { cron: string; timezone: string | null }
  | { every_ms: number };

/** The job a schedule submits each time it is due. */
export interface ScheduleJob {
  score: string;
  scope: Scope;
  /** Target expressions (names, globs, selectors), resolved at each run. */
  targets: string[];
  params: Record<string, string>;
  timeout_ms: number | null;
  retries: number;
  /** Rollout rules of each run, as a submit gives them; absent: none. */
  quorum?: number | null;
  batch?: Amount | null;
  max_errors?: Amount | null;
  batch_wait_ms?: number;
  some?: Amount | null;
  offline_wait_ms?: number;
}

/** Body of `POST /v1/schedules`. */
export interface ScheduleRequest {
  name: string;
  spec: ScheduleSpec;
  policy: MissedPolicy;
  job: ScheduleJob;
}

/** A schedule, as `GET /v1/schedules` lists it. */
export interface ScheduleView {
  name: string;
  spec: ScheduleSpec;
  policy: MissedPolicy;
  job: ScheduleJob;
  /** Who added it; each run is submitted as this caller, under its grants. */
  owner: Caller;
  /** {@linkcode callerLabel} of `owner`. */
  owner_label: string;
  created_at: number;
  /** The last due time that fired (or was skipped), epoch ms; null before the first. */
  last_due: number | null;
  /** The next due time, epoch ms; null when it will never be due again. */
  next_due: number | null;
  enabled: boolean;
}

/** Answer to `POST /v1/schedules/NAME/run`. */
export interface ScheduleRunResponse {
  name: string;
  /** The job the run submitted. */
  id: number;
}

/**
 * Decodes the body of `POST /v1/schedules`; a 400 naming the field when it
 * is not a valid schedule. The cron expression's syntax is checked by the
 * conductor, which owns the cron library.
 */
export function decodeScheduleRequest(value: unknown): ScheduleRequest {
  const o = Obj.from(value, "", "invalid");
  o.only(["name", "cron", "timezone", "every_ms", "policy", "job"]);
  const name = o.str("name", { pattern: SCHEDULE_NAME, patternDesc: SCHEDULE_NAME_DESC });
  let spec: ScheduleSpec;
  if (o.has("cron") === o.has("every_ms")) {
    o.fail("cron", "give exactly one of cron and every_ms");
  }
  if (o.has("cron")) {
    const cron = o.str("cron", { max: MAX_CRON });
    if (cron.trim() === "") o.fail("cron", "a cron expression is needed");
    const timezone = o.optStr("timezone", {
      pattern: /^[A-Za-z][A-Za-z0-9_+\/-]{0,63}$/,
      patternDesc: "a time zone name such as Europe/Berlin",
    }) ?? null;
    spec = { cron: cron.trim(), timezone };
  } else {
    if (o.has("timezone")) o.fail("timezone", "only a cron schedule takes a time zone");
    spec = { every_ms: o.int("every_ms", MIN_EVERY_MS, MAX_EVERY_MS) };
  }
  const policy = o.has("policy") ? o.oneOf("policy", MISSED_POLICIES) : "catch-up-once";
  const raw = o.obj("job").raw;
  for (const key of ["request_id", "deadline"] as const) {
    if (raw[key] !== undefined && raw[key] !== null) {
      throw new OrchError("invalid", `job.${key}: a schedule's job takes no ${key}`);
    }
  }
  if (Array.isArray(raw.secret) && raw.secret.length > 0) {
    throw new OrchError(
      "invalid",
      "job.secret: a schedule cannot hold secret params (they would be stored with it); " +
        "give the score its secret from a file on the player instead",
    );
  }
  let submit;
  try {
    submit = decodeSubmit(raw);
  } catch (err) {
    if (err instanceof OrchError) throw new OrchError(err.code, `job.${err.message}`);
    throw err;
  }
  return {
    name,
    spec,
    policy,
    job: {
      score: submit.score,
      scope: submit.scope,
      targets: submit.targets,
      params: submit.params,
      timeout_ms: submit.timeout_ms,
      retries: submit.retries,
      ...(submit.quorum === null ? {} : { quorum: submit.quorum }),
      ...(submit.batch === null ? {} : { batch: submit.batch }),
      ...(submit.max_errors === null ? {} : { max_errors: submit.max_errors }),
      ...(submit.batch_wait_ms === 0 ? {} : { batch_wait_ms: submit.batch_wait_ms }),
      ...(submit.some == null
        ? {}
        : { some: submit.some, offline_wait_ms: submit.offline_wait_ms }),
    },
  };
}
