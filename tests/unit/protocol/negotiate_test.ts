import { assertEquals } from "../../_helpers/assert.ts";
import { formatRange, helloRange, negotiate } from "../../../lib/protocol/negotiate.ts";

Deno.test("the highest major both ends speak is chosen", () => {
  assertEquals(negotiate({ min: 1, max: 1 }, { min: 1, max: 1 }), { ok: true, major: 1 });
  assertEquals(negotiate({ min: 1, max: 1 }, { min: 1, max: 3 }), { ok: true, major: 1 });
  assertEquals(negotiate({ min: 1, max: 2 }, { min: 1, max: 3 }), { ok: true, major: 2 });
  assertEquals(negotiate({ min: 2, max: 4 }, { min: 1, max: 3 }), { ok: true, major: 3 });
  assertEquals(negotiate({ min: 1, max: 5 }, { min: 3, max: 3 }), { ok: true, major: 3 });
});

Deno.test("ranges that do not meet are refused, naming both", () => {
  assertEquals(negotiate({ min: 1, max: 1 }, { min: 2, max: 3 }), {
    ok: false,
    message: "no protocol version in common: the player speaks 2..3, this conductor speaks 1",
  });
  assertEquals(negotiate({ min: 4, max: 6 }, { min: 1, max: 3 }), {
    ok: false,
    message: "no protocol version in common: the player speaks 1..3, this conductor speaks 4..6",
  });
});

Deno.test("a hello without a range speaks exactly its protocol", () => {
  assertEquals(helloRange({ protocol: 1 }), { min: 1, max: 1 });
  assertEquals(helloRange({ protocol: 2 }), { min: 2, max: 2 });
  assertEquals(helloRange({ protocol: 1, protocols: { min: 1, max: 3 } }), { min: 1, max: 3 });
  assertEquals(negotiate({ min: 1, max: 1 }, helloRange({ protocol: 1 })), { ok: true, major: 1 });
  assertEquals(negotiate({ min: 1, max: 1 }, helloRange({ protocol: 2 })).ok, false);
});

Deno.test("a range reads as one number or min..max", () => {
  assertEquals(formatRange({ min: 1, max: 1 }), "1");
  assertEquals(formatRange({ min: 1, max: 3 }), "1..3");
});
