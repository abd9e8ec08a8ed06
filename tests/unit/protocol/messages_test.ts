import {
  assert,
  assertEquals,
  assertMatch,
  assertNotMatch,
  assertThrows,
} from "../../_helpers/assert.ts";
import { OrchError } from "../../../lib/errors.ts";
import {
  CONDUCTOR_TYPES,
  decodeMessage,
  MAX_OUTPUT_TEXT,
  type Message,
  MESSAGE_TYPES,
  PLAYER_TYPES,
  type ResultBody,
  unknownType,
} from "../../../lib/protocol/messages.ts";
import { LIMITS } from "../../../lib/protocol/names.ts";

const ALL_TYPES: Message["type"][] = [
  "hello",
  "welcome",
  "refuse",
  "ready",
  "assign",
  "accept",
  "reject",
  "output",
  "result",
  "result_ack",
  "cancel",
  "reconnect",
  "ping",
  "pong",
];

/** Decodes a JSON round trip of `value`, as off the wire. */
function decode(value: unknown, allowed: readonly Message["type"][] = ALL_TYPES): Message {
  return decodeMessage(JSON.parse(JSON.stringify(value)), allowed);
}

/** Asserts that decoding `value` throws a protocol error with exactly `message`. */
function refused(value: unknown, message: string, allowed = ALL_TYPES): void {
  const err = assertThrows(() => decode(value, allowed));
  assert(err instanceof OrchError, `expected an OrchError, got ${err}`);
  assertEquals(err.code, "protocol");
  assertEquals(err.message, message);
}

const HOST_DESC =
  "a host name (letters, digits, '-' and '.', each label 1-63 characters, at most 253 in all)";
const KEY_DESC = "a parameter key (a letter, then letters, digits or '_', at most 64)";

const hello = {
  type: "hello",
  name: "web-1.example.com",
  version: "0.1.0",
  protocol: 1,
  slots: 4,
  scores: [
    {
      name: "deploy",
      interface: "pipe",
      params: {
        COUNT: { type: "int", required: false, default: "3", min: 1, max: 10 },
        MODE: { type: "enum", required: true, values: ["fast", "slow"] },
      },
      timeout_ms: 30000,
      max_timeout_ms: 600000,
      idempotent: true,
    },
    { name: "uptime", interface: "env" },
  ],
  journal: [{ task_id: 7, attempt: 2, conductor_id: "c-123", state: "finished" }],
};

const result = {
  type: "result",
  task_id: 5,
  attempt: 1,
  outcome: "succeeded",
  exit_code: 0,
  signal: null,
  response: { KEY: "value" },
  stdout_tail: "out\n",
  stderr_tail: "",
  started_at: 1700000000000,
  ended_at: 1700000001000,
  error: null,
};

const assign = {
  type: "assign",
  task_id: 5,
  attempt: 1,
  job_id: 3,
  score: "deploy",
  params: { COUNT: "3", MODE: "fast" },
  timeout_ms: 60000,
};

// --- valid messages -------------------------------------------------------

Deno.test("a hello decodes with its scores and journal, optional score fields defaulted", () => {
  assertEquals(decode(hello), {
    type: "hello",
    name: "web-1.example.com",
    version: "0.1.0",
    protocol: 1,
    slots: 4,
    scores: [
      {
        name: "deploy",
        interface: "pipe",
        params: {
          COUNT: { type: "int", required: false, default: "3", min: 1, max: 10 },
          MODE: { type: "enum", required: true, values: ["fast", "slow"] },
        },
        timeout_ms: 30000,
        max_timeout_ms: 600000,
        idempotent: true,
      },
      {
        name: "uptime",
        interface: "env",
        params: null,
        timeout_ms: null,
        max_timeout_ms: null,
        idempotent: false,
      },
    ],
    journal: [{ task_id: 7, attempt: 2, conductor_id: "c-123", state: "finished" }],
  });
});

Deno.test("a hello of an older player, without protocols or minor, decodes without them", () => {
  const m = decode(hello);
  assert(m.type === "hello");
  assertEquals([m.protocols, m.minor], [undefined, undefined]);
});

Deno.test("a hello with the range of majors and the minor it speaks decodes them", () => {
  const m = decode({ ...hello, protocols: { min: 1, max: 3 }, minor: 99 });
  assert(m.type === "hello");
  assertEquals([m.protocol, m.protocols, m.minor], [1, { min: 1, max: 3 }, 99]);
});

Deno.test("a hello whose range of majors is upside down or out of bounds is refused", () => {
  refused(
    { ...hello, protocols: { min: 3, max: 2 } },
    "hello.protocols.min: expected at most max (2), got 3",
  );
  refused(
    { ...hello, protocols: { min: 0, max: 2 } },
    "hello.protocols.min: expected 1..1000000, got 0",
  );
  refused(
    { ...hello, protocols: { min: 1 } },
    "hello.protocols.max: expected an integer, got nothing",
  );
  refused({ ...hello, minor: -1 }, "hello.minor: expected 0..1000000, got -1");
});

Deno.test("a welcome decodes", () => {
  const m = { type: "welcome", protocol: 1, conductor_id: "abc", heartbeat_ms: 15000 };
  assertEquals(decode(m), m);
  const withMinor = { ...m, minor: 1 };
  assertEquals(decode(withMinor), withMinor);
});

Deno.test("a refuse decodes", () => {
  const m = { type: "refuse", code: "forbidden", message: "not in the players file" };
  assertEquals(decode(m), m);
});

Deno.test("a ready decodes, and zero slots is allowed", () => {
  assertEquals(decode({ type: "ready", slots: 0 }), { type: "ready", slots: 0 });
  assertEquals(decode({ type: "ready", slots: 1024 }), { type: "ready", slots: 1024 });
});

Deno.test("an assign decodes", () => {
  assertEquals(decode(assign), assign);
});

Deno.test("an assign without a timeout, or with a null one, has timeout_ms null", () => {
  const { timeout_ms: _, ...without } = assign;
  assertEquals(decode(without), { ...assign, timeout_ms: null });
  assertEquals(decode({ ...assign, timeout_ms: null }), { ...assign, timeout_ms: null });
});

Deno.test("an accept decodes", () => {
  const m = { type: "accept", task_id: 1, attempt: 1, started_at: 1700000000000 };
  assertEquals(decode(m), m);
});

Deno.test("a reject decodes", () => {
  const m = { type: "reject", task_id: 1, attempt: 2, code: "busy", message: "no free slot" };
  assertEquals(decode(m), m);
});

Deno.test("an output piece decodes; its stream, size and text are bounded", () => {
  const m = {
    type: "output",
    task_id: 1,
    attempt: 1,
    stream: "stderr",
    offset: 42,
    bytes: 6,
    data: "hello\n",
  };
  assertEquals(decode(m), m);
  refused(
    { ...m, stream: "stdin" },
    'output.stream: expected one of stdout, stderr, got the string "stdin"',
  );
  refused({ ...m, bytes: 0 }, "output.bytes: expected 1..16384, got 0");
  refused({ ...m, data: "" }, "output.data: must not be empty");
  refused(
    { ...m, data: "x".repeat(16384 * 3 + 1) },
    "output.data: expected at most 49152 bytes, got 49153",
  );
});

Deno.test("a result decodes", () => {
  assertEquals(decode(result), result);
});

Deno.test("a result with a signal and no exit code decodes; absent optionals are null", () => {
  const { exit_code: _e, signal: _s, error: _r, ...rest } = result;
  assertEquals(decode({ ...rest, outcome: "timed_out", signal: "SIGKILL" }), {
    ...result,
    outcome: "timed_out",
    exit_code: null,
    signal: "SIGKILL",
    error: null,
  });
});

Deno.test("a result_ack and a cancel decode", () => {
  for (const type of ["result_ack", "cancel"]) {
    const m = { type, task_id: 9, attempt: 3 };
    assertEquals(decode(m), m);
  }
});

Deno.test("a reconnect decodes, its delay and retry bounded to a minute", () => {
  const m = { type: "reconnect", delay_ms: 0, retry_ms: 1000 };
  assertEquals(decode(m), m);
  assertEquals(decode({ ...m, delay_ms: 60_000, retry_ms: 60_000 }), {
    ...m,
    delay_ms: 60_000,
    retry_ms: 60_000,
  });
  refused({ ...m, delay_ms: 60_001 }, "reconnect.delay_ms: expected 0..60000, got 60001");
  refused({ ...m, retry_ms: 0 }, "reconnect.retry_ms: expected 1..60000, got 0");
  refused(
    { type: "reconnect", delay_ms: 5 },
    "reconnect.retry_ms: expected an integer, got nothing",
  );
  // Only a conductor sends it.
  refused(m, 'unexpected message type "reconnect"', [...PLAYER_TYPES]);
  assertEquals(decode(m, [...CONDUCTOR_TYPES]), m);
});

Deno.test("a ping and a pong decode", () => {
  assertEquals(decode({ type: "ping", t: 123 }), { type: "ping", t: 123 });
  assertEquals(decode({ type: "pong", t: 0 }), { type: "pong", t: 0 });
});

// --- types ----------------------------------------------------------------

Deno.test("an unknown message type is refused", () => {
  refused({ type: "bogus" }, 'unexpected message type "bogus"');
});

Deno.test("a type this build does not know at all is told apart, to be ignored", () => {
  assertEquals(unknownType({ type: "future_thing" }), "future_thing");
  assertEquals(unknownType({ type: "future_thing", anything: [1, 2] }), "future_thing");
  assertEquals(unknownType({ type: "" }), "");
  // Known types, and values that are not messages at all, are for decodeMessage to judge.
  for (const type of MESSAGE_TYPES) assertEquals(unknownType({ type }), undefined, type);
  for (const value of [null, 7, "ping", [], { type: 3 }, {}]) {
    assertEquals(unknownType(value), undefined, JSON.stringify(value));
  }
  // A known type that fails validation is still refused, not taken for unknown.
  assertEquals(unknownType({ type: "ready", slots: -1 }), undefined);
  refused({ type: "ready", slots: -1 }, "ready.slots: expected 0..1024, got -1");
});

Deno.test("every type the wire declares is known", () => {
  assertEquals([...MESSAGE_TYPES].sort(), [...ALL_TYPES].sort());
});

Deno.test("a known type outside the allowed ones is refused", () => {
  refused({ type: "ready", slots: 1 }, 'unexpected message type "ready"', ["hello"]);
});

Deno.test("a conductor does not take conductor messages, nor a player player messages", () => {
  refused(
    { type: "welcome", protocol: 1, conductor_id: "x", heartbeat_ms: 1 },
    'unexpected message type "welcome"',
    [...PLAYER_TYPES],
  );
  refused({ type: "ready", slots: 1 }, 'unexpected message type "ready"', [...CONDUCTOR_TYPES]);
  // A hello only comes first, never later.
  refused(hello, 'unexpected message type "hello"', [...PLAYER_TYPES]);
});

Deno.test("a message that is not an object is refused", () => {
  refused([1, 2], "message: expected an object, got an array");
  refused(null, "message: expected an object, got null");
  refused("hello", 'message: expected an object, got the string "hello"');
});

Deno.test("a message without a type is refused", () => {
  refused({ slots: 1 }, "message.type: expected a string, got nothing");
  refused({ type: 5 }, "message.type: expected a string, got the number 5");
});

// --- fields ----------------------------------------------------------------

Deno.test("a missing field is named with its path", () => {
  const { slots: _, ...noSlots } = hello;
  refused(noSlots, "hello.slots: expected an integer, got nothing");
});

Deno.test("an ill-typed field is named with its path", () => {
  refused({ ...hello, slots: "4" }, 'hello.slots: expected an integer, got the string "4"');
  refused({ ...hello, slots: 1.5 }, "hello.slots: expected an integer, got the number 1.5");
  refused({ ...hello, scores: {} }, "hello.scores: expected an array, got an object");
  refused(
    { type: "ping", t: true },
    "ping.t: expected an integer, got true",
  );
});

Deno.test("an integer out of range is refused with the range", () => {
  refused({ ...hello, slots: 1025 }, "hello.slots: expected 0..1024, got 1025");
  refused({ ...hello, protocol: 0 }, "hello.protocol: expected 1..1000000, got 0");
  refused(
    { type: "accept", task_id: 0, attempt: 1, started_at: 1 },
    "accept.task_id: expected 1..9007199254740991, got 0",
  );
});

Deno.test("a player name that is not a host name is refused", () => {
  refused({ ...hello, name: "bad name" }, `hello.name: "bad name" is not ${HOST_DESC}`);
});

Deno.test("a field inside a nested array item is named with the index", () => {
  refused(
    { ...hello, scores: [hello.scores[0], { name: "x y", interface: "env" }] },
    "hello.scores[1].name: \"x y\" is not a score name (letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128)",
  );
  refused(
    { ...hello, journal: [{ task_id: 1, attempt: 1, conductor_id: "c", state: "lost" }] },
    'hello.journal[0].state: expected one of running, finished, got the string "lost"',
  );
});

Deno.test("a declared parameter of an announced score is checked field by field", () => {
  const score = {
    name: "s",
    interface: "env",
    params: { N: { type: "float" } },
  };
  refused(
    { ...hello, scores: [score] },
    'hello.scores[0].params.N.type: expected one of string, int, bool, enum, got the string "float"',
  );
  refused(
    { ...hello, scores: [{ ...score, params: { "1N": { type: "int" } } }] },
    `hello.scores[0].params.1N: invalid key: ${KEY_DESC}`,
  );
  refused(
    { ...hello, scores: [{ ...score, params: { N: { type: "int", colour: "red" } } }] },
    "hello.scores[0].params.N.colour: unknown field (known: type, required, default, values, pattern, max_length, min, max, description, secret)",
  );
});

Deno.test("too many declared parameters name the params field itself", () => {
  const params: Record<string, unknown> = {};
  for (let i = 0; i < 257; i++) params[`P${i}`] = { type: "string" };
  const err = assertThrows(() =>
    decode({ ...hello, scores: [{ name: "s", interface: "env", params }] })
  );
  assert(err instanceof OrchError);
  assertEquals(err.code, "protocol");
  assertMatch(err.message, /at most 256 params/);
  // The path is the params object, not an empty key below it ("params.: …").
  assertNotMatch(err.message, /\.:/);
  assertMatch(err.message, /^hello\.scores\[0\]\.params: /);
});

Deno.test("a refuse code outside the known ones is refused", () => {
  refused(
    { type: "refuse", code: "nope", message: "" },
    'refuse.code: expected one of forbidden, protocol, conflict, not_leader, got the string "nope"',
  );
});

Deno.test("a reject code outside the known ones is refused", () => {
  refused(
    { type: "reject", task_id: 1, attempt: 1, code: "tired", message: "" },
    'reject.code: expected one of unknown_score, bad_params, cannot_start, busy, draining, got the string "tired"',
  );
});

Deno.test("a result exit code must be within -1..255", () => {
  refused({ ...result, exit_code: 256 }, "result.exit_code: expected -1..255, got 256");
  assertEquals((decode({ ...result, exit_code: -1 }) as { exit_code: number }).exit_code, -1);
});

// --- params -----------------------------------------------------------------

Deno.test("assign params keys must be parameter keys", () => {
  refused({ ...assign, params: { "1A": "x" } }, `assign.params.1A: invalid key: ${KEY_DESC}`);
  refused({ ...assign, params: { "A-B": "x" } }, `assign.params.A-B: invalid key: ${KEY_DESC}`);
  refused({ ...assign, params: { "": "x" } }, `assign.params.: invalid key: ${KEY_DESC}`);
  refused(
    { ...assign, params: { ["A".repeat(65)]: "x" } },
    `assign.params.${"A".repeat(65)}: invalid key: ${KEY_DESC}`,
  );
});

Deno.test("a parameter key of 64 characters is accepted", () => {
  const key = "A" + "b_9".repeat(21);
  assertEquals(key.length, 64);
  const m = decode({ ...assign, params: { [key]: "v" } }) as { params: Record<string, string> };
  assertEquals(m.params, { [key]: "v" });
});

Deno.test("assign params values must be strings", () => {
  refused({ ...assign, params: { A: 1 } }, "assign.params.A: expected a string, got the number 1");
  refused({ ...assign, params: { A: null } }, "assign.params.A: expected a string, got null");
  refused({ ...assign, params: [] }, "assign.params: expected an object, got an array");
});

Deno.test("a NUL character in a parameter value is refused", () => {
  refused(
    { ...assign, params: { A: "a\u0000b" } },
    "assign.params.A: must not contain NUL characters",
  );
});

Deno.test("an empty parameter value is accepted", () => {
  const m = decode({ ...assign, params: { A: "" } }) as { params: Record<string, string> };
  assertEquals(m.params, { A: "" });
});

Deno.test("a parameter value over 64 KiB is refused, counted in UTF-8 bytes", () => {
  refused(
    { ...assign, params: { A: "x".repeat(65537) } },
    "assign.params.A: expected at most 65536 bytes, got 65537",
  );
  // 32769 two-byte characters: 32769 characters but 65538 bytes.
  refused(
    { ...assign, params: { A: "é".repeat(32769) } },
    "assign.params.A: expected at most 65536 bytes, got 65538",
  );
  const ok = decode({ ...assign, params: { A: "x".repeat(65536) } }) as {
    params: Record<string, string>;
  };
  assertEquals(ok.params.A.length, 65536);
});

Deno.test("all parameters together may hold at most 256 KiB", () => {
  const params: Record<string, string> = {};
  for (const k of ["A", "B", "C", "D", "E"]) params[k] = "x".repeat(60000);
  refused({ ...assign, params }, "assign.params: expected at most 262144 bytes in all, got 300005");
});

Deno.test("at most 256 parameters are accepted", () => {
  const params: Record<string, string> = {};
  for (let i = 0; i < 257; i++) params[`P${i}`] = "";
  refused({ ...assign, params }, "assign.params: expected at most 256 entries, got 257");
  delete params.P0;
  const m = decode({ ...assign, params }) as { params: Record<string, string> };
  assertEquals(Object.keys(m.params).length, 256);
});

// --- response ---------------------------------------------------------------

Deno.test("a result response must be an object", () => {
  refused({ ...result, response: [] }, "result.response: expected an object");
  refused({ ...result, response: "k=v" }, "result.response: expected an object");
  refused({ ...result, response: null }, "result.response: expected an object");
});

Deno.test("a result response may have at most 1024 keys", () => {
  const response: Record<string, string> = {};
  for (let i = 0; i < 1024; i++) response[`k${i}`] = "v";
  assertEquals(
    Object.keys((decode({ ...result, response }) as { response: object }).response).length,
    1024,
  );
  response.k1024 = "v";
  refused({ ...result, response }, "result.response: expected at most 1024 keys");
});

Deno.test("a result response may hold at most 256 KiB of JSON", () => {
  // {"a":"…"} is 8 bytes of JSON around the value.
  const fits = { a: "x".repeat(262144 - 8) };
  assertEquals(JSON.stringify(fits).length, 262144);
  assertEquals((decode({ ...result, response: fits }) as { response: unknown }).response, fits);
  refused(
    { ...result, response: { a: "x".repeat(262144 - 7) } },
    "result.response: expected at most 262144 bytes",
  );
});

Deno.test("output texts fit the largest head and tail a player keeps, and no more", () => {
  assertEquals(MAX_OUTPUT_TEXT, LIMITS.maxOutputBytes * 6 + 256);
  const most = decode({ ...result, stdout_tail: "x".repeat(MAX_OUTPUT_TEXT) }) as ResultBody;
  assertEquals(most.stdout_tail.length, MAX_OUTPUT_TEXT);
  refused(
    { ...result, stderr_tail: "x".repeat(MAX_OUTPUT_TEXT + 1) },
    `result.stderr_tail: expected at most ${MAX_OUTPUT_TEXT} bytes, got ${MAX_OUTPUT_TEXT + 1}`,
  );
});

Deno.test("a result may say how many bytes of each stream were dropped; absent means none", () => {
  const r = decode({ ...result, stdout_dropped: 123456, stderr_dropped: 0 }) as ResultBody;
  assertEquals([r.stdout_dropped, r.stderr_dropped], [123456, 0]);
  const old = decode(result) as ResultBody;
  assert(!("stdout_dropped" in old) && !("stderr_dropped" in old));
  refused(
    { ...result, stdout_dropped: -1 },
    `result.stdout_dropped: expected 0..${Number.MAX_SAFE_INTEGER}, got -1`,
  );
  for (const bad of [1.5, "9"]) {
    const err = assertThrows(() => decode({ ...result, stderr_dropped: bad }));
    assertMatch((err as Error).message, /^result\.stderr_dropped: expected an integer, got /);
  }
});

// --- typed responses ----------------------------------------------------------

Deno.test("a score in the hello may announce its response declaration; without one, none is set", () => {
  const response = {
    count: { type: "int", required: true, min: 0 },
    ratio: { type: "float", required: false, max: 1.5 },
    state: { type: "enum", required: false, values: ["up", "down"] },
    "host.name": { type: "string", required: false, pattern: "[a-z.]+", max_length: 253 },
  };
  const m = decode({ ...hello, scores: [{ ...hello.scores[0], response }, hello.scores[1]] });
  assert(m.type === "hello");
  assertEquals(m.scores[0].response, response);
  assertEquals("response" in m.scores[1], false);
});

Deno.test("a hello's score entries may carry fields this build does not know (so a newer player's announcement is taken)", () => {
  // This is what lets a player announce `response` to a conductor that predates it.
  const m = decode({ ...hello, scores: [{ ...hello.scores[0], colour: "blue", later: { x: 1 } }] });
  assert(m.type === "hello");
  assertEquals(m.scores[0].name, "deploy");
});

Deno.test("a bad response declaration in the hello is refused, naming the field", () => {
  const withResponse = (response: unknown) => ({
    ...hello,
    scores: [{ name: "s", interface: "pipe", response }],
  });
  refused(
    withResponse({ n: { type: "number" } }),
    'hello.scores[0].response.n.type: expected one of string, int, float, bool, enum, got the string "number"',
  );
  refused(
    withResponse({ n: { type: "int", default: "1" } }),
    "hello.scores[0].response.n.default: unknown field (known: type, required, values, pattern, max_length, min, max, description)",
  );
  refused(
    withResponse({ n: { type: "float", min: "0" } }),
    'hello.scores[0].response.n.min: expected a number, got the string "0"',
  );
  refused(
    withResponse({ "1n": { type: "int" } }),
    "hello.scores[0].response.1n: invalid key: a response key (a letter, then letters, digits, '_', '.' or '-'; at most 64)",
  );
  refused(withResponse([]), "hello.scores[0].response: expected an object, got an array");
  const many = Object.fromEntries(
    Array.from({ length: 1025 }, (_, i) => [`k${i}`, { type: "int" }]),
  );
  refused(withResponse(many), "hello.scores[0].response: expected at most 1024 keys");
});

Deno.test("a not_leader refusal decodes with the leader it names, or without one", () => {
  const m = { type: "refuse", code: "not_leader", message: "a standby", leader: "10.0.0.2:2258" };
  assertEquals(decode(m), m);
  assertEquals(decode({ ...m, leader: "[fd00::2]:2258" }), { ...m, leader: "[fd00::2]:2258" });
  const { leader: _, ...bare } = m;
  assertEquals(decode(bare), bare);
});

Deno.test("a refusal's leader must be host:port with a port 1..65535, and only with not_leader", () => {
  const m = { type: "refuse", code: "not_leader", message: "a standby" };
  const desc = "is not a conductor address (host:port or [v6]:port)";
  refused({ ...m, leader: "10.0.0.2" }, `refuse.leader: "10.0.0.2" ${desc}`);
  refused({ ...m, leader: "a b:1" }, `refuse.leader: "a b:1" ${desc}`);
  refused({ ...m, leader: "x:70000" }, "refuse.leader: the port is not 1..65535");
  refused({ ...m, leader: "x:0" }, "refuse.leader: the port is not 1..65535");
  const long = assertThrows(() => decode({ ...m, leader: `${"a".repeat(300)}:1` }));
  assertMatch((long as Error).message, /^refuse\.leader: /);
  refused(
    { ...m, code: "forbidden", leader: "x:1" },
    "refuse.leader: only a not_leader refusal names one",
  );
});

Deno.test("a not_leader refusal may say how long to wait (retry_ms), within a minute; no other refusal may", () => {
  const m = { type: "refuse", code: "not_leader", message: "a standby", retry_ms: 5_000 };
  assertEquals(decode(m), m);
  refused({ ...m, retry_ms: 0 }, "refuse.retry_ms: expected 1..60000, got 0");
  refused({ ...m, retry_ms: 60_001 }, "refuse.retry_ms: expected 1..60000, got 60001");
  refused({ ...m, code: "forbidden" }, "refuse.retry_ms: only a not_leader refusal gives one");
});
