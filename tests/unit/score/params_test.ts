import { assert, assertEquals } from "../../_helpers/assert.ts";
import type { ParamSpec } from "../../../lib/protocol/messages.ts";
import { checkParams, checkValue } from "../../../lib/score/params.ts";

const int = (extra: Partial<ParamSpec> = {}): ParamSpec => ({
  type: "int",
  required: false,
  ...extra,
});
const str = (extra: Partial<ParamSpec> = {}): ParamSpec => ({
  type: "string",
  required: false,
  ...extra,
});

Deno.test("an int accepts optional minus and up to 16 digits within the safe range", () => {
  for (const v of ["0", "42", "-3", "007", "9007199254740991", "-9007199254740991"]) {
    assertEquals(checkValue(int(), v), undefined, v);
  }
});

Deno.test("an int refuses anything else", () => {
  for (
    const v of [
      "",
      "4.2",
      "+5",
      "1e3",
      " 1",
      "1 ",
      "0x10",
      "abc",
      "12345678901234567",
      "9007199254740993",
    ]
  ) {
    assertEquals(checkValue(int(), v), `${JSON.stringify(v)} is not an integer`, v);
  }
});

Deno.test("an int is checked against its bounds", () => {
  const spec = int({ min: 1, max: 10 });
  assertEquals(checkValue(spec, "1"), undefined);
  assertEquals(checkValue(spec, "10"), undefined);
  assertEquals(checkValue(spec, "0"), "0 is below the minimum 1");
  assertEquals(checkValue(spec, "-4"), "-4 is below the minimum 1");
  assertEquals(checkValue(spec, "11"), "11 is above the maximum 10");
});

Deno.test("a bool is exactly true or false", () => {
  const spec: ParamSpec = { type: "bool", required: false };
  assertEquals(checkValue(spec, "true"), undefined);
  assertEquals(checkValue(spec, "false"), undefined);
  for (const v of ["True", "yes", "1", ""]) {
    assertEquals(checkValue(spec, v), `${JSON.stringify(v)} is not true or false`);
  }
});

Deno.test("an enum is one of its values", () => {
  const spec: ParamSpec = { type: "enum", required: false, values: ["fast", "slow"] };
  assertEquals(checkValue(spec, "fast"), undefined);
  assertEquals(checkValue(spec, "slow"), undefined);
  assertEquals(checkValue(spec, "Fast"), '"Fast" is not one of fast, slow');
});

Deno.test("a string is checked against max_length in characters, not bytes or UTF-16 units", () => {
  const spec = str({ max_length: 3 });
  assertEquals(checkValue(spec, ""), undefined);
  assertEquals(checkValue(spec, "héé"), undefined);
  assertEquals(checkValue(spec, "😀😀😀"), undefined);
  assertEquals(checkValue(spec, "abcd"), "is longer than 3 characters");
  assertEquals(checkValue(spec, "😀😀😀😀"), "is longer than 3 characters");
});

Deno.test("a string pattern must match the whole value", () => {
  const spec = str({ pattern: "[a-z]+" });
  assertEquals(checkValue(spec, "abc"), undefined);
  assertEquals(checkValue(spec, "abc1"), '"abc1" does not match the pattern [a-z]+');
  assertEquals(checkValue(spec, "1abc"), '"1abc" does not match the pattern [a-z]+');
});

Deno.test("a pattern with alternation is anchored as a whole", () => {
  const spec = str({ pattern: "a|b" });
  assertEquals(checkValue(spec, "a"), undefined);
  assertEquals(checkValue(spec, "b"), undefined);
  assertEquals(checkValue(spec, "ab"), '"ab" does not match the pattern a|b');
  assertEquals(checkValue(spec, "xa"), '"xa" does not match the pattern a|b');
});

Deno.test("a string without limits accepts anything", () => {
  assertEquals(checkValue(str(), ""), undefined);
  assertEquals(checkValue(str(), "x".repeat(65536)), undefined);
});

Deno.test("a long value is quoted cut short in messages", () => {
  const v = "x".repeat(100);
  assertEquals(checkValue(int(), v), `"${"x".repeat(59)}…" is not an integer`);
});

Deno.test("with nothing declared, any parameters are accepted as they are", () => {
  const params = { A: "1", whatever: "x" };
  const out = checkParams(null, params);
  assertEquals(out, { ok: true, values: { A: "1", whatever: "x" } });
  // A copy, not the caller's object.
  if (out.ok) out.values.B = "2";
  assertEquals(params, { A: "1", whatever: "x" });
  assertEquals(checkParams(null, {}), { ok: true, values: {} });
});

Deno.test("a score that declares no parameters refuses every parameter", () => {
  assertEquals(checkParams({}, { X: "1" }), {
    ok: false,
    problems: ["unknown parameter X (the score takes none)"],
  });
  assertEquals(checkParams({}, {}), { ok: true, values: {} });
});

const declared: Record<string, ParamSpec> = {
  COUNT: int({ min: 1 }),
  NAME: str({ default: "world" }),
  MODE: { type: "enum", required: true, values: ["a", "b"] },
  NOTE: str(),
};

Deno.test("defaults are filled in and optional parameters without a default left out", () => {
  assertEquals(checkParams(declared, { COUNT: "2", MODE: "a" }), {
    ok: true,
    values: { COUNT: "2", NAME: "world", MODE: "a" },
  });
});

Deno.test("a given value wins over the default, even when empty", () => {
  assertEquals(checkParams(declared, { MODE: "b", NAME: "" }), {
    ok: true,
    values: { NAME: "", MODE: "b" },
  });
});

Deno.test("unknown, missing required and bad values are all reported together", () => {
  assertEquals(checkParams(declared, { COUNT: "0", EXTRA: "x", OTHER: "y" }), {
    ok: false,
    problems: [
      "unknown parameter EXTRA (declared: COUNT, NAME, MODE, NOTE)",
      "unknown parameter OTHER (declared: COUNT, NAME, MODE, NOTE)",
      "parameter COUNT: 0 is below the minimum 1",
      "parameter MODE is required",
    ],
  });
});

Deno.test("a parameter named like an Object member is not taken as declared or given", () => {
  assertEquals(checkParams({ A: str() }, { constructor: "x" }), {
    ok: false,
    problems: ["unknown parameter constructor (declared: A)"],
  });
  assertEquals(checkParams({ toString: str({ required: true }) }, {}), {
    ok: false,
    problems: ["parameter toString is required"],
  });
});

Deno.test("a value the assignment marks secret is never quoted, though the conf does not declare it secret", () => {
  const declared = { PIN: { type: "int" as const, required: true } };
  const plain = checkParams(declared, { PIN: "abc-9d1e" });
  assert(!plain.ok && plain.problems[0].includes("abc-9d1e"));
  const marked = checkParams(declared, { PIN: "abc-9d1e" }, ["PIN"]);
  assert(!marked.ok);
  assertEquals(marked.problems, ["parameter PIN: the secret value is not an integer"]);
});
