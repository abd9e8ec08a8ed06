import fc from "fast-check";
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { formatDuration, parseDuration, parseSize, readSize } from "../../../lib/config/units.ts";

const UNITISH = fc.constantFrom(
  "",
  "ms",
  "s",
  "m",
  "h",
  "d",
  "k",
  "KiB",
  "MiB",
  "GiB",
  "b",
  "constructor",
  "__proto__",
  "toString",
  "e3",
  "Infinity",
  "NaN",
  " ",
  ".",
  "-",
);
/** Text built of digits, dots and unit-like words: near misses of durations and sizes. */
const NEAR = fc.array(fc.oneof(fc.stringMatching(/^\d{0,25}(\.\d{0,5})?$/), UNITISH), {
  maxLength: 6,
}).map((parts) => parts.join(""));
const TEXT = fc.oneof(fc.string({ maxLength: 40 }), NEAR);

function sound(n: number | undefined): boolean {
  return n === undefined || (Number.isSafeInteger(n) && n >= 0);
}

Deno.test("no text parses to a duration or size that is NaN, infinite, fractional or negative", () => {
  fc.assert(
    fc.property(TEXT, (text) => {
      assert(sound(parseDuration(text)), `duration ${JSON.stringify(text)}`);
      assert(sound(parseSize(text)), `size ${JSON.stringify(text)}`);
      const r = readSize(text);
      assert(typeof r !== "number" || sound(r), `readSize ${JSON.stringify(text)}`);
    }),
    { numRuns: 5000 },
  );
});

Deno.test("a whole number of milliseconds, seconds or bytes written out parses back exactly", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (n) => {
      assertEquals(parseDuration(`${n}ms`), n);
      assertEquals(parseDuration(`${n}`), n * 1000);
      assertEquals(parseSize(String(n)), n);
      assertEquals(parseSize(`${n}KiB`), n * 1024);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("a formatted duration parses back to within the precision it is shown with", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 400 * 86_400_000 }), (ms) => {
      const text = formatDuration(ms);
      const back = parseDuration(text);
      assert(back !== undefined, `${ms} formatted as ${text} does not parse`);
      const slack = ms < 1000
        ? 0.5
        : ms < 10_000
        ? 5
        : ms < 60_000
        ? 50
        : ms < 3_600_000
        ? 500
        : ms < 86_400_000
        ? 30_000
        : 3_600_000; // days and whole hours: the minutes are dropped
      assert(Math.abs(back - ms) <= slack + 1, `${ms} -> ${text} -> ${back}`);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("a duration is rounded once: 23h22m29.5s shows as 23h22m", () => {
  // Rounded to seconds first (23h22m30s), then to minutes, it read 23h23m: off by 30.5 s.
  assertEquals(formatDuration(84_149_500), "23h22m");
  assertEquals(formatDuration(84_150_000), "23h23m");
});
