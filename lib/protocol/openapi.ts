/**
 * The audience API (`/v1/…`) described as an OpenAPI 3.1 document: every
 * route, its query parameters, request body, answers and error answers with
 * their codes. The conductor serves it at `GET /v1/openapi.json`; the tests
 * check every answer they get against it, so it cannot drift from the code.
 * Bounds and enumerations come from the wire types' own constants.
 *
 * @module
 */

import { ERROR_CODES, type ErrorCode } from "../errors.ts";
import { API_PREFIX, AUDIT_ACTIONS, JOB_STATE_FILTERS, MAX_OFFLINE_WAIT_MS } from "./api.ts";
import { MAX_BATCH_WAIT_MS, MAX_RETRIES, MAX_TASK_PAGE, REQUEST_ID } from "./api.ts";
import { LIMITS, PARAM_KEY, SCORE_NAME } from "./names.ts";
import {
  MAX_CRON,
  MAX_EVERY_MS,
  MIN_EVERY_MS,
  MISSED_POLICIES,
  SCHEDULE_NAME,
} from "./schedules.ts";
import { isFinal, TASK_STATES } from "./states.ts";
import { ORCH_VERSION } from "./mod.ts";

/** A JSON value as the document holds it. */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: Json };

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string): Schema => ({ type: [type, "null"] });
const int = (min = 0, max = Number.MAX_SAFE_INTEGER): Schema => ({
  type: "integer",
  minimum: min,
  maximum: max,
});
const str: Schema = { type: "string" };
/** A time the API sends: RFC 3339, UTC, with milliseconds (`2026-11-23T03:30:00.123Z`). */
const time: Schema = { type: "string", format: "date-time" };
/** A time, or null. */
const timeOrNull: Schema = { type: ["string", "null"], format: "date-time" };
/** A time a request gives: RFC 3339 with its zone, or epoch ms. */
const timeIn = (description: string, nullable = false): Schema => ({
  oneOf: [
    { type: "string", format: "date-time" },
    { type: "integer", minimum: 0, description: "Epoch ms." },
    ...(nullable ? [{ type: "null" }] : []),
  ],
  description,
});
const strMap: Schema = { type: "object", additionalProperties: str };

/** An object with exactly these properties: `required` must be there, `optional` may be. */
function obj(required: Record<string, Schema>, optional: Record<string, Schema> = {}): Schema {
  return {
    type: "object",
    properties: { ...required, ...optional },
    required: Object.keys(required),
    additionalProperties: false,
  };
}

const AGGREGATES = ["pending", "running", "success", "partial", "failure"];
const counts: Schema = {
  type: "object",
  propertyNames: { enum: [...TASK_STATES] },
  additionalProperties: int(),
};
const amount: Schema = {
  oneOf: [obj({ count: int(1, LIMITS.maxTargets) }), obj({ percent: int(1, 100) })],
};

/**
 * Why a queued task went back to the queue (a `task` event's `why`); as the
 * conductor's `task.queued` event has it (a unit test holds the two equal).
 */
export const QUEUED_WHY = ["retry", "refused", "unstarted", "busy", "offline"] as const;

const schemas: Record<string, Schema> = {
  Error: {
    ...obj({
      error: obj(
        { code: { enum: Object.keys(ERROR_CODES) }, message: str },
        { hint: str, leader: str },
      ),
    }),
    description: "Every error answer: a stable code (its status is fixed by the code), a message " +
      "naming what is wrong and where, and sometimes a hint; a `not_leader` answer names the " +
      "leader's address (host:port) in `leader` when it is known.",
  },
  Amount: { ...amount, description: "A number of tasks: a count, or a percentage of the job's." },
  Caller: obj({
    transport: { enum: ["socket", "https"] },
    name: str,
    auth: { enum: ["file_ownership", "client_certificate", "socket_mode", "peer_credentials"] },
  }),
  Health: {
    oneOf: [
      obj({
        ok: { const: true },
        role: { const: "leader" },
        conductor_id: str,
        version: str,
        players: int(),
        open_tasks: int(),
        open_jobs: int(),
      }),
      obj({
        ok: { const: true },
        role: { const: "standby" },
        leader: nullable("string"),
        leader_audience: nullable("string"),
        version: str,
      }),
    ],
    description: "`role` is `leader` on the conductor that serves (a lone conductor too) and " +
      "`standby` on one waiting for the leadership (several conductors on one PostgreSQL " +
      "database); a standby names the leader (`leader`, its name; `leader_audience`, its " +
      "audience address host:port) when known, and gives no numbers.",
  },
  Ready: obj({
    ready: { type: "boolean" },
    failed: { type: "array", items: { enum: ["store", "listeners", "stopping"] } },
    checks: {
      type: "array",
      items: obj({
        name: { enum: ["store", "listeners", "stopping"] },
        ok: { type: "boolean" },
        detail: str,
      }),
    },
  }),
  PlayerView: obj({
    name: str,
    authorised: { type: "boolean" },
    connected: { type: "boolean" },
    address: nullable("string"),
    version: nullable("string"),
    slots: int(),
    running: int(),
    draining: { type: "boolean" },
    scores: { type: "array", items: str },
    last_seen: timeOrNull,
    labels: strMap,
    facts: strMap,
  }),
  Me: {
    ...obj({
      caller: str,
      grants: {
        type: "array",
        items: obj({
          may: { type: "array", items: str },
          scores: { type: "array", items: str },
          targets: { type: "array", items: str },
        }),
      },
    }),
    description: "The caller's label and its own grants (never another's).",
  },
  DrainResponse: obj({ name: str, draining: { type: "boolean" }, running: int() }),
  SubmitRequest: {
    ...obj(
      {
        score: { type: "string", pattern: SCORE_NAME.source },
        scope: { enum: ["all", "one"] },
        targets: {
          type: "array",
          items: str,
          minItems: 1,
          maxItems: LIMITS.maxTargets,
          description: "Names, globs (`web*`) and selectors (`role=web,dc!=mel`, `fact.os=linux`).",
        },
      },
      {
        params: {
          type: "object",
          propertyNames: { pattern: PARAM_KEY.source },
          additionalProperties: { type: "string", maxLength: LIMITS.maxParamValue },
          maxProperties: LIMITS.maxParams,
        },
        timeout_ms: { type: ["integer", "null"], minimum: 1, maximum: LIMITS.maxTimeoutMs },
        deadline: timeIn("Tasks not started by then end `expired`.", true),
        retries: int(0, MAX_RETRIES),
        request_id: { type: ["string", "null"], pattern: REQUEST_ID.source },
        secret: { type: "array", items: str, maxItems: LIMITS.maxParams },
        quorum: { type: ["integer", "null"], minimum: 1, maximum: LIMITS.maxTargets },
        batch: { oneOf: [amount, { type: "null" }] },
        max_errors: { oneOf: [amount, { type: "null" }] },
        batch_wait_ms: int(0, MAX_BATCH_WAIT_MS),
        some: { oneOf: [amount, { type: "null" }], description: "N-of, scope `all` only." },
        offline_wait_ms: int(0, MAX_OFFLINE_WAIT_MS),
      },
    ),
  },
  SubmitResponse: obj({ id: int(1) }),
  CancelResponse: obj({ id: int(1), cancelled: int(), stopping: int() }),
  JobRollout: obj(
    {
      quorum: nullable("integer"),
      batch: nullable("integer"),
      max_errors: nullable("integer"),
      batch_wait_ms: int(),
    },
    { some: int(), offline_wait_ms: int() },
  ),
  RolloutProgress: obj({
    batch: int(),
    batches: int(),
    errors: int(),
    errors_allowed: nullable("integer"),
  }),
  JobView: obj({
    id: int(1),
    score: str,
    scope: { enum: ["all", "one"] },
    targets: {
      type: "array",
      items: str,
      description: "The target expressions as submitted (the first 100).",
    },
    hosts: { type: "array", items: str, description: "The hosts they chose (the first 100)." },
    host_count: int(),
    params: strMap,
    secret: { type: "array", items: str },
    submitted_at: time,
    submitted_by: str,
    caller: ref("Caller"),
    finished_at: timeOrNull,
    timeout_ms: nullable("integer"),
    deadline: timeOrNull,
    retries: int(),
    cancelled_at: timeOrNull,
    schedule: nullable("string"),
    aggregate: { enum: AGGREGATES },
    counts,
    task_count: int(),
    rollout_settings: { oneOf: [ref("JobRollout"), { type: "null" }] },
    rollout: { oneOf: [ref("RolloutProgress"), { type: "null" }] },
    offline: int(),
  }, {
    may_cancel: {
      type: "boolean",
      description: "Whether the caller may cancel the job, by the grants as a cancel would be " +
        "decided; in the answer of GET /v1/jobs/ID.",
    },
  }),
  JobSummary: obj({
    id: int(1),
    score: str,
    scope: { enum: ["all", "one"] },
    host_count: int(),
    submitted_at: time,
    submitted_by: str,
    finished_at: timeOrNull,
    aggregate: { enum: AGGREGATES },
    counts,
    offline: int(),
  }),
  TriedPlayer: obj({ player: str, code: str, message: str }),
  AttemptView: obj(
    {
      attempt: int(),
      player: str,
      state: str,
      started_at: timeOrNull,
      ended_at: timeOrNull,
      exit_code: nullable("integer"),
      signal: nullable("string"),
      error: nullable("string"),
    },
    { stdout_dropped: int(), stderr_dropped: int() },
  ),
  TaskView: obj(taskViewFields()),
  TaskDetail: obj(
    {
      ...taskViewFields(),
      job_id: int(1),
      stdout_tail: str,
      stderr_tail: str,
      attempts: { type: "array", items: ref("AttemptView") },
    },
    { stdout_dropped: int(), stderr_dropped: int() },
  ),
  TaskPage: obj({
    job_id: int(1),
    total: int(),
    page: int(1),
    limit: int(1),
    tasks: {
      type: "array",
      items: { anyOf: [ref("TaskView"), ref("TaskDetail")] },
      description: "`TaskView`s, or `TaskDetail`s with `output=1`.",
    },
  }),
  AuditRecord: obj({
    id: int(1),
    at: time,
    who: str,
    auth: str,
    transport: str,
    from: str,
    action: { enum: [...AUDIT_ACTIONS] },
    subject: str,
    job_id: nullable("integer"),
    outcome: { enum: ["allowed", "refused"] },
    reason: nullable("string"),
  }),
  ScheduleSpec: {
    oneOf: [obj({ cron: str, timezone: nullable("string") }), obj({ every_ms: int(1) })],
  },
  ScheduleJob: obj(
    {
      score: str,
      scope: { enum: ["all", "one"] },
      targets: { type: "array", items: str },
      params: strMap,
      timeout_ms: nullable("integer"),
      retries: int(),
    },
    {
      quorum: nullable("integer"),
      batch: { oneOf: [amount, { type: "null" }] },
      max_errors: { oneOf: [amount, { type: "null" }] },
      batch_wait_ms: int(),
      some: { oneOf: [amount, { type: "null" }] },
      offline_wait_ms: int(),
    },
  ),
  ScheduleRequest: {
    ...obj(
      {
        name: { type: "string", pattern: SCHEDULE_NAME.source },
        job: {
          type: "object",
          description: "A submit's fields (see `SubmitRequest`), without `request_id`, " +
            "`deadline` or `secret`.",
        },
      },
      {
        cron: { type: "string", maxLength: MAX_CRON },
        timezone: str,
        every_ms: int(MIN_EVERY_MS, MAX_EVERY_MS),
        policy: { enum: [...MISSED_POLICIES] },
      },
    ),
    description: "Exactly one of `cron` (with an optional `timezone`) and `every_ms`.",
  },
  ScheduleView: obj({
    name: str,
    spec: ref("ScheduleSpec"),
    policy: { enum: [...MISSED_POLICIES] },
    job: ref("ScheduleJob"),
    owner: ref("Caller"),
    owner_label: str,
    created_at: time,
    last_due: timeOrNull,
    next_due: timeOrNull,
    enabled: { type: "boolean" },
  }),
  ScheduleRunResponse: obj({ name: str, id: int(1) }),
  PruneRequest: obj(
    { before: timeIn("Jobs finished before this go; not later than now.") },
    { dry_run: { type: "boolean" } },
  ),
  PruneResponse: obj({ before: time, jobs: int(), tasks: int(), dry_run: { type: "boolean" } }),
  ...eventSchemas(),
};

/** The data of each event of the event streams (`x-events` of their answers). */
function eventSchemas(): Record<string, Schema> {
  const piece = {
    stream: { enum: ["stdout", "stderr"] },
    offset: int(),
    bytes: int(),
    data: str,
  };
  const stateIs = (states: readonly string[]): Schema => ({
    properties: { state: { enum: [...states] } },
    required: ["state"],
  });
  return {
    EventSnapshot: {
      ...obj({
        job: ref("JobView"),
        live: {
          type: "array",
          items: obj({
            task: int(1),
            attempt: int(1),
            host: str,
            pieces: { type: "array", items: obj(piece) },
          }),
        },
      }),
      description: "The first event of a job's stream without a usable resume point: the job, " +
        "and the latest output of its running tasks (oldest piece first) as the `output` query " +
        "parameter chooses. Its id is the resume point of what follows.",
    },
    EventSnapshotAll: {
      ...obj({ players: obj({ connected: int() }) }),
      description: "The first event of `GET /v1/events` without a usable resume point: how " +
        "many players are connected.",
    },
    EventTask: {
      ...obj({
        job: int(1),
        task: int(1),
        host: nullable("string"),
        attempt: nullable("integer"),
        state: { enum: [...TASK_STATES] },
        at: time,
      }, {
        why: {
          enum: [...QUEUED_WHY],
          description: "Why a `queued` task went back: absent for a new one.",
        },
      }),
      allOf: [
        {
          if: stateIs(["queued"]),
          then: { properties: { host: { type: "null" }, attempt: { type: "null" } } },
          else: { properties: { why: false } },
        },
        {
          if: stateIs(["assigned", "running"]),
          then: { properties: { host: str, attempt: int(1) } },
        },
        {
          if: stateIs(TASK_STATES.filter(isFinal)),
          then: { properties: { attempt: int() } },
        },
      ],
      description: "A task entered `state` at `at`. A `queued` one has no host nor attempt " +
        "(`why` says why it went back, when it did); an `assigned` or `running` one names both; " +
        "a final one names the attempt (0: it never ran) and the host (null: never placed).",
    },
    EventOutput: {
      ...obj({
        job: int(1),
        task: int(1),
        host: str,
        attempt: int(1),
        ...piece,
      }),
      description: "A piece of a running task's output, secret values masked: `bytes` of " +
        "`stream` from `offset`; a jump in `offset` means bytes not streamed.",
    },
    EventProgress: {
      ...obj({
        job: int(1),
        total: int(),
        done: int(),
        counts,
        offline: int(),
        aggregate: { enum: AGGREGATES },
      }),
      description: "The job's counts: `total` tasks, `done` of them final, `counts` by state, " +
        "`offline` queued for a host not connected.",
    },
    EventEnd: {
      ...obj({ job: int(1), aggregate: { enum: AGGREGATES }, finished_at: time }),
      description: "The job finished; a job's stream ends after it.",
    },
    EventPlayer: {
      ...obj({ player: str, connected: { type: "boolean" }, at: time }, { reason: str }),
      if: { properties: { connected: { const: false } }, required: ["connected"] },
      then: { required: ["reason"] },
      else: { properties: { reason: false } },
      description: "A player connected, or went away (then with the `reason`).",
    },
    EventCutoff: {
      ...obj({ reason: str }),
      description: "The conductor ends the stream (the client is too slow, or it is stopping): " +
        "open it again with the last id seen.",
    },
  };
}

function taskViewFields(): Record<string, Schema> {
  return {
    id: int(1),
    host: nullable("string"),
    state: { enum: [...TASK_STATES] },
    attempt: int(),
    reason: nullable("string"),
    exit_code: nullable("integer"),
    signal: nullable("string"),
    started_at: timeOrNull,
    ended_at: timeOrNull,
    response: { type: ["object", "null"] },
    tried: { type: "array", items: ref("TriedPlayer") },
    not_before: timeOrNull,
    cancel_requested: { type: "boolean" },
    offline_since: {
      ...timeOrNull,
      description: "A queued task whose host is not connected: since when; " +
        "1970-01-01T00:00:00.000Z when the host has not connected since the conductor started.",
    },
  };
}

/** Why each error code is answered, for the error answers' descriptions. */
const WHY: Partial<Record<ErrorCode, string>> = {
  invalid: "a bad id, query parameter (unknown ones are refused) or body; the message names which",
  unauthenticated: "on the socket, no valid proof of a local user",
  forbidden: "no grant allows it; the message names the missing rule",
  not_found: "no such job, task, player, schedule or path",
  conflict: "the request conflicts with what is stored (a request id used for another request)",
  finished: "the job had already finished: nothing is cancelled",
  too_large: "the body is over the bound",
  too_many: "the caller holds as many event streams as one caller may",
  unavailable: "the conductor is stopping, or a bound is reached",
  not_leader: "this conductor is a standby (which answers so on every route but health and " +
    "ready); `leader` names the one that serves, when known",
  internal: "something that should not happen did; see the conductor's log",
};

/** The error answers of `codes`, one per status, each with its codes as an enum. */
function errors(...codes: ErrorCode[]): Record<string, Json> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes, "internal" as const]) {
    const status = ERROR_CODES[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, Json> = {};
  for (const [status, cs] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: cs.map((c) => `\`${c}\`: ${WHY[c] ?? c}`).join("; "),
      content: {
        "application/json": {
          schema: {
            allOf: [ref("Error")],
            properties: { error: { properties: { code: { enum: cs } } } },
          },
        },
      },
    };
  }
  return out;
}

/**
 * What the routes without a grant may answer: a bad query, and the
 * transport's refusals (a certificate that is not an audience one).
 */
const UNGUARDED: ErrorCode[] = ["invalid", "unauthenticated", "forbidden"];

/** What every guarded route may answer besides its own errors. */
const GUARDED: ErrorCode[] = [
  "invalid",
  "unauthenticated",
  "forbidden",
  "unavailable",
  "not_leader",
];

function ok(status: number, description: string, schema: Schema): Record<string, Json> {
  return { [String(status)]: { description, content: { "application/json": { schema } } } };
}

const listOf = (key: string, item: string): Schema =>
  obj({ [key]: { type: "array", items: ref(item) } });

function param(
  name: string,
  where: "path" | "query",
  schema: Schema,
  description: string,
): Json {
  return { name, in: where, required: where === "path", schema, description };
}
const jobId = param("id", "path", { type: "string", pattern: "^[0-9]{1,15}$" }, "A job id.");
const intQuery = (name: string, min: number, max: number, description: string) =>
  param(
    name,
    "query",
    { type: "string", pattern: "^[0-9]{1,16}$" },
    `${description} (${min}..${max}).`,
  );
const timeQuery = (name: string, description: string) =>
  param(
    name,
    "query",
    {
      type: "string",
      description: "RFC 3339 with its zone (`2026-11-23T03:30:00Z`, a `+` as `%2B`), or epoch ms.",
    },
    `${description} this time.`,
  );
const lastEventId = param(
  "last_event_id",
  "query",
  str,
  "Resume after this event id (as the `Last-Event-ID` header does).",
);
const jobOutput = param(
  "output",
  "query",
  { type: "string", pattern: "^(none|[1-9][0-9]{0,15})$" },
  "Which `output` events the stream carries: absent, every task's; `none`, no task's (and " +
    "the snapshot's `live` is empty); a task id, only that task's (and only its live output " +
    "in the snapshot).",
);
const allOutput = param(
  "output",
  "query",
  { type: "string", enum: ["none"] },
  "`none`: the stream carries no `output` events (absent: every task's).",
);

const body = (schema: Schema, required = true): Json => ({
  required,
  content: { "application/json": { schema } },
});

/**
 * The answer of an event stream; `events` gives the schema of each event
 * type's `data` (`x-events` on the media type: OpenAPI describes no event
 * payloads itself).
 */
const eventStream = (
  description: string,
  events: Record<string, string>,
): Record<string, Json> => ({
  "200": {
    description,
    content: {
      "text/event-stream": {
        schema: {
          type: "string",
          description: "Server-sent events, each with an `id` (`BOOT.SEQ`; the `progress` right " +
            "after a snapshot has none), an `event` type and one line of JSON `data`, whose " +
            "schema by type is in `x-events` (times are RFC 3339 strings as in the JSON " +
            "answers); a comment line after 15 s of silence keeps the stream alive.",
        },
        "x-events": Object.fromEntries(
          Object.entries(events).map(([type, schema]) => [type, ref(schema)]),
        ),
      },
    },
  },
});

/** The events both streams carry, and the schema of each one's data. */
const JOB_EVENTS: Record<string, string> = {
  task: "EventTask",
  output: "EventOutput",
  progress: "EventProgress",
  end: "EventEnd",
  cutoff: "EventCutoff",
};

const paths: Record<string, Record<string, Json>> = {
  "/health": {
    get: {
      operationId: "health",
      summary: "Liveness and a few numbers; no grant needed.",
      responses: { ...ok(200, "The conductor is alive.", ref("Health")), ...errors(...UNGUARDED) },
    },
  },
  "/ready": {
    get: {
      operationId: "ready",
      summary:
        "Whether the store, the listeners and the conductor are fit for work; no grant needed.",
      responses: {
        ...ok(200, "Ready.", ref("Ready")),
        ...ok(503, "Not ready: `failed` names each check that failed.", ref("Ready")),
        ...errors(...UNGUARDED),
      },
    },
  },
  "/openapi.json": {
    get: {
      operationId: "openapi",
      summary: "This document; no grant needed (it describes the API's shape, holds no data).",
      responses: {
        ...ok(200, "The OpenAPI 3.1 description.", { type: "object" }),
        // A standby serves health and ready only: this too is the leader's to answer.
        ...errors(...UNGUARDED, "not_leader"),
      },
    },
  },
  "/me": {
    get: {
      operationId: "me",
      summary: "Who the caller is and its own grants; any caller who proved who it is, no verb.",
      responses: { ...ok(200, "The caller and its grants.", ref("Me")), ...errors(...GUARDED) },
    },
  },
  "/players": {
    get: {
      operationId: "players",
      summary: "Every player known: authorised, connected, scores, draining, last seen.",
      parameters: [
        param(
          "target",
          "query",
          str,
          "Target expressions separated by spaces (names, globs, selectors): only the players matching any.",
        ),
      ],
      responses: {
        ...ok(200, "The players.", listOf("players", "PlayerView")),
        ...errors(...GUARDED),
      },
    },
  },
  ...Object.fromEntries(["drain", "undrain"].map((verb) => [`/players/{name}/${verb}`, {
    post: {
      operationId: verb,
      summary: verb === "drain"
        ? "No new work goes to the player; its running work finishes."
        : "The player takes new work again.",
      parameters: [param("name", "path", str, "A player name.")],
      requestBody: body(obj({}), false),
      responses: {
        ...ok(200, "Done, once durable.", ref("DrainResponse")),
        ...errors(...GUARDED, "not_found", "too_large"),
      },
    },
  }])),
  "/jobs": {
    get: {
      operationId: "jobs",
      summary: "Newest jobs first, filtered (every filter given applies).",
      parameters: [
        param(
          "state",
          "query",
          { enum: [...JOB_STATE_FILTERS] },
          "An aggregate, or open/finished.",
        ),
        param("score", "query", { type: "string", pattern: SCORE_NAME.source }, "A score name."),
        param("submitted_by", "query", str, "A caller, e.g. `local:alice`."),
        timeQuery("since", "Submitted at or after"),
        timeQuery("until", "Submitted before"),
        intQuery("limit", 1, 1000, "How many (default 50)"),
        intQuery("before", 1, Number.MAX_SAFE_INTEGER, "Only ids below this"),
      ],
      responses: { ...ok(200, "The jobs.", listOf("jobs", "JobSummary")), ...errors(...GUARDED) },
    },
    post: {
      operationId: "submit",
      summary: "Submit a job; the same `request_id` again answers with the same job.",
      requestBody: body(ref("SubmitRequest")),
      responses: {
        ...ok(201, "The job's id, once it is durable.", ref("SubmitResponse")),
        ...errors(...GUARDED, "not_found", "conflict", "too_large"),
      },
    },
  },
  "/jobs/{id}": {
    get: {
      operationId: "job",
      summary: "One job's summary; with `wait`, answers when it finishes or the time is up.",
      parameters: [
        jobId,
        param(
          "wait",
          "query",
          { type: "string", pattern: "^[0-9]{1,6}(\\.[0-9]{1,6})?$" },
          "Seconds, at most 300.",
        ),
      ],
      responses: { ...ok(200, "The job.", ref("JobView")), ...errors(...GUARDED, "not_found") },
    },
  },
  "/jobs/{id}/tasks": {
    get: {
      operationId: "tasks",
      summary: "A page of the job's tasks, in task id order.",
      parameters: [
        jobId,
        param("state", "query", { enum: [...TASK_STATES] }, "Only tasks in this state."),
        param("host", "query", str, "Only the task on this player."),
        intQuery("page", 1, 1_000_000, "Page, from 1"),
        intQuery("limit", 1, MAX_TASK_PAGE, "Tasks a page (default 100; at most 100 with output)"),
        param(
          "output",
          "query",
          { enum: ["1", "0", "true", "false"] },
          "Each task as a `TaskDetail`.",
        ),
      ],
      responses: { ...ok(200, "The page.", ref("TaskPage")), ...errors(...GUARDED, "not_found") },
    },
  },
  "/jobs/{id}/tasks/{tid}": {
    get: {
      operationId: "task",
      summary: "One task with its output tails and attempts.",
      parameters: [
        jobId,
        param("tid", "path", { type: "string", pattern: "^[0-9]{1,15}$" }, "A task id."),
      ],
      responses: { ...ok(200, "The task.", ref("TaskDetail")), ...errors(...GUARDED, "not_found") },
    },
  },
  "/jobs/{id}/cancel": {
    post: {
      operationId: "cancel",
      summary: "Cancel a job: queued tasks end at once, running ones are stopped.",
      parameters: [jobId],
      requestBody: body(obj({}), false),
      responses: {
        ...ok(200, "What was cancelled.", ref("CancelResponse")),
        ...errors(...GUARDED, "not_found", "finished", "too_large"),
      },
    },
  },
  "/jobs/{id}/events": {
    get: {
      operationId: "jobEvents",
      summary: "The job's events as they happen, after a snapshot (or after the resume point).",
      parameters: [jobId, lastEventId, jobOutput],
      responses: {
        ...eventStream("The job's event stream; it ends after the job's `end` event.", {
          snapshot: "EventSnapshot",
          ...JOB_EVENTS,
        }),
        ...errors(...GUARDED, "not_found", "too_many"),
      },
    },
  },
  "/events": {
    get: {
      operationId: "events",
      summary:
        "The events of every job the caller may read, and players' connects and disconnects.",
      parameters: [lastEventId, allOutput],
      responses: {
        ...eventStream("The event stream.", {
          snapshot: "EventSnapshotAll",
          ...JOB_EVENTS,
          player: "EventPlayer",
        }),
        ...errors(...GUARDED, "too_many"),
      },
    },
  },
  "/audit": {
    get: {
      operationId: "audit",
      summary: "The audit trail, newest first.",
      parameters: [
        intQuery("limit", 1, 1000, "How many (default 50)"),
        intQuery("before", 1, Number.MAX_SAFE_INTEGER, "Only ids below this"),
        timeQuery("since", "Only records at or after"),
        param("who", "query", str, "Only this identity, e.g. `local:alice`."),
      ],
      responses: {
        ...ok(200, "The records.", listOf("records", "AuditRecord")),
        ...errors(...GUARDED),
      },
    },
  },
  "/schedules": {
    get: {
      operationId: "schedules",
      summary: "The caller's schedules (every one with `read_all`).",
      responses: {
        ...ok(200, "The schedules.", listOf("schedules", "ScheduleView")),
        ...errors(...GUARDED),
      },
    },
    post: {
      operationId: "addSchedule",
      summary: "Add a schedule.",
      requestBody: body(ref("ScheduleRequest")),
      responses: {
        ...ok(201, "The schedule, once stored.", ref("ScheduleView")),
        ...errors(...GUARDED, "conflict", "too_large"),
      },
    },
  },
  "/schedules/{name}": {
    delete: {
      operationId: "removeSchedule",
      summary: "Remove a schedule.",
      parameters: [param("name", "path", str, "A schedule name.")],
      responses: {
        ...ok(200, "Removed.", obj({ name: str, removed: { const: true } })),
        ...errors(...GUARDED, "not_found"),
      },
    },
  },
  "/schedules/{name}/run": {
    post: {
      operationId: "runSchedule",
      summary: "Submit the schedule's job now.",
      parameters: [param("name", "path", str, "A schedule name.")],
      responses: {
        ...ok(201, "The job submitted.", ref("ScheduleRunResponse")),
        ...errors(...GUARDED, "not_found", "too_large"),
      },
    },
  },
  "/prune": {
    post: {
      operationId: "prune",
      summary: "Prune (or count, with `dry_run`) the jobs finished before `before`.",
      requestBody: body(ref("PruneRequest")),
      responses: {
        ...ok(200, "Done, once every batch is.", ref("PruneResponse")),
        ...errors(...GUARDED, "too_large"),
      },
    },
  },
};

/** The OpenAPI 3.1 description of the audience API, as served at `GET /v1/openapi.json`. */
export const OPENAPI: { [key: string]: Json } = {
  openapi: "3.1.0",
  info: {
    title: "orch audience API",
    version: ORCH_VERSION,
    description: "Submit, follow and cancel jobs, list players, schedules and the audit trail. " +
      "On the conductor's Unix socket (a local user's proof in `Authorization: OrchLocal …`) " +
      "or on HTTPS (an audience certificate), behind the grants. Every error is " +
      "`{error: {code, message, hint?}}`; a wrong method is a 405 `not_allowed` with an `Allow` " +
      "header, an unknown path a 404 `not_found`. A standby of several conductors sharing one " +
      "PostgreSQL database answers only `GET /health` and `GET /ready`; every other request, " +
      "on a route or not, gets a 503 `not_leader` naming the leader.",
  },
  servers: [{ url: API_PREFIX }],
  paths: paths as unknown as Json,
  components: { schemas: schemas as unknown as Json },
};
