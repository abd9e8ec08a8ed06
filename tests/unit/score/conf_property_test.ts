import fc from "fast-check";
import { stringify } from "yaml";
import { assert, assertEquals } from "../../_helpers/assert.ts";
import {
  LIMITS,
  PARAM_KEY,
  PARAM_TYPES,
  RESPONSE_KEY,
  RESPONSE_TYPES,
  SCORE_INTERFACES,
} from "../../../lib/protocol/mod.ts";
import { checkResponseSpec } from "../../../lib/score/response.ts";
import {
  ACCOUNT,
  checkParamSpec,
  CONF_KEYS,
  type ConfParse,
  parseConf,
} from "../../../lib/score/conf.ts";

const SPEC_FIELDS = new Set([
  "type",
  "required",
  "default",
  "values",
  "pattern",
  "max_length",
  "min",
  "max",
  "description",
  "secret",
]);

/** Every rule an accepted conf keeps, whatever text it came from. */
function checkRules(text: string, r: ConfParse): void {
  const where = `conf ${JSON.stringify(text)}`;
  const c = r.conf;
  assertEquals(
    Object.keys(c).sort(),
    [
      "description",
      "dir",
      "group",
      "idempotent",
      "interface",
      "max_timeout_ms",
      "params",
      "path",
      "response",
      "timeout_ms",
      "user",
    ],
    where,
  );
  assert(SCORE_INTERFACES.includes(c.interface), where);
  assert(c.dir === null || (typeof c.dir === "string" && c.dir.startsWith("/")), where);
  assert(c.path === null || c.path.split(":").every((p) => p.startsWith("/")), where);
  for (const ms of [c.timeout_ms, c.max_timeout_ms]) {
    assert(ms === null || (Number.isSafeInteger(ms) && ms > 0 && ms <= LIMITS.maxTimeoutMs), where);
  }
  assert(typeof c.idempotent === "boolean", where);
  assert(c.description === null || typeof c.description === "string", where);
  assert(c.user === null || ACCOUNT.test(c.user), where);
  assert(c.group === null || (ACCOUNT.test(c.group) && c.user !== null), where);
  for (const p of r.problems) {
    assert(Number.isInteger(p.line) && p.line >= 0, where);
    assert(!p.message.includes("[object Object]"), `${where}: ${p.message}`);
  }
  for (const [name, spec] of Object.entries(c.response ?? {})) {
    assert(RESPONSE_KEY.test(name), `${where}: response key ${name}`);
    assert(RESPONSE_TYPES.includes(spec.type), where);
    assert(typeof spec.required === "boolean", where);
    assert(spec.values === undefined || spec.values.every((v) => typeof v === "string"), where);
    assert(!JSON.stringify(spec).includes("[object Object]"), where);
    assertEquals(checkResponseSpec(spec), undefined, where);
  }
  if (c.params === null) return;
  assert(Object.keys(c.params).length <= LIMITS.maxParams || r.problems.length > 0, where);
  for (const [name, spec] of Object.entries(c.params)) {
    assert(PARAM_KEY.test(name), `${where}: param ${name}`);
    for (const k of Object.keys(spec)) assert(SPEC_FIELDS.has(k), `${where}: field ${k}`);
    assert(PARAM_TYPES.includes(spec.type), where);
    assert(typeof spec.required === "boolean", where);
    assert(spec.default === undefined || typeof spec.default === "string", where);
    assert(spec.values === undefined || spec.values.every((v) => typeof v === "string"), where);
    // A list or mapping where text belongs is refused, never turned into text.
    assert(!JSON.stringify(spec).includes("[object Object]"), where);
    assert(spec.secret === undefined || spec.secret === true, where);
    assertEquals(checkParamSpec(spec), undefined, where);
  }
}

function parseChecked(text: string): ConfParse {
  const r = parseConf(text);
  checkRules(text, r);
  return r;
}

const KEYS = [...Object.keys(CONF_KEYS), "colour", "__proto__", "constructor", "<<"];
const SCALAR = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom("/srv", "30s", "pipe", "json", "nobody", "65534", "true", ".nan", "1constructor"),
);
const VALUE = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    SCALAR,
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(
      fc.oneof(fc.constantFrom(...SPEC_FIELDS), fc.string({ maxLength: 6 })),
      tie("value"),
      {
        maxKeys: 4,
      },
    ),
  ),
})).value;
const SPEC = fc.record({
  type: fc.oneof(fc.constantFrom(...PARAM_TYPES, "float"), VALUE),
  values: fc.oneof(fc.array(SCALAR, { maxLength: 3 }), VALUE),
  default: VALUE,
  required: fc.oneof(fc.boolean(), VALUE),
  secret: fc.oneof(fc.boolean(), VALUE),
  min: VALUE,
  max: VALUE,
}, { requiredKeys: [] });
const CONF = fc.dictionary(
  fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })),
  fc.oneof(
    VALUE,
    fc.dictionary(
      fc.oneof(fc.stringMatching(/^[A-Z_]{1,6}$/), fc.string()),
      fc.oneof(SPEC, VALUE),
      { maxKeys: 4 },
    ),
  ),
  { maxKeys: 8 },
);

Deno.test("arbitrary values dumped to YAML never crash the parser, and what it accepts keeps every rule", () => {
  fc.assert(
    fc.property(CONF, (value) => {
      parseChecked(stringify(value));
    }),
    { numRuns: 500 },
  );
});

/** Lines of conf-like YAML, with anchors, aliases, flow collections and stray syntax. */
const LINE = fc.oneof(
  fc.constantFrom(
    "params:",
    "  P:",
    "  Q: string",
    "    type: enum",
    "    type: string",
    "    values: [&a fast, slow]",
    "    values: [*a, slow]",
    "    values: *m",
    "    values: [*m, slow]",
    "  E: {type: enum, values: [*m, *a, x]}",
    "    default: *a",
    "    secret: true",
    "    secret: yes",
    "  M: &m {type: string}",
    "timeout: *a",
    "user: *a",
    "user: nobody",
    "group: 0",
    "interface: pipe",
    "dir: &d /srv",
    "path: *d",
    "? [a]",
    ": b",
    "- x",
    "{",
    "]",
    "&x",
    "*x",
    "'",
    "timeout: .nan",
    "max_timeout: 1e999",
    "idempotent: ~",
    "description: !!binary aGk=",
    "<<: *m",
  ),
  fc.string({ maxLength: 20 }),
);

Deno.test("arbitrary conf-like text with aliases never crashes the parser, and what it accepts keeps every rule", () => {
  fc.assert(
    fc.property(fc.array(LINE, { maxLength: 12 }), (lines) => {
      parseChecked(lines.join("\n"));
    }),
    { numRuns: 3000 },
  );
});

Deno.test("arbitrary text never crashes the parser, and what it accepts keeps every rule", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (text) => {
      parseChecked(text);
    }),
    { numRuns: 2000 },
  );
});

/** Declarations whose fields are aliases of a mapping, a list or text, anywhere a value goes. */
const FIELD_VALUE = fc.constantFrom(
  "*m",
  "*l",
  "*t",
  "[*m, slow]",
  "[*t, slow]",
  "[*l]",
  "fast",
  "{x: 1}",
  "[1, true]",
  "~",
  "3",
);
const DECLARED = fc.dictionary(
  fc.stringMatching(/^P[A-Z]{0,2}$/),
  fc.dictionary(
    fc.constantFrom("type", "values", "default", "secret", "required", "description", "pattern"),
    fc.oneof(FIELD_VALUE, fc.constantFrom("enum", "string", "int", "bool")),
    { minKeys: 1, maxKeys: 5 },
  ),
  { minKeys: 1, maxKeys: 4 },
);

Deno.test("aliases of any kind inside declarations are resolved or refused, never turned into text", () => {
  fc.assert(
    fc.property(DECLARED, fc.constantFrom("user", "description", "timeout"), (decl, key) => {
      const lines = [
        "params:",
        "  ZM: &m {type: string}",
        "  ZL: &l {type: enum, values: [a, b]}",
        "  ZT: &t fast",
      ];
      for (const [name, fields] of Object.entries(decl)) {
        lines.push(`  ${name}:`);
        for (const [f, v] of Object.entries(fields)) lines.push(`    ${f}: ${v}`);
      }
      lines.push(`${key}: *m`);
      const r = parseChecked(lines.join("\n"));
      // A mapping where a single value belongs is always an error.
      assert(r.problems.some((p) => p.message.startsWith(`key '${key}'`)), lines.join("\n"));
    }),
    { numRuns: 500 },
  );
});
