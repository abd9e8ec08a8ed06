import { assertEquals, assertThrows } from "../../_helpers/assert.ts";
import { conductorKeys } from "../../../lib/config/mod.ts";

const DAY = 86_400_000;

Deno.test("retention is a duration of a minute or more, or 0 or off for keeping everything", () => {
  const k = conductorKeys.retention;
  assertEquals(k.default, 30 * DAY);
  assertEquals(conductorKeys.audit_retention.default, 400 * DAY);
  assertEquals(k.parse("7d"), 7 * DAY);
  assertEquals(k.parse("off"), 0);
  assertEquals(k.parse("0"), 0);
  assertEquals(k.parse(0), 0);
  assertThrows(() => k.parse("30s"), /too short to keep a finished job/);
  assertThrows(() => k.parse("soon"), /is not a duration/);
  assertThrows(() => k.parse("4000d"), /out of range/);
});
