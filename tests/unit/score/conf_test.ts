import { assertEquals, assertMatch } from "../../_helpers/assert.ts";
import { parseDuration } from "../../../lib/config/units.ts";
import {
  checkParamSpec,
  type ConfProblem,
  DEFAULT_CONF,
  parseConf,
} from "../../../lib/score/conf.ts";

const KNOWN =
  "interface, dir, path, timeout, max_timeout, idempotent, params, response, description, user, group";

function err(line: number, message: string): ConfProblem {
  return { line, severity: "error", message };
}

function hint(line: number, message: string): ConfProblem {
  return { line, severity: "hint", message };
}

Deno.test("a full YAML conf is read into every field", () => {
  const text = `# deploy the app
interface: pipe
dir: /srv/app
path: /usr/local/bin:/usr/bin:/bin
timeout: 30s
max_timeout: 10m
idempotent: true
description: Deploys the app
user: deploy
group: "1001"
params:
  COUNT:
    type: int
    min: 1
    max: 10
    default: 3
    description: how many
  MODE:
    type: enum
    values: [fast, slow]
    required: true
  NAME:
    type: string
    pattern: "[a-z]+"
    max_length: 12
  FLAG: {type: bool, default: false}
  TOKEN: {type: string, secret: true}
response:
  count: {type: int, required: true, min: 0}
  ratio: {type: float, max: 1.5}
  ok: bool
  state: {type: enum, values: [up, down, 3]}
  host.name: {type: string, pattern: "[a-z0-9.-]+", max_length: 253}
`;
  assertEquals(parseConf(text), {
    conf: {
      interface: "pipe",
      dir: "/srv/app",
      path: "/usr/local/bin:/usr/bin:/bin",
      timeout_ms: 30_000,
      max_timeout_ms: 600_000,
      idempotent: true,
      description: "Deploys the app",
      user: "deploy",
      group: "1001",
      params: {
        COUNT: {
          type: "int",
          required: false,
          min: 1,
          max: 10,
          default: "3",
          description: "how many",
        },
        MODE: { type: "enum", required: true, values: ["fast", "slow"] },
        NAME: { type: "string", required: false, pattern: "[a-z]+", max_length: 12 },
        FLAG: { type: "bool", required: false, default: "false" },
        TOKEN: { type: "string", required: false, secret: true },
      },
      response: {
        count: { type: "int", required: true, min: 0 },
        ratio: { type: "float", required: false, max: 1.5 },
        ok: { type: "bool", required: false },
        state: { type: "enum", required: false, values: ["up", "down", "3"] },
        "host.name": {
          type: "string",
          required: false,
          pattern: "[a-z0-9.-]+",
          max_length: 253,
        },
      },
    },
    problems: [],
    legacy: false,
  });
});

Deno.test("an empty conf, or one of comments only, is the default conf", () => {
  for (const text of ["", "\n\n", "# nothing here\n  # nor here\n"]) {
    assertEquals(parseConf(text), { conf: DEFAULT_CONF, problems: [], legacy: false });
  }
  assertEquals(DEFAULT_CONF, {
    interface: "env",
    dir: null,
    path: null,
    timeout_ms: null,
    max_timeout_ms: null,
    idempotent: false,
    params: null,
    response: null,
    description: null,
    user: null,
    group: null,
  });
});

Deno.test("a parameter may be declared by its type alone", () => {
  const { conf, problems } = parseConf("params:\n  N: string\n  C: int\n");
  assertEquals(problems, []);
  assertEquals(conf.params, {
    N: { type: "string", required: false },
    C: { type: "int", required: false },
  });
});

Deno.test("the short form with an unknown type is an error at the parameter's line", () => {
  const { conf, problems } = parseConf("interface: env\nparams:\n  N: float\n");
  assertEquals(problems, [
    err(3, 'parameter N.type: expected one of string, int, bool, enum, got the string "float"'),
  ]);
  assertEquals(conf.params, {});
});

Deno.test("an empty params key declares no parameters (the score takes none)", () => {
  assertEquals(parseConf("params:\n").conf.params, {});
  assertEquals(parseConf("params: {}\n").conf.params, {});
  assertEquals(parseConf("interface: env\n").conf.params, null);
});

Deno.test("bare YAML numbers and booleans are taken as strings in defaults and values", () => {
  const { conf, problems } = parseConf(
    "params:\n  N: {type: int, default: 7}\n  E: {type: enum, values: [1, 2, true], default: 2}\n",
  );
  assertEquals(problems, []);
  assertEquals(conf.params, {
    N: { type: "int", required: false, default: "7" },
    E: { type: "enum", required: false, values: ["1", "2", "true"], default: "2" },
  });
});

Deno.test("a timeout written as a bare number is seconds", () => {
  const { conf, problems } = parseConf("timeout: 1.5\nmax_timeout: 90\n");
  assertEquals(problems, []);
  assertEquals([conf.timeout_ms, conf.max_timeout_ms], [1_500, 90_000]);
});

Deno.test("a timeout written as a bare number is whole milliseconds, as when written as text", () => {
  // The timeout travels to the conductor as an integer (ScoreInfo.timeout_ms);
  // a fraction of a millisecond would make the player's hello a protocol error.
  const bare = parseConf("timeout: 1.0005\n").conf.timeout_ms;
  const text = parseConf('timeout: "1.0005"\n').conf.timeout_ms;
  assertEquals(text, parseDuration("1.0005"));
  assertEquals(bare, text);
});

Deno.test("legacy key=value lines are read, each with a hint giving the YAML form", () => {
  const text = "# old style\ninterface=pipe\n\ntimeout = 30\nidempotent=yes\ndescription=\n";
  assertEquals(parseConf(text), {
    conf: {
      ...DEFAULT_CONF,
      interface: "pipe",
      timeout_ms: 30_000,
      idempotent: true,
      description: "",
    },
    problems: [
      hint(2, "old key=value form; in YAML write: interface: pipe"),
      hint(4, "old key=value form; in YAML write: timeout: 30"),
      hint(5, "old key=value form; in YAML write: idempotent: yes"),
      hint(6, 'old key=value form; in YAML write: description: ""'),
    ],
    legacy: true,
  });
});

Deno.test("a legacy value keeps everything after the first '='", () => {
  const { conf, problems, legacy } = parseConf("description=a=b c\n");
  assertEquals(legacy, true);
  assertEquals(conf.description, "a=b c");
  assertEquals(problems, [hint(1, "old key=value form; in YAML write: description: a=b c")]);
});

Deno.test("a bad legacy value is an error at its line, after the hint", () => {
  const { problems } = parseConf("interface=pipe\ncolour=red\ndir=relative\n");
  assertEquals(problems, [
    hint(1, "old key=value form; in YAML write: interface: pipe"),
    hint(2, "old key=value form; in YAML write: colour: red"),
    err(2, `unknown key 'colour' (known: ${KNOWN})`),
    hint(3, "old key=value form; in YAML write: dir: relative"),
    err(3, `key 'dir': "relative" is not an absolute path`),
  ]);
});

Deno.test("each error is reported at its own line, in line order", () => {
  const text = `interface: http
dir: srv/app
path: /bin:usr/bin
timeout: soon
idempotent: maybe
colour: red
description: fine
`;
  const { conf, problems } = parseConf(text);
  assertEquals(problems, [
    err(1, `key 'interface': "http" is not one of env, pipe, json`),
    err(2, `key 'dir': "srv/app" is not an absolute path`),
    err(3, `key 'path': every folder must be an absolute path; not: "usr/bin"`),
    err(4, `key 'timeout': "soon" is not a duration (e.g. 30s, 10m, 1h)`),
    err(5, `key 'idempotent': "maybe" is not true or false`),
    err(6, `unknown key 'colour' (known: ${KNOWN})`),
  ]);
  // Bad keys keep their defaults; good ones are taken.
  assertEquals(conf, { ...DEFAULT_CONF, description: "fine" });
});

Deno.test("an empty folder in path is not an absolute path", () => {
  assertEquals(parseConf("path: /bin::/usr/bin\n").problems, [
    err(1, `key 'path': every folder must be an absolute path; not: ""`),
  ]);
  assertEquals(parseConf('path: ""\n').problems, [
    err(1, `key 'path': every folder must be an absolute path; not: ""`),
  ]);
});

Deno.test("a zero or negative timeout is not a duration", () => {
  assertEquals(parseConf("timeout: 0\n").problems, [
    err(1, `key 'timeout': "0" is not a duration (e.g. 30s, 10m, 1h)`),
  ]);
  assertEquals(parseConf("max_timeout: -5\n").problems, [
    err(1, `key 'max_timeout': "-5" is not a duration (e.g. 30s, 10m, 1h)`),
  ]);
});

Deno.test("a timeout longer than max_timeout is an error at the timeout's line", () => {
  const { problems } = parseConf("max_timeout: 1m\ninterface: env\ntimeout: 2m\n");
  assertEquals(problems, [err(3, "timeout is longer than max_timeout")]);
  assertEquals(parseConf("timeout: 1m\nmax_timeout: 1m\n").problems, []);
});

Deno.test("a key with a mapping or a list where a single value belongs is an error", () => {
  assertEquals(parseConf("interface: env\ndir:\n  a: b\n").problems, [
    err(2, "key 'dir': expected a single value, not a list or a mapping"),
  ]);
  assertEquals(parseConf("timeout: [1, 2]\n").problems, [
    err(1, "key 'timeout': expected a single value, not a list or a mapping"),
  ]);
});

Deno.test("params that is not a mapping is an error", () => {
  assertEquals(parseConf("interface: env\nparams: none\n").problems, [
    err(2, "key 'params': expected a mapping of parameter names to declarations"),
  ]);
});

Deno.test("a conf that is not a mapping is an error at line 1", () => {
  assertEquals(parseConf("- interface\n- pipe\n").problems, [
    err(1, "expected a mapping of keys to values (e.g. `interface: pipe`)"),
  ]);
});

Deno.test("a YAML syntax error is reported at its line", () => {
  assertEquals(parseConf("interface: pipe\ndescription: x\n\tdir: /a\n").problems, [
    err(3, "Tabs are not allowed as indentation"),
  ]);
});

Deno.test("a key given twice is an error at the second one", () => {
  assertEquals(parseConf("interface: pipe\ntimeout: 1s\ninterface: env\n").problems, [
    err(3, "Map keys must be unique"),
  ]);
});

Deno.test("an enum without values is an error at the parameter's line", () => {
  assertEquals(parseConf("params:\n  A: string\n  M: {type: enum}\n").problems, [
    err(3, "parameter M: type enum needs 'values'"),
  ]);
  assertEquals(parseConf("params:\n  M: {type: enum, values: []}\n").problems, [
    err(2, "parameter M: type enum needs 'values'"),
  ]);
});

Deno.test("a default that does not fit its type is an error", () => {
  assertEquals(parseConf("params:\n  N: {type: int, default: abc}\n").problems, [
    err(2, 'parameter N: default "abc" is not an integer'),
  ]);
  assertEquals(parseConf("params:\n  N: {type: int, max: 5, default: 9}\n").problems, [
    err(2, "parameter N: default 9 is above the maximum 5"),
  ]);
  assertEquals(parseConf("params:\n  E: {type: enum, values: [a, b], default: c}\n").problems, [
    err(2, 'parameter E: default "c" is not one of a, b'),
  ]);
  assertEquals(parseConf("params:\n  B: {type: bool, default: yes}\n").problems, [
    err(2, 'parameter B: default "yes" is not true or false'),
  ]);
});

Deno.test("a required parameter with a default is an error", () => {
  assertEquals(
    parseConf("params:\n  N:\n    type: string\n    required: true\n    default: x\n").problems,
    [err(2, "parameter N: a required parameter cannot have a default")],
  );
});

Deno.test("a declaration is checked for fields that do not belong to its type", () => {
  const cases: [string, string][] = [
    ["{type: int, values: [a]}", "'values' belongs to type enum only"],
    ["{type: int, pattern: a}", "'pattern' belongs to type string only"],
    ["{type: bool, max_length: 3}", "'max_length' belongs to type string only"],
    ["{type: string, min: 1}", "'min' and 'max' belong to type int only"],
    ["{type: int, min: 5, max: 1}", "'min' is above 'max'"],
  ];
  for (const [decl, message] of cases) {
    assertEquals(parseConf(`params:\n  P: ${decl}\n`).problems, [
      err(2, `parameter P: ${message}`),
    ]);
  }
});

Deno.test("a pattern that is not a regular expression is an error", () => {
  const { problems } = parseConf('params:\n  N: {type: string, pattern: "("}\n');
  assertEquals(problems.length, 1);
  assertEquals([problems[0].line, problems[0].severity], [2, "error"]);
  assertMatch(problems[0].message, /^parameter N: 'pattern' is not a valid regular expression: /);
});

Deno.test("a pattern with a backreference is an error at its line, naming the parameter", () => {
  const { problems } = parseConf(
    'interface: env\nparams:\n  OK: string\n  WORD: {type: string, pattern: "(a)\\\\1"}\n',
  );
  assertEquals(problems.length, 1);
  assertEquals([problems[0].line, problems[0].severity], [4, "error"]);
  assertMatch(problems[0].message, /^parameter WORD: 'pattern' uses a backreference \(\\1\)/);
  assertMatch(problems[0].message, /not supported/);
});

Deno.test("an unknown field in a declaration is an error naming it", () => {
  assertEquals(parseConf("params:\n  N: {type: string, colour: red}\n").problems, [
    err(
      2,
      "parameter N.colour: unknown field (known: type, required, default, values, pattern, max_length, min, max, description, secret)",
    ),
  ]);
});

Deno.test("a parameter name that is not a parameter key is an error", () => {
  assertEquals(parseConf("params:\n  OK: string\n  1BAD: string\n").problems, [
    err(
      3,
      `parameter "1BAD": not a parameter key (a letter, then letters, digits or '_', at most 64)`,
    ),
  ]);
});

Deno.test("a parameter declared as a list or nothing is an error", () => {
  assertEquals(parseConf("params:\n  N:\n  M: [a]\n").problems, [
    err(2, "parameter N: expected a type or a mapping with 'type'"),
    err(3, "parameter M: expected a type or a mapping with 'type'"),
  ]);
});

Deno.test("a bad parameter is left out while the good ones stay", () => {
  const { conf } = parseConf("params:\n  GOOD: int\n  BAD: {type: enum}\n");
  assertEquals(conf.params, { GOOD: { type: "int", required: false } });
});

Deno.test("checkParamSpec accepts consistent declarations", () => {
  assertEquals(checkParamSpec({ type: "string", required: true }), undefined);
  assertEquals(
    checkParamSpec({ type: "int", required: false, min: 1, max: 1, default: "1" }),
    undefined,
  );
  assertEquals(
    checkParamSpec({ type: "enum", required: false, values: ["a"], default: "a" }),
    undefined,
  );
  assertEquals(
    checkParamSpec({ type: "string", required: false, pattern: "[0-9]+", default: "42" }),
    undefined,
  );
});

Deno.test("aliases are resolved: a value marked &name may be used again as *name", () => {
  const text = `params:
  MODE:
    type: enum
    values: [&fast fast, slow]
    default: *fast
  OTHER: {type: enum, values: [*fast, medium]}
`;
  const { conf, problems } = parseConf(text);
  assertEquals(problems, []);
  assertEquals(conf.params?.MODE.default, "fast");
  assertEquals(conf.params?.OTHER.values, ["fast", "medium"]);
});

Deno.test("an alias of a mapping where a string belongs is an error at its line, never [object Object]", () => {
  const text = `params:
  M: &m {type: string}
  MODE: {type: enum, values: [*m, slow]}
`;
  assertEquals(parseConf(text).problems, [
    { line: 3, severity: "error", message: "parameter MODE.values[0]: expected a string" },
  ]);
});

Deno.test("aliases that would expand without bound are refused, naming the line", () => {
  const text = `params:
  P:
    type: enum
    values: &a [x, x, x, x, x, x, x, x, x, x]
    description: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
    pattern: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
    max_length: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
`;
  const { problems } = parseConf(text);
  assertEquals(problems.length, 1);
  assertEquals(problems[0].line, 5);
  assertMatch(problems[0].message, /^aliases cannot be resolved: Excessive alias count/);
});

Deno.test("an alias with no anchor is an error at its line", () => {
  assertEquals(parseConf("interface: env\ndescription: *nowhere\n").problems, [
    {
      line: 2,
      severity: "error",
      message:
        "aliases cannot be resolved: Unresolved alias (the anchor must be set before the alias): nowhere",
    },
  ]);
});

Deno.test("a mapping or list used as a key is an error, not a key named [object Object]", () => {
  assertEquals(parseConf("? [a, b]\n: 1\n").problems, [
    {
      line: 1,
      severity: "error",
      message: "expected a plain key (a word), not a list or a mapping",
    },
  ]);
  assertEquals(parseConf("params:\n  ? {a: 1}\n  : string\n").problems, [
    {
      line: 2,
      severity: "error",
      message: "key 'params': expected parameter names, not lists or mappings",
    },
  ]);
});

Deno.test("a timeout of .nan or .inf is refused", () => {
  for (const v of [".nan", ".inf", "-.inf"]) {
    const { conf, problems } = parseConf(`timeout: ${v}\n`);
    assertEquals(problems.length, 1, v);
    assertEquals(conf.timeout_ms, null, v);
  }
});

Deno.test("user and group take names or numeric ids, also in the old key=value form", () => {
  assertEquals(parseConf("user: nobody\ngroup: nogroup\n").conf.user, "nobody");
  assertEquals(parseConf("user: 65534\ngroup: 65534\n").conf.group, "65534");
  const legacy = parseConf("user=nobody\n");
  assertEquals(legacy.conf.user, "nobody");
  assertEquals(legacy.problems.map((p) => p.severity), ["hint"]);
});

Deno.test("a user or group that is no name and no id is an error naming the key", () => {
  for (
    const [text, key] of [
      ["user: 'a b'", "user"],
      ["user: '-x'", "user"],
      ["group: 4294967295", "group"],
      ["user: [root]", "user"],
      ["user: ''", "user"],
    ]
  ) {
    const { conf, problems } = parseConf(`${text}\n`);
    assertEquals(problems.length, 1, text);
    assertMatch(problems[0].message, new RegExp(`^key '${key}': `), text);
    assertEquals(conf.user, null, text);
    assertEquals(conf.group, null, text);
  }
});

Deno.test("a response key may be declared by its type alone", () => {
  const { conf, problems } = parseConf("interface: pipe\nresponse:\n  n: int\n  f: float\n");
  assertEquals(problems, []);
  assertEquals(conf.response, {
    n: { type: "int", required: false },
    f: { type: "float", required: false },
  });
});

Deno.test("an unknown response type is an error at the key's line, naming the key", () => {
  const { conf, problems } = parseConf(
    "interface: pipe\nresponse:\n  ok: bool\n  n: number\n  m: {type: integer}\n",
  );
  assertEquals(problems.map((p) => p.line), [4, 5]);
  assertMatch(problems[0].message, /^response key n\.type: expected one of string, int, float/);
  assertMatch(problems[1].message, /^response key m\.type: .*got the string "integer"/);
  assertEquals(conf.response, { ok: { type: "bool", required: false } });
});

Deno.test("a response declaration that does not hold together is an error at its line", () => {
  const cases: [string, RegExp][] = [
    ["a: enum", /^response key a: type enum needs 'values'$/],
    ["a: {type: int, values: [x]}", /^response key a: 'values' belongs to type enum only$/],
    ["a: {type: bool, pattern: x}", /^response key a: 'pattern' belongs to type string only$/],
    ["a: {type: string, pattern: 'a(?=b)'}", /^response key a: 'pattern' uses .*not supported/],
    ["a: {type: int, max_length: 3}", /^response key a: 'max_length' belongs to type string/],
    ["a: {type: string, min: 1}", /^response key a: 'min' and 'max' belong to types int and/],
    ["a: {type: int, min: 0.5}", /^response key a: 'min' and 'max' of type int must be whole/],
    ["a: {type: float, min: 2, max: 1}", /^response key a: 'min' is above 'max'$/],
    ["a: {type: float, min: x}", /^response key a\.min: expected a number/],
    ["a: {type: int, default: 3}", /^response key a\.default: unknown field/],
    ["a: {type: int, secret: true}", /^response key a\.secret: unknown field/],
    ["a: [int]", /^response key a: expected a type or a mapping with 'type'$/],
    ["1a: int", /^response key "1a": not a response key/],
  ];
  for (const [decl, message] of cases) {
    const { problems } = parseConf(`interface: json\n# typed\nresponse:\n  ${decl}\n`);
    assertEquals(problems.length, 1, decl);
    assertEquals(problems[0].line, 4, decl);
    assertMatch(problems[0].message, message, decl);
  }
});

Deno.test("a response declared on an env score, or as a list, or in the old form, is an error", () => {
  let r = parseConf("interface: env\nresponse:\n  a: int\n");
  assertEquals(r.problems, [
    err(2, "a response is declared, but interface env returns none: use pipe or json"),
  ]);
  r = parseConf("response:\n  a: int\n");
  assertEquals(r.problems.map((p) => p.line), [1]);
  r = parseConf("interface: pipe\nresponse: [a, b]\n");
  assertEquals(r.problems, [
    err(2, "key 'response': expected a mapping of response keys to declarations"),
  ]);
  r = parseConf("interface=pipe\nresponse=a\n");
  assertEquals(
    r.problems.filter((p) => p.severity === "error"),
    [err(2, "response cannot be declared in the old key=value form; write the conf in YAML")],
  );
});
