import { assertEquals } from "../../_helpers/assert.ts";
import { maskCut, maskResult, maskText, secretValues } from "../../../lib/protocol/masking.ts";
import type { ParamSpec, ResultBody } from "../../../lib/protocol/mod.ts";
import { checkParams } from "../../../lib/score/params.ts";

const DECLARED: Record<string, ParamSpec> = {
  TOKEN: { type: "string", required: false, secret: true },
  LONGER: { type: "string", required: false, secret: true },
  PIN: { type: "string", required: false, secret: true },
  NAME: { type: "string", required: false },
};

function result(over: Partial<ResultBody>): ResultBody {
  return {
    outcome: "succeeded",
    exit_code: 0,
    signal: null,
    response: {},
    stdout_tail: "",
    stderr_tail: "",
    started_at: 1,
    ended_at: 2,
    error: null,
    ...over,
  };
}

Deno.test("only declared secret values of 4 characters or more are masked, longest first", () => {
  assertEquals(
    secretValues(DECLARED, { TOKEN: "abcd", LONGER: "xxabcdxx", PIN: "123", NAME: "visible" }),
    ["xxabcdxx", "abcd"],
  );
  assertEquals(secretValues(null, { TOKEN: "abcdef" }), []);
  assertEquals(maskText("1 xxabcdxx 2 abcd", ["xxabcdxx", "abcd"]), "1 [secret] 2 [secret]");
});

Deno.test("output kept head and tail is masked in both ends, and its dropped counts stay", () => {
  const masked = maskResult(
    result({
      stdout_tail: "pw=hunter22\n[… 999 bytes dropped …]\nagain hunter22\n",
      stdout_dropped: 999,
      stderr_dropped: 3,
    }),
    ["hunter22"],
  );
  assertEquals(masked.stdout_tail, "pw=[secret]\n[… 999 bytes dropped …]\nagain [secret]\n");
  assertEquals([masked.stdout_dropped, masked.stderr_dropped], [999, 3]);
});

Deno.test("a result's tails, error and response keys and values are masked at any depth", () => {
  const s = ["hunter22"];
  const masked = maskResult(
    result({
      stdout_tail: "pw=hunter22\n",
      stderr_tail: "hunter22hunter22",
      error: "bad hunter22",
      response: { a: "hunter22", hunter22: 1, deep: [[{ x: "is hunter22" }]], n: 5 },
    }),
    s,
  );
  assertEquals(masked.stdout_tail, "pw=[secret]\n");
  assertEquals(masked.stderr_tail, "[secret][secret]");
  assertEquals(masked.error, "bad [secret]");
  assertEquals(
    JSON.parse(JSON.stringify(masked.response)),
    { a: "[secret]", "[secret]": 1, deep: [[{ x: "is [secret]" }]], n: 5 },
  );
});

Deno.test("a response nested deeper than any stack is masked all the same", () => {
  let deep: unknown = "hunter22";
  for (let i = 0; i < 100_000; i++) deep = [deep];
  const masked = maskResult(result({ response: { d: deep } }), ["hunter22"]);
  let v = (masked.response as { d: unknown }).d;
  while (Array.isArray(v)) v = v[0];
  assertEquals(v, "[secret]");
});

Deno.test("a parameter problem never quotes a secret value", () => {
  const check = checkParams(
    {
      T: { type: "string", required: true, secret: true, pattern: "[a-z]+" },
      N: { type: "int", required: true, secret: true, max: 5 },
      B: { type: "bool", required: true, secret: true },
    },
    { T: "Sup3rSecret", N: "9123", B: "maybe-secret" },
  );
  assertEquals(check, {
    ok: false,
    problems: [
      "parameter T: the secret value does not match the pattern [a-z]+",
      "parameter N: the secret value is above the maximum 5",
      "parameter B: the secret value is not true or false",
    ],
  });
});

Deno.test("a secret cut in two where output was dropped is masked on both sides of the cut", () => {
  const secrets = ["correcthorse"];
  const text = "start\nvalue is corre\n[… 999 bytes dropped …]\nthorse, end\n";
  assertEquals(
    maskCut(text, secrets),
    "start\nvalue is [secret]\n[… 999 bytes dropped …]\n[secret], end\n",
  );
  // Through the result: only when bytes were dropped.
  const r = maskResult(result({ stdout_tail: text, stdout_dropped: 999 }), secrets);
  assertEquals(r.stdout_tail, maskCut(text, secrets));
  assertEquals(maskResult(result({ stdout_tail: "corre" }), secrets).stdout_tail, "corre");
  assertEquals(maskCut("no cut here corre", secrets), "no cut here corre");
});
