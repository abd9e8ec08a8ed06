import { assertEquals } from "../../_helpers/assert.ts";
import {
  formatDuration,
  parseDuration,
  parseSize,
  readSize,
  SIZE_UNIT_NAMES,
} from "../../../lib/config/units.ts";

Deno.test("durations are read in every unit", () => {
  const cases: [string, number][] = [
    ["250ms", 250],
    ["1ms", 1],
    ["15s", 15_000],
    ["2m", 120_000],
    ["3h", 10_800_000],
    ["1d", 86_400_000],
    ["0s", 0],
  ];
  for (const [text, ms] of cases) assertEquals(parseDuration(text), ms, text);
});

Deno.test("a duration may combine units and use fractions", () => {
  assertEquals(parseDuration("1m30s"), 90_000);
  assertEquals(parseDuration("1h2m3s4ms"), 3_723_004);
  assertEquals(parseDuration("1.5s"), 1_500);
  assertEquals(parseDuration("0.25m"), 15_000);
});

Deno.test("a bare number is seconds, rounded to whole milliseconds", () => {
  assertEquals(parseDuration("30"), 30_000);
  assertEquals(parseDuration("0.5"), 500);
  assertEquals(parseDuration("1.0005"), 1_001);
});

Deno.test("surrounding blanks are ignored in a duration", () => {
  assertEquals(parseDuration("  15s\t"), 15_000);
});

Deno.test("text that is not a duration gives undefined", () => {
  for (const t of ["", "s", "abc", "-1s", "15 s", "1s2", "1w", "1.s", ".5s", "10sec", "1e3"]) {
    assertEquals(parseDuration(t), undefined, JSON.stringify(t));
  }
});

Deno.test("durations are written the short way", () => {
  const cases: [number, string][] = [
    [0, "0ms"],
    [250, "250ms"],
    [999, "999ms"],
    [1000, "1s"],
    [1250, "1.25s"],
    [1500, "1.5s"],
    [15_000, "15s"],
    [12_500, "12.5s"],
    [60_000, "1m00s"],
    [90_000, "1m30s"],
    [125_000, "2m05s"],
    [3_600_000, "1h00m"],
    [11_400_000, "3h10m"],
    [86_400_000, "1d00h"],
    [90_061_000, "1d01h"],
  ];
  for (const [ms, text] of cases) assertEquals(formatDuration(ms), text, String(ms));
});

Deno.test("sizes are read as bytes with decimal and binary units, any case", () => {
  const cases: [string, number][] = [
    ["4096", 4096],
    ["10b", 10],
    ["1k", 1000],
    ["1KB", 1000],
    ["64KiB", 65_536],
    ["64kib", 65_536],
    ["1MiB", 1_048_576],
    ["1 MiB", 1_048_576],
    ["2mb", 2_000_000],
    ["1GiB", 1_073_741_824],
    ["1.5KiB", 1536],
    [" 1M ", 1_000_000],
  ];
  for (const [text, n] of cases) assertEquals(parseSize(text), n, text);
});

Deno.test("text that is not a size gives undefined", () => {
  for (const t of ["", "KiB", "-1", "1TB", "1 2", "one", "1.2.3"]) {
    assertEquals(parseSize(t), undefined, JSON.stringify(t));
  }
});

Deno.test("a size unit is looked up as a unit only: prototype names are unknown units", () => {
  for (const unit of ["constructor", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf"]) {
    assertEquals(parseSize(`1${unit}`), undefined, unit);
    assertEquals(readSize(`1${unit}`), `unknown unit "${unit}" (known: ${SIZE_UNIT_NAMES})`);
  }
});

Deno.test("sizes and durations too large to count exactly are not accepted", () => {
  assertEquals(parseSize("9".repeat(30)), undefined);
  assertEquals(readSize("99999999999GiB"), "it is too large");
  assertEquals(parseDuration("9".repeat(30) + "d"), undefined);
  assertEquals(parseDuration("9".repeat(400)), undefined);
});
