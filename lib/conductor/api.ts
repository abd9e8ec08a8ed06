/**
 * The audience API (`/v1/…`, HTTP + JSON), routed by Hono, as one
 * fetch-style handler that both the Unix socket and the HTTPS listener
 * serve. Errors are `{error: {code, message, hint?}}` with the status of
 * their code; a refused request changes nothing. Routes are kept small: a
 * job is a summary with counts, its tasks come a page at a time.
 *
 * | method | path | what |
 * | --- | --- | --- |
 * | GET | /v1/health | liveness and a few numbers |
 * | GET | /v1/ready | 200 when the store, the listeners and the conductor are fit for work, else 503 naming the checks that failed |
 * | GET | /v1/openapi.json | the API's OpenAPI 3.1 description (`lib/protocol/openapi.ts`) |
 * | GET | /v1/me | the caller's label and its own grants |
 * | GET | /v1/players?target= | players: authorised, connected, scores, draining; `target` keeps those matching any of its expressions |
 * | POST | /v1/players/NAME/drain | no new work goes to the player; its running work finishes |
 * | POST | /v1/players/NAME/undrain | the player takes new work again |
 * | GET | /v1/jobs?state=&score=&submitted_by=&since=&until=&limit=&before= | newest jobs first, filtered |
 * | POST | /v1/jobs | submit a job; 201 `{id}` once it is durable |
 * | GET | /v1/jobs/ID?wait=SECONDS | one job's summary; with `wait`, answers when it finishes or the time is up |
 * | GET | /v1/jobs/ID/tasks?state=&host=&page=&limit=&output=1 | a page of the job's tasks |
 * | GET | /v1/jobs/ID/tasks/TID | one task with its output tails and attempts |
 * | POST | /v1/jobs/ID/cancel | cancel a job: queued tasks end at once, running ones are stopped |
 * | GET | /v1/audit?limit=&before=&since=&who= | the audit trail, newest first |
 * | GET, POST | /v1/schedules | schedules (see `schedules_api.ts`) |
 * | GET | /v1/jobs/ID/events | the job's events, as server-sent events (see `sse.ts`) |
 * | GET | /v1/events | the events of every job the caller may read, and of players |
 * | POST | /v1/prune | prune old finished jobs now (see `prune_api.ts`) |
 *
 * Who may use which route is decided by the {@linkcode Guard} given to
 * {@linkcode createApiApp}, as middleware in front of each route.
 *
 * @module
 */

import { type Context, Hono, type MiddlewareHandler } from "hono";
import { ERROR_CODES, errorMessage, OrchError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { AuditQuery } from "../store/mod.ts";
import type { Guard, GuardVariables } from "./guard.ts";
import { type ScheduleBackend, scheduleRoutes } from "./schedules_api.ts";
import { type EventStreams, outputChoice, resumePoint } from "./sse.ts";
import { type PruneBackend, pruneRoutes } from "./prune_api.ts";
import { OPENAPI } from "../protocol/openapi.ts";
import {
  API_PREFIX,
  AUDIT_WHO,
  type AuditRecord,
  auditRecordJson,
  type Caller,
  callerLabel,
  type CancelResponse,
  concatBytes,
  decodeSubmit,
  decodeTimeParam,
  type DrainResponse,
  errorToBody,
  JOB_STATE_FILTERS,
  type JobQuery,
  type JobStateFilter,
  type JobSummary,
  jobSummaryJson,
  type JobView,
  jobViewJson,
  LIMITS,
  matchTarget,
  MAX_TASK_PAGE,
  MAX_TASK_PAGE_OUTPUT,
  normalizePlayerName,
  Obj,
  parseTarget,
  PLAYER_NAME,
  PLAYER_NAME_DESC,
  type PlayerView,
  playerViewJson,
  type ReadyView,
  SCORE_NAME,
  SCORE_NAME_DESC,
  splitTargetList,
  type SubmitRequest,
  TARGET_LIMITS,
  type TargetExpr,
  TASK_STATES,
  type TaskDetail,
  type TaskPage,
  taskPageJson,
  type TaskQuery,
  type TaskState,
  taskViewJson,
} from "../protocol/mod.ts";

/** What the API needs from the conductor. */
export interface AudienceBackend {
  /**
   * Stores a job; resolves with its id once durable. `accepted` is called
   * with the id when the job is recorded, in the same commit.
   */
  submit(req: SubmitRequest, caller: Caller, accepted?: (id: number) => void): Promise<number>;
  /**
   * Cancels a job; rejects with `OrchError("not_found")` when there is no
   * such job. `accepted` is called when the cancel is recorded, in the same commit.
   */
  cancel(id: number, caller: Caller, accepted?: (id: number) => void): Promise<CancelResponse>;
  /** A job's summary, or undefined. */
  job(id: number): Promise<JobView | undefined>;
  /** The job once finished, or as it is after `timeoutMs` / when `signal` aborts. */
  waitJob(id: number, timeoutMs: number, signal?: AbortSignal): Promise<JobView | undefined>;
  /** A page of a job's tasks, or undefined when there is no such job. */
  tasks(id: number, query: TaskQuery): Promise<TaskPage | undefined>;
  /** One task of a job with its tails and attempts, or undefined. */
  task(id: number, taskId: number): Promise<TaskDetail | undefined>;
  /** The newest jobs first that match every filter of `query`. */
  jobs(query: JobQuery): Promise<JobSummary[]>;
  /** Audit records, newest first. */
  audit(query: AuditQuery): Promise<AuditRecord[]>;
  /** Every player known. */
  players(): Promise<PlayerView[]>;
  /** Drains a player (`on`) or undrains it; resolves once that is durable. */
  drain(name: string, on: boolean, by: string): Promise<DrainResponse>;
  /** A few numbers for `GET /v1/health`. */
  health(): Record<string, unknown>;
  /** The checks of `GET /v1/ready`; cheap, from memory. */
  ready(): ReadyView;
}

/** What the transport tells the API about a request. */
export interface ApiContext {
  /** Who made the request, as the transport proved it. */
  caller: Caller;
  /** Aborts when the client goes away, where the transport can tell. */
  signal?: AbortSignal;
  /** Where the request came from (a remote address), for the audit trail. */
  from?: string;
  /**
   * The local user and group the kernel gives as the peer of a Unix socket
   * (`SO_PEERCRED`), with a caller whose auth is `peer_credentials`. Only
   * Orchestra's audience socket sets it; the HTTP transports never do.
   */
  peer?: { uid: number; gid: number };
}

/** A fetch-style handler for the audience API. */
export type ApiHandler = (req: Request, ctx: ApiContext) => Promise<Response>;

/**
 * The Hono environment of the API: the transport's context is its
 * bindings; the guard hands on what it found in the variables.
 */
export type ApiEnv = { Bindings: ApiContext; Variables: GuardVariables };

/** A guard that lets every request through: for tests of the routes alone. */
export const OPEN_GUARD: Guard = () => async (_c, next) => await next();

/** Longest wait one request may ask for. */
export const MAX_WAIT_MS = 300_000;
/** Tasks per page when a request does not say. */
export const DEFAULT_TASK_PAGE = 100;
/** Highest page number a request may ask for. */
const MAX_PAGE = 1_000_000;
/** Jobs `GET /v1/jobs` (and records `GET /v1/audit`) lists when not told, and at most. */
const DEFAULT_JOBS = 50;
const MAX_JOBS = 1000;

/**
 * The audience API over `backend`, as a Hono app. `middleware` (authorisation,
 * audit, metrics) runs before every route, in order, and sees the caller in
 * `c.env.caller`; an `OrchError` it throws is answered like any other.
 */
export function createApiApp(
  backend: AudienceBackend,
  log?: Logger,
  middleware: readonly MiddlewareHandler<ApiEnv>[] = [],
  guard: Guard = OPEN_GUARD,
  schedules?: ScheduleBackend,
  events?: EventStreams,
  prune?: PruneBackend,
): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>().basePath(API_PREFIX);
  app.use("*", refuseCrossSite(log));
  for (const m of middleware) app.use("*", m);

  app.onError((err, c) => {
    if (err instanceof OrchError && err.code !== "internal") return errorResponse(err);
    log?.error("audience API request failed", {
      method: c.req.method,
      path: c.req.path,
      error: errorMessage(err),
    });
    return errorResponse(new OrchError("internal", "internal error; see the conductor's log"));
  });
  app.notFound((c) => {
    return errorResponse(new OrchError("not_found", `no such path: ${JSON.stringify(c.req.path)}`));
  });

  app.get("/health", (c) => {
    query(c, []);
    return json(200, { ok: true, ...backend.health() });
  });
  app.all("/health", notAllowed("GET"));

  // Like health, for supervisors and load balancers: the transport's proof (the socket's mode,
  // an audience certificate) is all it asks.
  app.get("/ready", (c) => {
    query(c, []);
    const r = backend.ready();
    return json(r.ready ? 200 : 503, r);
  });
  app.all("/ready", notAllowed("GET"));

  // Like health, no grant: the description holds the API's shape, no data of anyone's.
  app.get("/openapi.json", (c) => {
    query(c, []);
    return json(200, OPENAPI);
  });
  app.all("/openapi.json", notAllowed("GET"));

  // Who the caller is and what it may do, so that a client shows only that; its own grants only.
  app.get("/me", guard("me"), (c) => {
    query(c, []);
    return json(200, c.get("me") ?? { caller: callerLabel(c.env.caller), grants: [] });
  });
  app.all("/me", notAllowed("GET"));

  app.get("/players", guard("players"), async (c) => {
    const exprs = playerTargets(query(c, ["target"]).get("target"));
    const all = await backend.players();
    const players = exprs.length === 0
      ? all
      : all.filter((p) => exprs.some((e) => matchTarget(e, p)));
    return json(200, { players: players.map(playerViewJson) });
  });
  app.all("/players", notAllowed("GET"));

  for (const verb of ["drain", "undrain"] as const) {
    app.post(`/players/:name/${verb}`, guard("drain"), async (c) => {
      query(c, []);
      const body = await readOptionalJson(c.req.raw);
      if (body !== undefined && Object.keys(Obj.from(body, "", "invalid").raw).length > 0) {
        throw new OrchError("invalid", `a ${verb} takes no fields`);
      }
      const name = c.req.param("name");
      if (!PLAYER_NAME.test(name)) {
        throw new OrchError("invalid", `${JSON.stringify(name)} is not ${PLAYER_NAME_DESC}`);
      }
      return json(200, await backend.drain(name, verb === "drain", callerLabel(c.env.caller)));
    });
    app.all(`/players/:name/${verb}`, notAllowed("POST"));
  }

  app.get("/jobs", guard("jobs"), async (c) => {
    const jq = jobQuery(query(c, JOB_QUERY_KEYS));
    // A caller who may read only its own jobs lists only those, whatever it asks for.
    const own = c.get("jobsBy");
    if (own !== undefined) {
      if (jq.submittedBy !== undefined && jq.submittedBy !== own) return json(200, { jobs: [] });
      jq.submittedBy = own;
    }
    return json(200, { jobs: (await backend.jobs(jq)).map(jobSummaryJson) });
  });
  app.post("/jobs", guard("submit"), async (c) => {
    query(c, []);
    // Everything is checked before the backend sees the request: a refused submit stores nothing.
    const submit = c.get("submit") ?? await readSubmit(c.req.raw);
    const id = await backend.submit(submit, c.env.caller, c.get("accepted"));
    return json(201, { id });
  });
  app.all("/jobs", notAllowed("GET, POST"));

  app.get("/jobs/:id", guard("job"), async (c) => {
    const id = parseId(c.req.param("id"), "job id");
    const q = query(c, ["wait"]);
    const waitS = floatParam(q, "wait", 0, MAX_WAIT_MS / 1000);
    const job = waitS
      ? await backend.waitJob(id, Math.round(waitS * 1000), c.env.signal)
      : await backend.job(id);
    if (!job) throw noJob(id);
    const mayCancel = c.get("mayCancel");
    const sent = jobViewJson(job);
    return json(200, mayCancel === undefined ? sent : { ...sent, may_cancel: mayCancel });
  });
  app.all("/jobs/:id", notAllowed("GET"));

  app.get("/jobs/:id/tasks", guard("tasks"), async (c) => {
    const id = parseId(c.req.param("id"), "job id");
    const page = await backend.tasks(id, taskQuery(query(c, TASK_QUERY_KEYS)));
    if (!page) throw noJob(id);
    return json(200, taskPageJson(page));
  });
  app.all("/jobs/:id/tasks", notAllowed("GET"));

  app.get("/jobs/:id/tasks/:tid", guard("tasks"), async (c) => {
    const id = parseId(c.req.param("id"), "job id");
    const tid = parseId(c.req.param("tid"), "task id");
    query(c, []);
    const task = await backend.task(id, tid);
    if (!task) throw new OrchError("not_found", `no task ${tid} in job ${id}`);
    return json(200, taskViewJson(task));
  });
  app.all("/jobs/:id/tasks/:tid", notAllowed("GET"));

  app.post("/jobs/:id/cancel", guard("cancel"), async (c) => {
    const id = parseId(c.req.param("id"), "job id");
    query(c, []);
    // No options yet: the body may be left out, or be an empty JSON object.
    const body = await readOptionalJson(c.req.raw);
    if (body !== undefined) {
      const fields = Object.keys(Obj.from(body, "", "invalid").raw);
      if (fields.length > 0) {
        throw new OrchError(
          "invalid",
          `${JSON.stringify(fields[0])}: unknown field (a cancel takes no fields)`,
        );
      }
    }
    return json(200, await backend.cancel(id, c.env.caller, c.get("accepted")));
  });
  app.all("/jobs/:id/cancel", notAllowed("POST"));

  app.get("/audit", guard("audit"), async (c) => {
    const q = query(c, ["limit", "before", "since", "who"]);
    const aq: AuditQuery = { limit: intParam(q, "limit", 1, MAX_JOBS) ?? DEFAULT_JOBS };
    const before = intParam(q, "before", 1, Number.MAX_SAFE_INTEGER);
    if (before !== undefined) aq.before = before;
    const since = timeParam(q, "since");
    if (since !== undefined) aq.since = since;
    const who = q.get("who");
    if (who !== undefined) {
      if (!AUDIT_WHO.test(who)) {
        throw new OrchError(
          "invalid",
          "query parameter who: expected an identity such as local:alice",
        );
      }
      aq.who = who;
    }
    return json(200, { records: (await backend.audit(aq)).map(auditRecordJson) });
  });
  app.all("/audit", notAllowed("GET"));

  if (schedules) scheduleRoutes(app, schedules, guard, { json, query, readJson, notAllowed });
  if (prune) pruneRoutes(app, prune, guard, { json, query, readJson, notAllowed });

  if (events) {
    app.get("/jobs/:id/events", guard("job_events"), async (c) => {
      const id = parseId(c.req.param("id"), "job id");
      const q = query(c, ["last_event_id", "output"]);
      const last = resumePoint(c.req.header("last-event-id"), q.get("last_event_id"));
      const output = outputChoice(q.get("output"), true);
      return await events.job(id, last, callerLabel(c.env.caller), c.env.signal, output);
    });
    app.all("/jobs/:id/events", notAllowed("GET"));
    app.get("/events", guard("events"), (c) => {
      const q = query(c, ["last_event_id", "output"]);
      const last = resumePoint(c.req.header("last-event-id"), q.get("last_event_id"));
      const output = outputChoice(q.get("output"), false) === "none" ? "none" : "all";
      const mayRead = c.get("mayRead") ?? (() => Promise.resolve(true));
      return events.all(last, mayRead, callerLabel(c.env.caller), c.env.signal, output);
    });
    app.all("/events", notAllowed("GET"));
  }

  return app;
}

/** The audience API over `backend`, behind `guard`, as a fetch-style handler. */
export function createApiHandler(
  backend: AudienceBackend,
  log?: Logger,
  guard: Guard = OPEN_GUARD,
  schedules?: ScheduleBackend,
  events?: EventStreams,
  prune?: PruneBackend,
): ApiHandler {
  const app = createApiApp(backend, log, [], guard, schedules, events, prune);
  return async (req, ctx) => await app.fetch(req, ctx);
}

/** Methods that change nothing, which a page of another site may send. */
const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Refuses a request that changes something when the browser that sent it
 * says a page of another site made it: by `Sec-Fetch-Site` (every current
 * browser sends it), else by an `Origin` other than the conductor's own.
 * A browser holding an audience certificate presents it to any page's
 * request, so without this a form on any site could cancel a job (a
 * cancel needs no body). Clients that are not browsers send neither.
 */
function refuseCrossSite(log?: Logger): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return await next();
    const site = c.req.header("sec-fetch-site");
    const origin = c.req.header("origin");
    let cross: string | null = null;
    if (site !== undefined) {
      if (site !== "same-origin" && site !== "none") cross = `Sec-Fetch-Site: ${site}`;
    } else if (origin !== undefined) {
      const scheme = c.env.caller.transport === "https" ? "https" : "http";
      const own = `${scheme}://${c.req.header("host") ?? ""}`;
      if (origin.toLowerCase() !== own.toLowerCase()) cross = "Origin";
    }
    if (cross === null) return await next();
    log?.warn("refused a request a page of another site made", {
      method: c.req.method,
      path: c.req.path,
      origin: origin?.slice(0, 200) ?? null,
      caller: callerLabel(c.env.caller),
    });
    throw new OrchError(
      "forbidden",
      `a ${c.req.method} from a page of another site is refused (${cross}); ` +
        "the dashboard and clients send it from the conductor's own origin",
    );
  };
}

function notAllowed(methods: string) {
  return (c: Context<ApiEnv>): Response => {
    const res = errorResponse(
      new OrchError(
        "not_allowed",
        `method ${JSON.stringify(c.req.method)} is not allowed on ${c.req.path}; use ${methods}`,
      ),
    );
    res.headers.set("allow", methods);
    return res;
  };
}

function noJob(id: number): OrchError {
  return new OrchError("not_found", `no job ${id}`);
}

const TASK_QUERY_KEYS = ["state", "host", "page", "limit", "output"];
const JOB_QUERY_KEYS = ["state", "score", "submitted_by", "since", "until", "limit", "before"];

/** Reads the query of `GET /v1/jobs`; every bad value is a 400 naming its parameter. */
export function jobQuery(q: Map<string, string>): JobQuery {
  const jq: JobQuery = { limit: intParam(q, "limit", 1, MAX_JOBS) ?? DEFAULT_JOBS };
  const before = intParam(q, "before", 1, Number.MAX_SAFE_INTEGER);
  if (before !== undefined) jq.before = before;
  const state = q.get("state");
  if (state !== undefined) {
    if (!(JOB_STATE_FILTERS as readonly string[]).includes(state)) {
      throw new OrchError(
        "invalid",
        `query parameter state: expected ${JOB_STATE_FILTERS.join(", ")}, got ${
          JSON.stringify(state)
        }`,
      );
    }
    jq.state = state as JobStateFilter;
  }
  const score = q.get("score");
  if (score !== undefined) {
    if (!SCORE_NAME.test(score)) {
      throw new OrchError(
        "invalid",
        `query parameter score: ${JSON.stringify(score)} is not ${SCORE_NAME_DESC}`,
      );
    }
    jq.score = score;
  }
  const by = q.get("submitted_by");
  if (by !== undefined) {
    if (!AUDIT_WHO.test(by)) {
      throw new OrchError(
        "invalid",
        `query parameter submitted_by: expected a caller such as local:alice or audience:bob, got ${
          JSON.stringify(by)
        }`,
      );
    }
    jq.submittedBy = by;
  }
  const since = timeParam(q, "since");
  if (since !== undefined) jq.since = since;
  const until = timeParam(q, "until");
  if (until !== undefined) jq.until = until;
  return jq;
}

/** Reads the query of `GET /v1/jobs/ID/tasks`; every bad value is a 400 naming its parameter. */
export function taskQuery(q: Map<string, string>): TaskQuery {
  const output = boolParam(q, "output") ?? false;
  const maxLimit = output ? MAX_TASK_PAGE_OUTPUT : MAX_TASK_PAGE;
  const query: TaskQuery = {
    page: intParam(q, "page", 1, MAX_PAGE) ?? 1,
    limit: intParam(q, "limit", 1, maxLimit, output ? " with output=1" : "") ??
      Math.min(DEFAULT_TASK_PAGE, maxLimit),
  };
  if (output) query.output = true;
  const state = q.get("state");
  if (state !== undefined) {
    if (!(TASK_STATES as readonly string[]).includes(state)) {
      throw new OrchError(
        "invalid",
        `query parameter state: expected a task state (${TASK_STATES.join(", ")}), got ${
          JSON.stringify(state)
        }`,
      );
    }
    query.state = state as TaskState;
  }
  const host = q.get("host");
  if (host !== undefined) {
    if (!PLAYER_NAME.test(host)) {
      throw new OrchError(
        "invalid",
        `query parameter host: ${JSON.stringify(host)} is not ${PLAYER_NAME_DESC}`,
      );
    }
    query.host = normalizePlayerName(host);
  }
  return query;
}

/** The request's query parameters; one not in `known`, or given twice, is refused. */
function query(c: Context<ApiEnv>, known: readonly string[]): Map<string, string> {
  const q = new Map<string, string>();
  for (const [key, value] of new URL(c.req.url).searchParams) {
    if (!known.includes(key)) {
      throw new OrchError(
        "invalid",
        `unknown query parameter ${JSON.stringify(key)} (${
          known.length === 0 ? "this path takes none" : `known: ${known.join(", ")}`
        })`,
      );
    }
    if (q.has(key)) throw new OrchError("invalid", `query parameter ${key} is given twice`);
    q.set(key, value);
  }
  return q;
}

/** Bytes the `target` query parameter of `GET /v1/players` holds at most. */
const MAX_TARGET_QUERY = 4096;

/**
 * The expressions of `?target=` (separated by spaces, as `orch players`
 * takes them as arguments): a player is listed when it matches any.
 */
function playerTargets(text: string | undefined): TargetExpr[] {
  if (text === undefined) return [];
  if (text.length > MAX_TARGET_QUERY) {
    throw new OrchError("invalid", `query parameter target exceeds ${MAX_TARGET_QUERY} bytes`);
  }
  const exprs = text.split(/\s+/).flatMap(splitTargetList);
  if (exprs.length > TARGET_LIMITS.maxPatterns) {
    throw new OrchError(
      "invalid",
      `query parameter target holds ${exprs.length} expressions; at most ${TARGET_LIMITS.maxPatterns}`,
    );
  }
  return exprs.map((t) => parseTarget(t, "query parameter target"));
}

function parseId(text: string, what: string): number {
  if (!/^\d{1,15}$/.test(text) || Number(text) < 1) {
    throw new OrchError("invalid", `${what} ${JSON.stringify(text)} is not a positive integer`);
  }
  return Number(text);
}

function intParam(
  q: Map<string, string>,
  key: string,
  min: number,
  max: number,
  when = "",
): number | undefined {
  const v = q.get(key);
  if (v === undefined) return undefined;
  if (!/^\d{1,16}$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new OrchError(
      "invalid",
      `query parameter ${key}: expected an integer ${min}..${max}${when}, got ${JSON.stringify(v)}`,
    );
  }
  return Number(v);
}

/** A time parameter: RFC 3339 with its zone, or epoch ms. */
function timeParam(q: Map<string, string>, key: string): number | undefined {
  const v = q.get(key);
  return v === undefined ? undefined : decodeTimeParam(v, `query parameter ${key}`);
}

function floatParam(q: Map<string, string>, key: string, min: number, max: number) {
  const v = q.get(key);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d{1,6}(\.\d{1,6})?$/.test(v) || n < min || n > max) {
    throw new OrchError(
      "invalid",
      `query parameter ${key}: expected seconds ${min}..${max}, got ${JSON.stringify(v)}`,
    );
  }
  return n;
}

function boolParam(q: Map<string, string>, key: string): boolean | undefined {
  const v = q.get(key);
  if (v === undefined) return undefined;
  if (v === "1" || v === "true") return true;
  if (v === "0" || v === "false") return false;
  throw new OrchError(
    "invalid",
    `query parameter ${key}: expected 1 or 0, got ${JSON.stringify(v)}`,
  );
}

/** A submit's body, decoded and checked; a 400 naming the field when it is not a valid submit. */
export async function readSubmit(req: Request): Promise<SubmitRequest> {
  return decodeSubmit(await readJson(req));
}

/** The request's JSON body, which must be there. */
export async function readJson(req: Request): Promise<unknown> {
  checkJsonType(req);
  const body = await readOptionalJson(req);
  if (body === undefined) throw new OrchError("invalid", "request body is empty; expected JSON");
  return body;
}

function checkJsonType(req: Request): void {
  const type = req.headers.get("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) {
    throw new OrchError(
      "invalid",
      `expected a JSON body (Content-Type: application/json), got ${JSON.stringify(type)}`,
    );
  }
}

/** The request's JSON body, or undefined when it has none. */
async function readOptionalJson(req: Request): Promise<unknown> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > LIMITS.maxRequestBody) {
    throw new OrchError(
      "too_large",
      `request body of ${declared} bytes exceeds ${LIMITS.maxRequestBody}`,
    );
  }
  const bytes = await readLimited(req, LIMITS.maxRequestBody);
  if (bytes.length === 0) return undefined;
  checkJsonType(req);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new OrchError("invalid", `request body is not valid JSON: ${errorMessage(err)}`);
  }
}

async function readLimited(req: Request, max: number): Promise<Uint8Array> {
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body) {
    size += chunk.length;
    if (size > max) throw new OrchError("too_large", `request body exceeds ${max} bytes`);
    chunks.push(chunk);
  }
  return concatBytes(chunks);
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

/** The response for an error. */
export function errorResponse(err: OrchError): Response {
  return json(ERROR_CODES[err.code], errorToBody(err));
}
