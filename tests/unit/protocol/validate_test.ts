import { assertEquals } from "../../_helpers/assert.ts";
import { clip, describe, utf8Length } from "../../../lib/protocol/validate.ts";

Deno.test("utf8Length agrees with TextEncoder for well-formed text", () => {
  const enc = new TextEncoder();
  for (
    const s of [
      "",
      "abc",
      "é",
      "ünïcödé",
      "€",
      "😀",
      "a😀b€c",
      "\u0000",
      "\u07ff\u0800\uffff",
      "𐍈".repeat(3),
    ]
  ) {
    assertEquals(utf8Length(s), enc.encode(s).length, JSON.stringify(s));
  }
});

Deno.test("describe names a value's type for messages", () => {
  assertEquals(describe(null), "null");
  assertEquals(describe(undefined), "nothing");
  assertEquals(describe([1]), "an array");
  assertEquals(describe("x"), 'the string "x"');
  assertEquals(describe(1.5), "the number 1.5");
  assertEquals(describe(false), "false");
  assertEquals(describe({}), "an object");
  assertEquals(describe(() => 1), "a function");
});

Deno.test("clip cuts long text with an ellipsis to the given length", () => {
  assertEquals(clip("abc", 3), "abc");
  assertEquals(clip("abcd", 3), "ab…");
  assertEquals(clip("x".repeat(80)), "x".repeat(80));
  assertEquals(clip("x".repeat(81)), `${"x".repeat(79)}…`);
});
