import { assertEquals, assertThrows } from "../../_helpers/assert.ts";
import { LabelCap, OTHER_LABEL } from "../../../lib/metrics/mod.ts";
import { isLoopback } from "../../../lib/metrics/mod.ts";

Deno.test("a label cap keeps the first values seen and reports later ones as other", () => {
  const cap = new LabelCap(3);
  assertEquals(["a", "b", "c"].map((v) => cap.label(v)), ["a", "b", "c"]);
  assertEquals(cap.label("d"), OTHER_LABEL);
  assertEquals(cap.label("e"), OTHER_LABEL);
  // A value kept before the cap was reached stays itself.
  assertEquals(cap.label("b"), "b");
  assertEquals(cap.size, 3);
});

Deno.test("a label cap refuses a bound that is not a positive integer", () => {
  assertThrows(() => new LabelCap(0), /0 is not an integer in 1\.\.100000/);
  assertThrows(() => new LabelCap(1.5), /1\.5 is not an integer/);
});

Deno.test("loopback addresses are 127.0.0.0/8, ::1 and localhost", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "localhost"]) assertEquals(isLoopback(h), true);
  for (const h of ["0.0.0.0", "10.0.0.1", "::", "128.0.0.1", "example.com"]) {
    assertEquals(isLoopback(h), false);
  }
});
