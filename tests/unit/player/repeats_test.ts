import { assertEquals } from "../../_helpers/assert.ts";
import { RepeatFilter } from "../../../lib/player/repeats.ts";

Deno.test("a line is shown once; its repeats are not, until a reminder 10 minutes later says how many", () => {
  let now = 0;
  const f = new RepeatFilter(8, 600_000, () => now);
  assertEquals(f.note("c1", "bad name"), { show: true, repeats: 0 });
  for (let i = 1; i <= 99; i++) {
    now += 5000;
    assertEquals(f.note("c1", "bad name").show, false);
  }
  now = 600_000;
  assertEquals(f.note("c1", "bad name"), { show: true, repeats: 99 });
  now += 1000;
  assertEquals(f.note("c1", "bad name"), { show: false, repeats: 1 });
});

Deno.test("another line, or another conductor, is shown at once", () => {
  const f = new RepeatFilter(8, 600_000, () => 0);
  assertEquals(f.note("c1", "a").show, true);
  assertEquals(f.note("c2", "a").show, true);
  assertEquals(f.note("c1", "b"), { show: true, repeats: 0 });
  assertEquals(f.note("c1", "a"), { show: true, repeats: 0 });
  assertEquals(f.note("c1", "a").show, false);
});

Deno.test("after clear every line is news again", () => {
  const f = new RepeatFilter(8, 600_000, () => 0);
  f.note("c1", "a");
  f.clear();
  assertEquals(f.note("c1", "a").show, true);
});

Deno.test("at most maxKeys conductors are remembered, the oldest forgotten first", () => {
  const f = new RepeatFilter(2, 600_000, () => 0);
  f.note("c1", "a");
  f.note("c2", "a");
  f.note("c3", "a");
  assertEquals(f.note("c3", "a").show, false);
  assertEquals(f.note("c1", "a").show, true);
});
