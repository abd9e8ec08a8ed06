import { assert, assertEquals, assertMatch } from "../../_helpers/assert.ts";
import { FakeBackend, task } from "../../_helpers/fake_backend.ts";
import { type ApiContext, createApiApp, createApiHandler } from "../../../lib/conductor/api.ts";
import type { Guard } from "../../../lib/conductor/guard.ts";
import { OrchError } from "../../../lib/errors.ts";
import { createLogger } from "../../../lib/log.ts";
import { type Caller, jobViewJson, LOCAL_CALLER } from "../../../lib/protocol/mod.ts";

const ALICE: Caller = { transport: "https", name: "alice", auth: "client_certificate" };

/** A handler over a fake backend holding job 1 (three tasks) and job 2 (one task). */
function setup() {
  const backend = new FakeBackend();
  backend.add([
    task({ id: 1, stdout_tail: "one\n" }),
    task({ id: 2, state: "failed", exit_code: 1 }),
    task({ id: 3, host: "Web3" }),
  ]);
  backend.add([task({ id: 4, job_id: 2 })]);
  const logged: string[] = [];
  const log = createLogger({ level: "debug", format: "text", write: (l) => logged.push(l) });
  const handler = createApiHandler(backend, log);
  const call = async (
    method: string,
    path: string,
    init: { body?: BodyInit; headers?: Record<string, string>; ctx?: Partial<ApiContext> } = {},
  ) => {
    const res = await handler(
      new Request(`http://conductor${path}`, {
        method,
        body: init.body,
        headers: init.headers,
      }),
      { caller: LOCAL_CALLER, ...init.ctx },
    );
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      body: text === "" ? null : JSON.parse(text),
    };
  };
  return { backend, call, logged };
}

const JSON_TYPE = { "content-type": "application/json" };
const SUBMIT = { score: "hello", scope: "all", targets: ["p1"], params: { NAME: "x" } };

/** Expects an error answer with `status` and `code` whose message matches `message`. */
function expectError(
  r: { status: number; body: unknown },
  status: number,
  code: string,
  message: RegExp,
): void {
  assertEquals(r.status, status, JSON.stringify(r.body));
  const body = r.body as { error: { code: string; message: string } };
  assertEquals(body.error.code, code);
  assertMatch(body.error.message, message);
}

Deno.test("health answers ok with the backend's numbers", async () => {
  const { call } = setup();
  const r = await call("GET", "/v1/health");
  assertEquals(r.status, 200);
  assertEquals(r.body, { ok: true, conductor_id: "c-1", open_tasks: 0 });
  assertEquals(r.headers.get("content-type"), "application/json; charset=utf-8");
  assertEquals(r.headers.get("cache-control"), "no-store");
});

Deno.test("players and jobs are listed; jobs takes limit and before, 50 by default", async () => {
  const { backend, call } = setup();
  assertEquals((await call("GET", "/v1/players")).body, { players: [] });
  assertEquals((await call("GET", "/v1/jobs")).body, { jobs: [] });
  assertEquals((await call("GET", "/v1/jobs?limit=5&before=9")).status, 200);
  assertEquals(backend.calls.filter((c) => c[0] === "jobs"), [
    ["jobs", { limit: 50 }],
    ["jobs", { limit: 5, before: 9 }],
  ]);
  for (const q of ["limit=0", "limit=1001", "limit=x", "before=0", "before=-3"]) {
    const key = q.split("=")[0];
    expectError(
      await call("GET", `/v1/jobs?${q}`),
      400,
      "invalid",
      new RegExp(`^query parameter ${key}: expected an integer`),
    );
  }
});

Deno.test("a submit is decoded, stored with the caller, and answered 201 with its id", async () => {
  const { backend, call } = setup();
  const r = await call("POST", "/v1/jobs", {
    body: JSON.stringify(SUBMIT),
    headers: JSON_TYPE,
    ctx: { caller: ALICE },
  });
  assertEquals(r.status, 201);
  assertEquals(r.body, { id: 100 });
  assertEquals(backend.calls, [[
    "submit",
    {
      ...SUBMIT,
      timeout_ms: null,
      deadline: null,
      retries: 0,
      request_id: null,
      secret: [],
      quorum: null,
      batch: null,
      max_errors: null,
      batch_wait_ms: 0,
    },
    ALICE,
  ]]);
});

Deno.test("a refused submit never reaches the backend", async () => {
  const { backend, call } = setup();
  const cases: [
    string,
    { body?: BodyInit; headers?: Record<string, string> },
    number,
    string,
    RegExp,
  ][] = [
    ["bad JSON", { body: "{nope", headers: JSON_TYPE }, 400, "invalid", /not valid JSON/],
    ["no body", { headers: JSON_TYPE }, 400, "invalid", /request body is empty/],
    [
      "wrong content type",
      { body: JSON.stringify(SUBMIT), headers: { "content-type": "text/plain" } },
      400,
      "invalid",
      /^expected a JSON body \(Content-Type: application\/json\), got "text\/plain"$/,
    ],
    [
      "no content type",
      { body: new Blob([JSON.stringify(SUBMIT)]) },
      400,
      "invalid",
      /^expected a JSON body .* got ""$/,
    ],
    [
      "a body over 1 MiB",
      { body: JSON.stringify({ ...SUBMIT, pad: "x".repeat(1 << 20) }), headers: JSON_TYPE },
      413,
      "too_large",
      /exceeds 1048576/,
    ],
    [
      "a body that says it is over 1 MiB",
      { body: "{}", headers: { ...JSON_TYPE, "content-length": "2000000" } },
      413,
      "too_large",
      /^request body of 2000000 bytes exceeds 1048576$/,
    ],
    [
      "a body over 1 MiB that does not say its length",
      {
        body: new ReadableStream({
          start(c) {
            for (let i = 0; i < 5; i++) c.enqueue(new Uint8Array(300_000).fill(32));
            c.close();
          },
        }),
        headers: JSON_TYPE,
      },
      413,
      "too_large",
      /^request body exceeds 1048576 bytes$/,
    ],
    [
      "an unknown field",
      { body: JSON.stringify({ ...SUBMIT, priority: 1 }), headers: JSON_TYPE },
      400,
      "invalid",
      /^priority: unknown field/,
    ],
    [
      "a bad target",
      { body: JSON.stringify({ ...SUBMIT, targets: ["bad host"] }), headers: JSON_TYPE },
      400,
      "invalid",
      /^targets\[0\]: "bad host" is not a host name/,
    ],
    [
      "not UTF-8",
      { body: new Uint8Array([0x7b, 0xff, 0x7d]), headers: JSON_TYPE },
      400,
      "invalid",
      /not valid JSON/,
    ],
  ];
  for (const [what, init, status, code, message] of cases) {
    const r = await call("POST", "/v1/jobs", init);
    assertEquals(r.status, status, what);
    expectError(r, status, code, message);
  }
  const r = await call("POST", "/v1/jobs?dry=1", {
    body: JSON.stringify(SUBMIT),
    headers: JSON_TYPE,
  });
  expectError(r, 400, "invalid", /^unknown query parameter "dry"/);
  assertEquals(backend.calls, []);
});

Deno.test("a job is its summary; a missing one is 404 and a bad id 400", async () => {
  const { backend, call } = setup();
  const r = await call("GET", "/v1/jobs/1");
  assertEquals(r.status, 200);
  assertEquals(r.body, jobViewJson(backend.jobsById.get(1)!.view));
  assert(!Object.hasOwn(r.body as object, "tasks"), "a job view lists no tasks");
  expectError(await call("GET", "/v1/jobs/9"), 404, "not_found", /^no job 9$/);
  for (const bad of ["abc", "0", "-1", "1e3", "1.5", "9999999999999999"]) {
    expectError(
      await call("GET", `/v1/jobs/${bad}`),
      400,
      "invalid",
      /^job id ".*" is not a positive integer$/,
    );
  }
  expectError(await call("GET", "/v1/jobs/1?wiat=3"), 400, "invalid", /known: wait/);
});

Deno.test("a wait hands the backend its time and the transport's abort signal", async () => {
  const { backend, call } = setup();
  const abort = new AbortController();
  let r = await call("GET", "/v1/jobs/1?wait=2.5", { ctx: { signal: abort.signal } });
  assertEquals(r.status, 200);
  assertEquals(backend.calls, [["waitJob", 1, 2500, abort.signal]]);
  // wait=0 does not wait.
  r = await call("GET", "/v1/jobs/1?wait=0");
  assertEquals(backend.names, ["waitJob", "job"]);
  expectError(await call("GET", "/v1/jobs/9?wait=1"), 404, "not_found", /^no job 9$/);
  for (const bad of ["301", "-1", "soon", "1e2", ""]) {
    expectError(
      await call("GET", `/v1/jobs/1?wait=${bad}`),
      400,
      "invalid",
      /^query parameter wait: expected seconds 0\.\.300, got /,
    );
  }
});

Deno.test("tasks come a page at a time: page 1 of 100 without output by default", async () => {
  const { backend, call } = setup();
  const r = await call("GET", "/v1/jobs/1/tasks");
  assertEquals(r.status, 200);
  assertEquals(backend.calls, [["tasks", 1, { page: 1, limit: 100 }]]);
  const page = r.body as { total: number; tasks: Record<string, unknown>[] };
  assertEquals(page.total, 3);
  assertEquals(page.tasks.map((t) => t.id), [1, 2, 3]);
  assertEquals(page.tasks[0].stdout_tail, undefined);
});

Deno.test("the task query takes state, host (lower-cased), page, limit and output", async () => {
  const { backend, call } = setup();
  let r = await call("GET", "/v1/jobs/1/tasks?state=failed&page=1&limit=200");
  assertEquals((r.body as { total: number }).total, 1);
  r = await call("GET", "/v1/jobs/1/tasks?host=WEB3&output=1&limit=100&page=2");
  assertEquals(r.status, 200);
  r = await call("GET", "/v1/jobs/1/tasks?output=1");
  assertEquals((r.body as { tasks: { stdout_tail: string }[] }).tasks[0].stdout_tail, "one\n");
  r = await call("GET", "/v1/jobs/1/tasks?output=0");
  assertEquals(backend.calls, [
    ["tasks", 1, { page: 1, limit: 200, state: "failed" }],
    ["tasks", 1, { page: 2, limit: 100, output: true, host: "web3" }],
    ["tasks", 1, { page: 1, limit: 100, output: true }],
    ["tasks", 1, { page: 1, limit: 100 }],
  ]);
});

Deno.test("a bad task query is a 400 naming the parameter, and never reaches the backend", async () => {
  const { backend, call } = setup();
  const cases: [string, RegExp][] = [
    ["page=0", /^query parameter page: expected an integer 1\.\.1000000, got "0"$/],
    ["page=x", /^query parameter page: /],
    ["limit=0", /^query parameter limit: expected an integer 1\.\.200, got "0"$/],
    ["limit=201", /^query parameter limit: expected an integer 1\.\.200, got "201"$/],
    [
      "limit=101&output=1",
      /^query parameter limit: expected an integer 1\.\.100 with output=1, got "101"$/,
    ],
    ["state=done", /^query parameter state: expected a task state \(queued, .*\), got "done"$/],
    ["host=bad%20host", /^query parameter host: "bad host" is not a host name/],
    ["output=yes", /^query parameter output: expected 1 or 0, got "yes"$/],
    ["limit=5&limit=6", /^query parameter limit is given twice$/],
    ["sort=id", /^unknown query parameter "sort" \(known: state, host, page, limit, output\)$/],
  ];
  for (const [q, message] of cases) {
    expectError(await call("GET", `/v1/jobs/1/tasks?${q}`), 400, "invalid", message);
  }
  expectError(await call("GET", "/v1/jobs/x/tasks"), 400, "invalid", /^job id "x"/);
  assertEquals(backend.calls, []);
  expectError(await call("GET", "/v1/jobs/9/tasks"), 404, "not_found", /^no job 9$/);
});

Deno.test("one task comes with its tails; a missing one is 404 and a bad id 400", async () => {
  const { call } = setup();
  const r = await call("GET", "/v1/jobs/1/tasks/2");
  assertEquals(r.status, 200);
  assertEquals((r.body as { id: number; state: string }).state, "failed");
  assertEquals((r.body as { attempts: unknown[] }).attempts, []);
  expectError(await call("GET", "/v1/jobs/1/tasks/4"), 404, "not_found", /^no task 4 in job 1$/);
  expectError(
    await call("GET", "/v1/jobs/1/tasks/zero"),
    400,
    "invalid",
    /^task id "zero" is not a positive integer$/,
  );
});

Deno.test("a cancel reaches the backend with the caller; it takes no body or an empty object", async () => {
  const { backend, call } = setup();
  let r = await call("POST", "/v1/jobs/1/cancel", { ctx: { caller: ALICE } });
  assertEquals(r.status, 200);
  assertEquals(r.body, { id: 1, cancelled: 1, stopping: 0 });
  r = await call("POST", "/v1/jobs/1/cancel", { body: "{}", headers: JSON_TYPE });
  assertEquals(r.status, 200);
  assertEquals(backend.calls, [["cancel", 1, ALICE], ["cancel", 1, LOCAL_CALLER]]);
  expectError(
    await call("POST", "/v1/jobs/1/cancel", { body: '{"force":true}', headers: JSON_TYPE }),
    400,
    "invalid",
    /^"force": unknown field/,
  );
  expectError(
    await call("POST", "/v1/jobs/1/cancel", { body: "{}", headers: { "content-type": "text/x" } }),
    400,
    "invalid",
    /^expected a JSON body/,
  );
  assertEquals(backend.calls.length, 2);
  expectError(await call("POST", "/v1/jobs/9/cancel"), 404, "not_found", /^no job 9$/);
});

Deno.test("a wrong method is 405 not_allowed, saying which are allowed", async () => {
  const { backend, call } = setup();
  const cases: [string, string, string][] = [
    ["POST", "/v1/health", "GET"],
    ["DELETE", "/v1/players", "GET"],
    ["PUT", "/v1/jobs", "GET, POST"],
    ["DELETE", "/v1/jobs/1", "GET"],
    ["POST", "/v1/jobs/1/tasks", "GET"],
    ["PATCH", "/v1/jobs/1/tasks/2", "GET"],
    ["GET", "/v1/jobs/1/cancel", "POST"],
  ];
  for (const [method, path, allowed] of cases) {
    const r = await call(method, path);
    expectError(r, 405, "not_allowed", new RegExp(`^method "${method}" is not allowed on ${path}`));
    assertEquals(r.headers.get("allow"), allowed);
  }
  assertEquals(backend.calls, []);
});

Deno.test("an unknown path is 404 not_found", async () => {
  const { backend, call } = setup();
  for (
    const path of ["/", "/v1", "/v2/health", "/v1/nope", "/v1/jobs/1/tasks/2/x", "/v1/health/"]
  ) {
    expectError(await call("GET", path), 404, "not_found", /^no such path: /);
  }
  assertEquals(backend.calls, []);
});

Deno.test("an internal error is a 500 that points at the log, where the real error is", async () => {
  const { backend, call, logged } = setup();
  backend.failWith = new TypeError("cannot read properties of undefined (secret detail)");
  const r = await call("GET", "/v1/jobs/1");
  expectError(r, 500, "internal", /^internal error; see the conductor's log$/);
  assert(!JSON.stringify(r.body).includes("secret detail"));
  assertEquals(logged.length, 1);
  assertMatch(logged[0], /audience API request failed .*path=\/v1\/jobs\/1 .*secret detail/);
  backend.failWith = new OrchError("internal", "store broke");
  expectError(await call("GET", "/v1/players"), 500, "internal", /see the conductor's log/);
  assertEquals(logged.length, 2);
  // Any other OrchError from the backend keeps its code and message, and is not logged.
  backend.failWith = new OrchError("conflict", "busy", { hint: "later" });
  const c = await call("GET", "/v1/players");
  assertEquals([c.status, c.body], [409, {
    error: { code: "conflict", message: "busy", hint: "later" },
  }]);
  assertEquals(logged.length, 2);
});

Deno.test("middleware runs before every route with the caller, and may refuse a request", async () => {
  const backend = new FakeBackend();
  const seen: string[] = [];
  const app = createApiApp(backend, undefined, [
    async (c, next) => {
      seen.push(`${c.req.method} ${c.req.path} by ${c.env.caller.name}`);
      await next();
    },
    async (c, next) => {
      if (c.env.caller.transport !== "socket") {
        throw new OrchError("forbidden", `${c.env.caller.name} may not do this`);
      }
      await next();
    },
  ]);
  let r = await app.fetch(new Request("http://conductor/v1/health"), { caller: LOCAL_CALLER });
  assertEquals(r.status, 200);
  r = await app.fetch(
    new Request("http://conductor/v1/jobs", {
      method: "POST",
      body: JSON.stringify(SUBMIT),
      headers: JSON_TYPE,
    }),
    { caller: ALICE },
  );
  assertEquals(r.status, 403);
  assertEquals(await r.json(), { error: { code: "forbidden", message: "alice may not do this" } });
  assertEquals(seen, ["GET /v1/health by local", "POST /v1/jobs by alice"]);
  assertEquals(backend.names, ["health"]);
});

Deno.test("jobs takes state, score, submitted_by, since and until; a bad one is a 400 naming it", async () => {
  const { backend, call } = setup();
  const q = "state=failure&score=deploy&submitted_by=local:alice&since=5&until=9&limit=3&before=7";
  assertEquals((await call("GET", `/v1/jobs?${q}`)).status, 200);
  assertEquals(backend.calls.filter((c) => c[0] === "jobs"), [
    ["jobs", {
      limit: 3,
      before: 7,
      state: "failure",
      score: "deploy",
      submittedBy: "local:alice",
      since: 5,
      until: 9,
    }],
  ]);
  for (
    const bad of ["state=done", "score=a%20b", "submitted_by=alice", "since=x", "until=-1"]
  ) {
    const r = await call("GET", `/v1/jobs?${bad}`);
    assertEquals(r.status, 400, bad);
    assertMatch(r.body.error.message, new RegExp(`query parameter ${bad.split("=")[0]}\\b`));
  }
  assertEquals(backend.calls.filter((c) => c[0] === "jobs").length, 1);
});

Deno.test("a caller who may read only its own jobs lists only those, whatever submitted_by says", async () => {
  const backend = new FakeBackend();
  const own: Guard = () => async (c, next) => {
    c.set("jobsBy", "local:bob");
    await next();
  };
  const app = createApiApp(backend, undefined, [], own);
  const get = async (path: string) =>
    await (await app.fetch(new Request(`http://conductor${path}`), { caller: LOCAL_CALLER }))
      .json();
  assertEquals(await get("/v1/jobs?submitted_by=local:alice"), { jobs: [] });
  await get("/v1/jobs?state=open");
  await get("/v1/jobs?submitted_by=local:bob");
  assertEquals(backend.calls.filter((c) => c[0] === "jobs"), [
    ["jobs", { limit: 50, state: "open", submittedBy: "local:bob" }],
    ["jobs", { limit: 50, submittedBy: "local:bob" }],
  ]);
});
