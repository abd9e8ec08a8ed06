import { assert, assertEquals } from "../../_helpers/assert.ts";
import { reconnectDelays, reconnectWindow } from "../../../lib/conductor/reconnect.ts";

Deno.test("the window is a quarter second for a few players, grows by 1 s per 5,000, and is at most 3 s", () => {
  assertEquals(reconnectWindow(0), 250);
  assertEquals(reconnectWindow(1), 251);
  assertEquals(reconnectWindow(200), 290);
  assertEquals(reconnectWindow(5000), 1250);
  assertEquals(reconnectWindow(10_000), 2250);
  assertEquals(reconnectWindow(13_750), 3000);
  assertEquals(reconnectWindow(1_000_000), 3000);
});

Deno.test("each player gets its own slot of the window: evenly spread, none outside it", () => {
  for (const n of [1, 7, 200, 10_000]) {
    for (const r of [0, 0.5, 0.999999]) {
      const { delays, windowMs } = reconnectDelays(n, () => r);
      assertEquals(delays.length, n);
      assertEquals(windowMs, reconnectWindow(n));
      const slot = windowMs / n;
      delays.forEach((d, i) => {
        assert(d >= Math.floor(slot * i) && d < windowMs, `${n} players: delay ${i} is ${d}`);
        assert(d <= slot * (i + 1), `${n} players: delay ${i} is ${d}, past its slot`);
      });
    }
  }
});

Deno.test("no players, no delays", () => {
  assertEquals(reconnectDelays(0).delays, []);
});
