import { assertEquals, assertMatch } from "../../_helpers/assert.ts";
import { emptyResult, sendableResult } from "../../../lib/player/runner.ts";
import type { ResultBody } from "../../../lib/protocol/mod.ts";

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
