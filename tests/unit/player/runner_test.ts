import { assertEquals, assertMatch } from "../../_helpers/assert.ts";
import { emptyResult, sendableResult, typedResult } from "../../../lib/player/runner.ts";
import type { ResponseSpec, ResultBody } from "../../../lib/protocol/mod.ts";

const ok: ResultBody = {
  outcome: "succeeded",
  exit_code: 0,
  signal: null,
  response: { k: "v" },
  stdout_tail: "k=v\n",
  stderr_tail: "",
  started_at: 1,
  ended_at: 2,
  error: null,
};

Deno.test("a result the conductor accepts is sent as it is", () => {
  assertEquals(sendableResult(ok, 1, 1), ok);
});

Deno.test("a result the conductor would refuse loses its response and becomes a failure that says why", () => {
  // 140 values of 1000 quotes: 140 KB raw, over 280 KB once JSON escapes them.
  const response = Object.fromEntries(
    Array.from({ length: 140 }, (_, i) => [`k${i}`, '"'.repeat(1000)]),
  );
  const fixed = sendableResult({ ...ok, response }, 7, 1);
  assertEquals([fixed.outcome, fixed.response, fixed.exit_code], ["failed", {}, 0]);
  assertMatch(
    fixed.error ?? "",
    /^the result could not be reported as it was: result\.response: expected at most 262144 bytes/,
  );
});

Deno.test("a result over the frame limit keeps the start and the end of its output and says why", () => {
  // Control characters grow sixfold in JSON: 2 × 200,000 of them make a frame of 2.4 MB.
  const text = `first line\n${"\u0001".repeat(200_000)}\nlast line\n`;
  const big = { ...ok, stdout_tail: text, stderr_tail: text, stdout_dropped: 7 };
  const fixed = sendableResult(big, 7, 1);
  assertEquals([fixed.outcome, fixed.response, fixed.stdout_dropped], ["failed", {}, 7]);
  assertMatch(
    fixed.error ?? "",
    /^the result could not be reported as it was: the result is \d+ bytes, over the 1048576-byte frame limit$/,
  );
  for (const t of [fixed.stdout_tail, fixed.stderr_tail]) {
    assertMatch(
      t,
      // deno-lint-ignore no-control-regex -- the score printed control characters
      /^first line\n\u0001+\n\[… \d+ characters left out to fit the result …\]\n\u0001+\nlast line\n$/,
    );
    assertEquals(t.length < 4200, true);
  }
  assertEquals(sendableResult(fixed, 7, 1), fixed, "what comes back is sendable");
});

Deno.test("an empty result carries its outcome and reason and nothing else", () => {
  const r = emptyResult("interrupted", "the player stopped", 5);
  assertEquals([r.outcome, r.error, r.started_at, r.response, r.stdout_tail], [
    "interrupted",
    "the player stopped",
    5,
    {},
    "",
  ]);
});

const DECLARED: Record<string, ResponseSpec> = {
  n: { type: "int", required: true },
  up: { type: "bool", required: false },
};

Deno.test("a score without a response declaration keeps its response as it is", () => {
  assertEquals(typedResult(ok, null, "pipe"), ok);
});

Deno.test("a succeeded run whose response fits comes back typed", () => {
  const r = typedResult({ ...ok, response: { n: "7", up: "false" } }, DECLARED, "pipe");
  assertEquals([r.outcome, r.response, r.error], ["succeeded", { n: 7, up: false }, null]);
});

Deno.test("a succeeded run whose response breaks its declaration fails, naming the key", () => {
  const r = typedResult({ ...ok, response: { n: "seven" } }, DECLARED, "pipe");
  assertEquals([r.outcome, r.exit_code, r.response], ["failed", 0, { n: "seven" }]);
  assertEquals(r.error, 'response key n: "seven" is not an integer');
  const missing = typedResult(
    { ...ok, response: {}, error: "a line was left out" },
    DECLARED,
    "json",
  );
  assertEquals(missing.error, "response key n: missing, and it is required; a line was left out");
});

Deno.test("a run that did not succeed keeps its outcome and reason; what fits is still typed", () => {
  const failed: ResultBody = { ...ok, outcome: "failed", exit_code: 3, error: "exit 3" };
  const r = typedResult({ ...failed, response: { up: "true" } }, DECLARED, "pipe");
  assertEquals([r.outcome, r.error, r.response], ["failed", "exit 3", { up: true }]);
});
