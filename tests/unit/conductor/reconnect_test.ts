import { assert, assertEquals } from "../../_helpers/assert.ts";
import { reconnectDelays, reconnectWindow } from "../../../lib/conductor/reconnect.ts";

Deno.test("the window is 1 s for a few players, grows with the fleet, and is at most 3 s", () => {
  assertEquals(reconnectWindow(0), 1000);
  assertEquals(reconnectWindow(1), 1001);
  assertEquals(reconnectWindow(200), 1040);
  assertEquals(reconnectWindow(5000), 2000);
  assertEquals(reconnectWindow(10_000), 3000);
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
