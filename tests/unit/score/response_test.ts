import fc from "fast-check";
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { RESPONSE_TYPES, type ResponseSpec } from "../../../lib/protocol/mod.ts";
import {
  checkResponse,
  checkResponseSpec,
  MAX_RESPONSE_PROBLEMS,
} from "../../../lib/score/response.ts";

const DECLARED: Record<string, ResponseSpec> = {
  count: { type: "int", required: true, min: 0, max: 100 },
  ratio: { type: "float", required: false, min: 0, max: 1 },
  ok: { type: "bool", required: false },
  state: { type: "enum", required: false, values: ["up", "down"] },
  host: { type: "string", required: false, pattern: "[a-z0-9.-]+", max_length: 10 },
};

Deno.test("pipe text is converted to the declared types", () => {
  assertEquals(
    checkResponse(
      DECLARED,
      { count: "42", ratio: "0.25", ok: "true", state: "up", host: "web1" },
      true,
    ),
    {
      values: { count: 42, ratio: 0.25, ok: true, state: "up", host: "web1" },
      problems: [],
    },
  );
  assertEquals(checkResponse(DECLARED, { count: "-0", ok: "false", ratio: "1e0" }, true), {
    values: { count: -0, ok: false, ratio: 1 },
    problems: [],
  });
});

Deno.test("json values must already be of the declared types", () => {
  assertEquals(checkResponse(DECLARED, { count: 3, ratio: 0.5, ok: false }, false), {
    values: { count: 3, ratio: 0.5, ok: false },
    problems: [],
  });
  assertEquals(
    checkResponse(DECLARED, { count: "3", ratio: "0.5", ok: "true", state: 1 }, false).problems,
    [
      'response key count: "3" is not an integer',
      'response key ratio: "0.5" is not a number',
      'response key ok: "true" is not true or false',
      "response key state: the number 1 is not one of up, down",
    ],
  );
});

Deno.test("each way of breaking a declaration is named with its key", () => {
  const problems = (response: Record<string, unknown>) =>
    checkResponse(DECLARED, { count: "1", ...response }, true).problems;
  assertEquals(problems({ count: "three" }), ['response key count: "three" is not an integer']);
  assertEquals(problems({ count: "1.5" }), ['response key count: "1.5" is not an integer']);
  assertEquals(problems({ count: "101" }), ["response key count: 101 is above the maximum 100"]);
  assertEquals(problems({ count: "99999999999999999" }), [
    'response key count: "99999999999999999" is not an integer',
  ]);
  assertEquals(problems({ ratio: "1.5" }), ["response key ratio: 1.5 is above the maximum 1"]);
  assertEquals(problems({ ratio: "NaN" }), ['response key ratio: "NaN" is not a number']);
  assertEquals(problems({ ratio: "Infinity" }), ['response key ratio: "Infinity" is not a number']);
  assertEquals(problems({ ratio: "1e999" }), ['response key ratio: "1e999" is not a number']);
  assertEquals(problems({ ok: "yes" }), ['response key ok: "yes" is not true or false']);
  assertEquals(problems({ state: "sideways" }), [
    'response key state: "sideways" is not one of up, down',
  ]);
  assertEquals(problems({ host: "Web 1" }), [
    'response key host: "Web 1" does not match the pattern "[a-z0-9.-]+"',
  ]);
  assertEquals(problems({ host: "a".repeat(11) }), [
    "response key host: is longer than 10 characters",
  ]);
  assertEquals(problems({ extra: "x" }), [
    'response key "extra": not declared (declared: count, ratio, ok, state, host)',
  ]);
  assertEquals(checkResponse(DECLARED, {}, true).problems, [
    "response key count: missing, and it is required",
  ]);
});

Deno.test("a value that breaks its declaration is kept as the score gave it; the rest are typed", () => {
  assertEquals(checkResponse(DECLARED, { count: "x", ok: "true" }, true).values, {
    count: "x",
    ok: true,
  });
});

Deno.test("control characters in a value are escaped in the problem", () => {
  assertEquals(checkResponse(DECLARED, { count: "1\u001b[2J" }, true).problems, [
    'response key count: "1\\u001b[2J" is not an integer',
  ]);
});

Deno.test("problems beyond the first few are counted, not listed", () => {
  const response: Record<string, string> = { count: "1" };
  for (let i = 0; i < 20; i++) response[`k${i}`] = "v";
  const { problems } = checkResponse(DECLARED, response, true);
  assertEquals(problems.length, MAX_RESPONSE_PROBLEMS + 1);
  assertEquals(problems.at(-1), "and 15 more");
});

Deno.test("keys named like Object's own properties are only keys", () => {
  const response = JSON.parse('{"__proto__": "1", "constructor": "2", "count": "3"}');
  const r = checkResponse(DECLARED, response, true);
  assertEquals(Object.getPrototypeOf(r.values), Object.prototype);
  assertEquals(Object.keys(r.values), ["__proto__", "constructor", "count"]);
  assertEquals(r.problems.length, 2);
  assertEquals(({} as Record<string, unknown>).count, undefined);
});

const SPEC: fc.Arbitrary<ResponseSpec> = fc.record({
  type: fc.constantFrom(...RESPONSE_TYPES),
  required: fc.boolean(),
  values: fc.array(fc.string({ maxLength: 5 }), { minLength: 1, maxLength: 4 }),
  pattern: fc.constantFrom("[a-z]+", ".*", "\\d{1,3}", "(a|b)*c"),
  max_length: fc.nat(20),
  min: fc.integer({ min: -1000, max: 0 }),
  max: fc.integer({ min: 0, max: 1000 }),
}, { requiredKeys: ["type", "required"] }).map((s) => {
  // Keep only the fields that belong to the type, as the conf would.
  const out: ResponseSpec = { type: s.type, required: s.required };
  if (s.type === "enum") out.values = s.values ?? ["x"];
  if (s.type === "string") {
    if (s.pattern !== undefined) out.pattern = s.pattern;
    if (s.max_length !== undefined) out.max_length = s.max_length;
  }
  if (s.type === "int" || s.type === "float") {
    if (s.min !== undefined) out.min = s.min;
    if (s.max !== undefined) out.max = s.max;
  }
  return out;
});
const KEY = fc.oneof(
  fc.constantFrom("a", "b", "n", "__proto__", "constructor", "toString"),
  fc.string({ maxLength: 8 }),
);
const DECLARATION = fc.dictionary(fc.constantFrom("a", "b", "n", "x.y"), SPEC, { maxKeys: 4 });

function typeOk(spec: ResponseSpec, v: unknown): boolean {
  switch (spec.type) {
    case "int":
      return Number.isSafeInteger(v);
    case "float":
      return typeof v === "number" && Number.isFinite(v);
    case "bool":
      return typeof v === "boolean";
    case "enum":
      return typeof v === "string" && spec.values!.includes(v as string);
    case "string":
      return typeof v === "string";
  }
}

Deno.test("arbitrary responses never crash the checker, and what it passes has the declared types", () => {
  const textValue = fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.constantFrom("1", "-3", "0.5", "1e3", "1e999", "true", "false", "NaN", " 1", "0x10", "x"),
  );
  fc.assert(
    fc.property(
      DECLARATION,
      fc.oneof(
        fc.record({ text: fc.constant(true), response: fc.dictionary(KEY, textValue) }),
        fc.record({
          text: fc.boolean(),
          response: fc.dictionary(KEY, fc.jsonValue({ maxDepth: 2 })),
        }),
      ),
      (declared, { text, response }) => {
        for (const spec of Object.values(declared)) {
          assertEquals(checkResponseSpec(spec), undefined);
        }
        const r = checkResponse(declared, response, text);
        assertEquals(Object.keys(r.values).sort(), Object.keys(response).sort());
        assert(r.problems.length <= MAX_RESPONSE_PROBLEMS + 1);
        for (const p of r.problems) {
          assert(p.startsWith("response key ") || /^and \d+ more$/.test(p), p);
          // deno-lint-ignore no-control-regex -- control characters are what must not appear
          assert(!/[\x00-\x1f\x7f-\x9f\u2028\u2029]/.test(p), p);
        }
        if (r.problems.length > 0) return;
        for (const [key, spec] of Object.entries(declared)) {
          if (!Object.hasOwn(response, key)) {
            assert(!spec.required, key);
            continue;
          }
          const v = r.values[key];
          assert(typeOk(spec, v), `${key}: ${JSON.stringify(v)} as ${spec.type}`);
          if (typeof v === "number") {
            assert(spec.min === undefined || v >= spec.min);
            assert(spec.max === undefined || v <= spec.max);
          }
        }
        for (const key of Object.keys(response)) assert(Object.hasOwn(declared, key), key);
      },
    ),
    { numRuns: 500 },
  );
});
