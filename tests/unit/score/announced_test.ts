import { assertEquals, assertMatch } from "../../_helpers/assert.ts";
import type { ParamSpec, ScoreInfo } from "../../../lib/protocol/messages.ts";
import { checkAnnouncedScores, MAX_ANNOUNCED_PATTERN_SIZE } from "../../../lib/score/announced.ts";

function score(name: string, params: Record<string, Partial<ParamSpec>> | null): ScoreInfo {
  return {
    name,
    interface: "env",
    params: params === null ? null : Object.fromEntries(
      Object.entries(params).map(([k, v]) => [k, { type: "string", required: false, ...v }]),
    ),
    timeout_ms: null,
    max_timeout_ms: null,
    idempotent: false,
  };
}

Deno.test("sound announcements pass, with or without declared parameters", () => {
  assertEquals(
    checkAnnouncedScores([
      score("free", null),
      score("hello", { NAME: { pattern: "[a-z ]+", default: "world" } }),
      score("ping", { HOST: { pattern: String.raw`\d{1,3}(\.\d{1,3}){3}` } }),
    ]),
    undefined,
  );
});

Deno.test("a pattern with a backreference is refused, naming the score and the parameter", () => {
  const problem = checkAnnouncedScores([
    score("hello", { NAME: { pattern: "[a-z]+" } }),
    score("evil", { OK: {}, WORD: { pattern: String.raw`(a)\1` } }),
  ]);
  assertMatch(problem!, /^score evil parameter WORD: 'pattern' uses a backreference \(\\1\)/);
});

Deno.test("a pattern that does not compile is refused, naming the score and the parameter", () => {
  assertMatch(
    checkAnnouncedScores([score("broken", { X: { pattern: "([a-z]" } })])!,
    /^score broken parameter X: 'pattern' is not a valid regular expression: missing closing \)/,
  );
});

Deno.test("a declaration a conf would refuse is refused when announced", () => {
  assertEquals(
    checkAnnouncedScores([score("s", { N: { type: "int", pattern: "[0-9]+" } })]),
    "score s parameter N: 'pattern' belongs to type string only",
  );
  assertEquals(
    checkAnnouncedScores([score("s", { N: { pattern: "[0-9]+", default: "x" } })]),
    'score s parameter N: default "x" does not match the pattern [0-9]+',
  );
});

Deno.test("patterns too large together are refused before they are all compiled", () => {
  // Each is within the limit for one pattern; together they are not.
  const scores = Array.from(
    { length: 12 },
    (_, i) => score(`s${i}`, { P: { pattern: `.{1000}`.repeat(9) + `x{${i + 1}}` } }),
  );
  assertMatch(
    checkAnnouncedScores(scores)!,
    new RegExp(
      `^score s\\d+ parameter P: the patterns announced are too large together \\(size over ${MAX_ANNOUNCED_PATTERN_SIZE}\\)$`,
    ),
  );
  // The same pattern announced many times counts once.
  const same = Array.from(
    { length: 50 },
    (_, i) => score(`s${i}`, { P: { pattern: ".{1000}".repeat(9) } }),
  );
  assertEquals(checkAnnouncedScores(same), undefined);
});
