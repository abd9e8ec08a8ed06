import {
  assert,
  assertEquals,
  assertMatch,
  assertNotMatch,
  assertThrows,
} from "../../_helpers/assert.ts";
import { ERROR_CODES, type ErrorCode, NotLeaderError, OrchError } from "../../../lib/errors.ts";
import { decodeSubmit, errorFromBody, errorToBody } from "../../../lib/protocol/api.ts";
import { LABEL_KEY_DESC, LABEL_VALUE_DESC } from "../../../lib/protocol/targets.ts";

const HOST_DESC =
  "a host name (letters, digits, '-' and '.', each label 1-63 characters, at most 253 in all)";
const KEY_DESC = "a parameter key (a letter, then letters, digits or '_', at most 64)";

const valid = { score: "deploy", scope: "all", targets: ["p1"], params: { A: "1" } };
/** What a submit holds when the optional fields are left out. */
const defaults = {
  timeout_ms: null,
  deadline: null,
  retries: 0,
  request_id: null,
  secret: [],
  quorum: null,
  batch: null,
  max_errors: null,
  batch_wait_ms: 0,
};

function invalid(value: unknown, message: string): void {
  const err = assertThrows(() => decodeSubmit(value));
  assert(err instanceof OrchError, `expected an OrchError, got ${err}`);
  assertEquals(err.code, "invalid");
  assertEquals(err.message, message);
}

Deno.test("a valid submit decodes as it is, with no timeout, no deadline and no retries", () => {
  assertEquals(decodeSubmit(valid), { ...valid, ...defaults });
  assertEquals(decodeSubmit({ ...valid, scope: "one" }), { ...valid, ...defaults, scope: "one" });
});

Deno.test("a submit with a timeout, a deadline and retries keeps them", () => {
  const full = {
    ...valid,
    timeout_ms: 60000,
    deadline: 1700000000000,
    retries: 3,
    request_id: "r-1:x.y",
    secret: [],
    quorum: 1,
    batch: { count: 2 },
    max_errors: { percent: 10 },
    batch_wait_ms: 1000,
  };
  assertEquals(decodeSubmit(full), full);
  invalid(
    { ...valid, batch: { count: 1, percent: 5 } },
    "batch: expected exactly one of count or percent",
  );
  invalid(
    { ...valid, max_errors: { percent: 101 } },
    "max_errors.percent: expected 1..100, got 101",
  );
  const nulls = { ...valid, timeout_ms: null, deadline: null, retries: null };
  assertEquals(decodeSubmit(nulls), { ...valid, ...defaults });
});

Deno.test("secret names keys of params, each once; anything else is refused", () => {
  const withParams = { ...valid, params: { TOKEN: "t", A: "1" } };
  assertEquals(decodeSubmit({ ...withParams, secret: ["TOKEN", "TOKEN"] }).secret, ["TOKEN"]);
  invalid(
    { ...withParams, secret: ["B"] },
    'secret[0]: "B" is not a key of params (each secret names a parameter given)',
  );
  invalid(
    { ...withParams, secret: [1] },
    "secret[0]: 1 is not a key of params (each secret names a parameter given)",
  );
});

Deno.test("a request id that is not one is refused", () => {
  invalid(
    { ...valid, request_id: "" },
    "request_id: \"\" is not a request id (letters, digits, '.', '_', ':', '-', at most 128)",
  );
  invalid(
    { ...valid, request_id: "a b" },
    "request_id: \"a b\" is not a request id (letters, digits, '.', '_', ':', '-', at most 128)",
  );
});

Deno.test("a timeout, deadline or retries out of range is refused", () => {
  invalid({ ...valid, timeout_ms: 0 }, "timeout_ms: expected 1..2147483647, got 0");
  // Longer than a timer can wait (about 24.8 days).
  invalid(
    { ...valid, timeout_ms: 30 * 86_400_000 },
    "timeout_ms: expected 1..2147483647, got 2592000000",
  );
  invalid({ ...valid, timeout_ms: "1m" }, 'timeout_ms: expected an integer, got the string "1m"');
  invalid(
    { ...valid, deadline: 0 },
    "deadline: expected a time from 1970-01-01T00:00:00.001Z to 2286-11-20T17:46:39.999Z, got 1970-01-01T00:00:00.000Z",
  );
  invalid(
    { ...valid, deadline: "2026-11-23T03:30:00" },
    'deadline: expected an RFC 3339 time with its zone such as 2026-11-23T03:30:00Z, got "2026-11-23T03:30:00"',
  );
  invalid(
    { ...valid, deadline: true },
    "deadline: expected an RFC 3339 time (or epoch milliseconds), got boolean",
  );
  invalid({ ...valid, retries: -1 }, "retries: expected 0..100, got -1");
  invalid({ ...valid, retries: 101 }, "retries: expected 0..100, got 101");
  invalid({ ...valid, retries: 1.5 }, "retries: expected an integer, got the number 1.5");
});

Deno.test("a submit without params, or with null params, has empty params", () => {
  const { params: _, ...noParams } = valid;
  assertEquals(decodeSubmit(noParams), { ...valid, ...defaults, params: {} });
  assertEquals(decodeSubmit({ ...valid, params: null }), { ...valid, ...defaults, params: {} });
});

Deno.test("targets are lower-cased and duplicates dropped, first occurrence kept in order", () => {
  const s = decodeSubmit({
    ...valid,
    targets: ["Web-2.Example.COM", "db1", "web-2.example.com", "DB1", "app"],
  });
  assertEquals(s.targets, ["web-2.example.com", "db1", "app"]);
});

Deno.test("a submit with an unknown field is refused, naming the known ones", () => {
  invalid(
    { ...valid, priority: 3 },
    "priority: unknown field (known: score, scope, targets, params, timeout_ms, deadline, retries, request_id, secret, quorum, batch, max_errors, batch_wait_ms, some, offline_wait_ms)",
  );
});

Deno.test("a submit that is not an object is refused", () => {
  for (const v of [null, [], "x"]) {
    const err = assertThrows(() => decodeSubmit(v));
    assert(err instanceof OrchError);
    assertEquals(err.code, "invalid");
    assertMatch(err.message, /expected an object, got /);
    // There is no field to name: the message must not start with an empty path (": …").
    assertNotMatch(err.message, /^:/);
  }
});

Deno.test("a submit with no targets is refused", () => {
  invalid({ ...valid, targets: [] }, "targets: at least one target is needed");
});

Deno.test("a submit without targets is refused", () => {
  const { targets: _, ...noTargets } = valid;
  invalid(noTargets, "targets: expected an array, got nothing");
});

Deno.test("a target that is not a host name, glob or selector is refused with its index", () => {
  invalid({ ...valid, targets: ["p1", "bad host"] }, `targets[1]: "bad host" is not ${HOST_DESC}`);
  invalid({ ...valid, targets: [7] }, `targets[0]: expected a target expression, got number`);
  invalid({ ...valid, targets: ["-p1"] }, `targets[0]: "-p1" is not ${HOST_DESC}`);
  invalid({ ...valid, targets: [""] }, `targets[0]: a target is empty`);
  invalid(
    { ...valid, targets: ["role=web,,dc=syd"] },
    `targets[0]: "role=web,,dc=syd" has an empty part`,
  );
  invalid(
    { ...valid, targets: ["p1", "role=we b"] },
    `targets[1]: in "role=we b", "we b" is not ${LABEL_VALUE_DESC}`,
  );
  invalid(
    { ...valid, targets: ["1role=web"] },
    `targets[0]: in "1role=web", "1role" is not ${LABEL_KEY_DESC}`,
  );
  invalid(
    { ...valid, targets: ["web_*"] },
    `targets[0]: "web_*" is not a glob over host names (letters, digits, '-', '.', '*', '?')`,
  );
});

Deno.test("targets may be names, globs and selectors; each is kept in its normal form", () => {
  const r = decodeSubmit({
    ...valid,
    targets: ["P1", "Web*", " role=web , dc!=mel ", "fact.os=linux", "p1"],
  });
  assertEquals(r.targets, ["p1", "web*", "role=web,dc!=mel", "fact.os=linux"]);
});

Deno.test("more than 10000 targets are refused", () => {
  const targets = Array.from({ length: 10001 }, (_, i) => `p${i}`);
  invalid({ ...valid, targets }, "targets: expected at most 10000 items, got 10001");
});

Deno.test("a bad score name is refused", () => {
  invalid(
    { ...valid, score: "../etc/passwd" },
    `score: "../etc/passwd" is not a score name (letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128)`,
  );
  invalid({ ...valid, score: 1 }, "score: expected a string, got the number 1");
});

Deno.test("a scope other than all or one is refused", () => {
  invalid({ ...valid, scope: "some" }, 'scope: expected one of all, one, got the string "some"');
});

Deno.test("params keys, values and sizes are checked", () => {
  invalid({ ...valid, params: { "1x": "v" } }, `params.1x: invalid key: ${KEY_DESC}`);
  invalid({ ...valid, params: { A: 1 } }, "params.A: expected a string, got the number 1");
  invalid({ ...valid, params: { A: "a\0" } }, "params.A: must not contain NUL characters");
  invalid(
    { ...valid, params: { A: "x".repeat(65537) } },
    "params.A: expected at most 65536 bytes, got 65537",
  );
  const many: Record<string, string> = {};
  for (let i = 0; i < 257; i++) many[`K${i}`] = "";
  invalid({ ...valid, params: many }, "params: expected at most 256 entries, got 257");
  const big: Record<string, string> = {};
  for (const k of ["A", "B", "C", "D", "E"]) big[k] = "x".repeat(60000);
  invalid({ ...valid, params: big }, "params: expected at most 262144 bytes in all, got 300005");
});

Deno.test("an error survives errorToBody, JSON and errorFromBody with code, message and hint", () => {
  const err = new OrchError("not_found", "job 5 does not exist", { hint: "see orch jobs" });
  const body = errorToBody(err);
  assertEquals(body, {
    error: { code: "not_found", message: "job 5 does not exist", hint: "see orch jobs" },
  });
  const back = errorFromBody(404, JSON.parse(JSON.stringify(body)));
  assert(back instanceof OrchError);
  assertEquals(back.code, "not_found");
  assertEquals(back.message, "job 5 does not exist");
  assertEquals(back.hint, "see orch jobs");
});

Deno.test("an error without a hint has no hint in its body", () => {
  const body = errorToBody(new OrchError("conflict", "busy"));
  assertEquals(body, { error: { code: "conflict", message: "busy" } });
  const back = errorFromBody(409, body);
  assertEquals(back.hint, undefined);
});

Deno.test("every error code survives the round trip", () => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const back = errorFromBody(ERROR_CODES[code], errorToBody(new OrchError(code, `m-${code}`)));
    assertEquals([back.code, back.message], [code, `m-${code}`]);
  }
});

Deno.test("a body without a usable error becomes invalid below 500 and internal from 500", () => {
  for (
    const body of [
      undefined,
      "Bad Gateway",
      {},
      { error: "x" },
      { error: { code: "teapot", message: "x" } },
      { error: { code: "invalid" } },
    ]
  ) {
    const e4 = errorFromBody(400, body);
    assertEquals([e4.code, e4.message], [
      "invalid",
      "conductor answered 400 without an error body",
    ]);
    const e5 = errorFromBody(502, body);
    assertEquals([e5.code, e5.message], [
      "internal",
      "conductor answered 502 without an error body",
    ]);
  }
});

Deno.test("a hint that is not a string is dropped", () => {
  const e = errorFromBody(400, { error: { code: "usage", message: "m", hint: 5 } });
  assertEquals([e.code, e.message, e.hint], ["usage", "m", undefined]);
});

Deno.test("a not_leader error carries the leader it names through the wire, a malformed one is dropped", () => {
  const err = new NotLeaderError("this conductor is a standby", "c2.example:2259");
  const body = errorToBody(err);
  assertEquals(body.error.leader, "c2.example:2259");
  assertEquals(ERROR_CODES.not_leader, 503);
  const back = errorFromBody(503, JSON.parse(JSON.stringify(body)));
  assert(back instanceof NotLeaderError);
  assertEquals(back.code, "not_leader");
  assertEquals(back.leader, "c2.example:2259");
  const bad = errorFromBody(503, { error: { ...body.error, leader: "c2 example" } });
  assert(bad instanceof NotLeaderError);
  assertEquals(bad.leader, null);
});
