import { assert, assertEquals, assertMatch, assertThrows } from "../../_helpers/assert.ts";
import {
  compilePattern,
  MAX_PATTERN_SIZE,
  patternProblem,
  patternSize,
} from "../../../lib/score/pattern.ts";

const matches = (pattern: string, value: string) => compilePattern(pattern).test(value);

Deno.test("a pattern matches the whole value, as if anchored at both ends", () => {
  assert(matches("[a-z]+", "abc"));
  assert(!matches("[a-z]+", "abc1"));
  assert(!matches("[a-z]+", "1abc"));
  assert(!matches("[a-z]+", ""));
  assert(!matches("[a-z]+", "abc\n"));
});

Deno.test("an address pattern with classes, counts and groups matches what it says", () => {
  const ip = String.raw`\d{1,3}(\.\d{1,3}){3}`;
  assert(matches(ip, "10.0.0.1"));
  assert(matches(ip, "192.168.100.255"));
  assert(!matches(ip, "10.0.0"));
  assert(!matches(ip, "10.0.0.1.5"));
  assert(!matches(ip, "1000.0.0.1"));
  assert(!matches(ip, "10.0.0.1 "));
});

Deno.test("alternation is anchored as a whole, not only its first and last branch", () => {
  assert(matches("start|stop|restart", "stop"));
  assert(matches("start|stop|restart", "restart"));
  assert(!matches("start|stop|restart", "stopx"));
  assert(!matches("start|stop|restart", "xstart"));
  assert(!matches("a|b", "ab"));
});

Deno.test("a pattern cannot close the anchoring group to match more than it says", () => {
  assertMatch(patternProblem("a)|(.*")!, /^is not a valid regular expression: /);
  assert(!compilePattern("[a)]|x").test("zzz"));
});

Deno.test("(a+)+b against 10,000 a's is answered, in linear time", () => {
  assert(!matches("(a+)+b", "a".repeat(10_000)));
  assert(!matches("(a+)+b", `${"a".repeat(29)}c`));
  assert(matches("(a+)+b", `${"a".repeat(29)}b`));
});

Deno.test("backreferences and lookarounds are refused as features that are not supported", () => {
  const cases: [string, string][] = [
    [String.raw`(a)\1`, String.raw`a backreference (\1)`],
    [String.raw`(?<w>a)\k<w>`, String.raw`a named backreference (\k<…>)`],
    ["a(?=b)", "a lookahead ((?=…)"],
    ["a(?!b)", "a negative lookahead ((?!…)"],
    ["(?<=a)b", "a lookbehind ((?<=…)"],
    ["(?<!a)b", "a negative lookbehind ((?<!…)"],
    ["(?>a+)b", "an atomic group ((?>…)"],
    ["a++", "a possessive quantifier (++)"],
  ];
  for (const [pattern, feature] of cases) {
    const problem = patternProblem(pattern);
    assertEquals(
      problem,
      `uses ${feature}, a feature that is not supported: patterns are RE2 syntax, ` +
        "matched in linear time (no backreferences, lookahead or lookbehind)",
      pattern,
    );
  }
});

Deno.test("escaped look-alikes of unsupported features are ordinary patterns", () => {
  assert(matches(String.raw`\\1`, "\\1"));
  assert(matches(String.raw`[(?=]+`, "(?="));
  assert(matches(String.raw`\(\?=x\)`, "(?=x)"));
  assert(matches(String.raw`\Q(?=\E`, "(?="));
});

Deno.test("a pattern that does not compile says why, and compiling throws a SyntaxError", () => {
  assertMatch(patternProblem("[a-")!, /^is not a valid regular expression: missing closing \]/);
  assertMatch(patternProblem("a{2,1}")!, /invalid repeat count/);
  const err = assertThrows(() => compilePattern("("), /^is not a valid regular expression/);
  assert(err instanceof SyntaxError);
});

Deno.test("a pattern longer than 1000 characters is refused", () => {
  assertEquals(patternProblem("a".repeat(1000)), undefined);
  assertEquals(
    patternProblem("a".repeat(1001)),
    "is 1001 characters long; at most 1000 are allowed",
  );
});

Deno.test("a pattern whose repetitions make it too large is refused before it is compiled", () => {
  assertEquals(patternProblem(".{1000}".repeat(10)), undefined);
  assertMatch(patternProblem(".{1000}".repeat(11))!, /^is too large \(size about 11000, at most/);
  assertMatch(patternProblem(String.raw`\pL{1000}`.repeat(100))!, /^is too large/);
});

Deno.test("the size estimate follows RE2's count for patterns people write", () => {
  assertEquals(patternSize("[a-z0-9-]{1,63}"), 125);
  assertEquals(patternSize(String.raw`\d{1,3}(\.\d{1,3}){3}`), 29);
  assertEquals(patternSize("abc"), 3);
  assertEquals(patternSize("a|b"), 3);
  assert(patternSize("(?:(?:a{10}){10}){10}") >= 1000);
  assert(patternSize(String.raw`\x{41}{500}\p{Greek}{500}`) >= 1000);
  assert(MAX_PATTERN_SIZE >= patternSize("[a-zA-Z0-9._-]{1,255}") * 10);
});

Deno.test("a pattern is compiled once and the same one is given back", () => {
  assert(compilePattern("[0-9]+x") === compilePattern("[0-9]+x"));
});

Deno.test("a problem quoting the pattern writes its control characters escaped", () => {
  const problem = patternProblem("[\x1b[31m")!;
  assertMatch(problem, /missing closing \]/);
  assert(!problem.includes("\x1b"), problem);
  assertMatch(problem, /\\u001b/);
});

Deno.test("a pattern counts characters, not UTF-16 units, and explicit anchors are harmless", () => {
  assert(matches(".", "😀"));
  assert(!matches(".{2}", "😀"));
  assert(matches("^abc$", "abc"));
  assert(!matches("a$", "a\n"));
});
