import { assertEquals } from "../../_helpers/assert.ts";
import { Backoff } from "../../../lib/player/backoff.ts";

const delays = (b: Backoff, n: number) => Array.from({ length: n }, () => b.next());

Deno.test("with the largest random value the delay doubles from the base up to the cap", () => {
  const b = new Backoff(100, 1000, () => 1);
  assertEquals(delays(b, 7), [100, 200, 400, 800, 1000, 1000, 1000]);
});

Deno.test("the delay is a random part of the ceiling (full jitter)", () => {
  const b = new Backoff(1000, 60_000, () => 0.5);
  assertEquals(delays(b, 4), [500, 1000, 2000, 4000]);
});

Deno.test("the delay is never below 50 ms", () => {
  const b = new Backoff(100, 1000, () => 0);
  assertEquals(delays(b, 3), [50, 50, 50]);
  const c = new Backoff(100, 1000, () => 0.1);
  assertEquals(delays(c, 4), [50, 50, 50, 80]);
});

Deno.test("after very many failures the delay stays at the cap", () => {
  const b = new Backoff(100, 30_000, () => 1);
  const all = delays(b, 100);
  assertEquals(all.slice(-3), [30_000, 30_000, 30_000]);
  assertEquals(all.every((d) => Number.isFinite(d) && d <= 30_000), true);
});

Deno.test("reset starts again from the base", () => {
  const b = new Backoff(100, 1000, () => 1);
  delays(b, 5);
  b.reset();
  assertEquals(delays(b, 3), [100, 200, 400]);
});

Deno.test("max makes the next delay between half the cap and the cap, then stays high", () => {
  const low = new Backoff(100, 1000, () => 0);
  low.max();
  assertEquals(low.next(), 500);
  assertEquals(low.next(), 50); // full jitter again, from the cap's ceiling
  const high = new Backoff(100, 1000, () => 1);
  high.max();
  assertEquals(delays(high, 3), [1000, 1000, 1000]);
});

Deno.test("reset after max starts again from the base", () => {
  const b = new Backoff(100, 1000, () => 1);
  b.max();
  b.reset();
  assertEquals(delays(b, 2), [100, 200]);
});

Deno.test("while the conductor is down (nothing listens) the delay is capped at 5 s, whatever the cap", () => {
  const b = new Backoff(250, 30_000, () => 1);
  const down = Array.from({ length: 8 }, () => b.next(true));
  assertEquals(down, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
  // A refusal (the conductor was there) lets the wait grow to the full cap again.
  assertEquals(delays(b, 2), [30_000, 30_000]);
  // A cap below 5 s stays the cap.
  const small = new Backoff(250, 1000, () => 1);
  assertEquals(Array.from({ length: 4 }, () => small.next(true)), [250, 500, 1000, 1000]);
});

Deno.test("after max, a conductor found down waits at most the shorter cap", () => {
  const b = new Backoff(250, 30_000, () => 1);
  b.max();
  assertEquals(b.next(true), 5000);
});
