import { assertEquals } from "../../_helpers/assert.ts";
import { ManualClock } from "../../_helpers/clock.ts";
import { inProcessConductor, settle } from "../../_helpers/in_process.ts";
import { EmptyStore } from "../../_helpers/store.ts";
import { TestPlayer } from "../../_helpers/test_player.ts";
import { LAST_SEEN_FLUSH_MS } from "../../../lib/conductor/mod.ts";
import { LastSeen } from "../../../lib/conductor/last_seen.ts";
import type { WriteTx } from "../../../lib/store/mod.ts";

Deno.test("many heartbeats make one write per interval, with each player's latest time", () => {
  const clock = new ManualClock();
  const t0 = clock.now();
  const writes: { player: string; at: number; when: number }[] = [];
  const seen = new LastSeen({
    clock,
    flushMs: 5000,
    touch: (player, at) => writes.push({ player, at, when: clock.now() }),
  });
  // Two players heard every 100 ms for 12 s.
  for (let ms = 0; ms < 12_000; ms += 100) {
    seen.heard("p1", clock.now());
    if (ms % 200 === 0) seen.heard("p2", clock.now());
    clock.advance(100);
  }
  // Writes at 5 s and at 10 s, each with the latest time of each player before it.
  assertEquals(writes, [
    { player: "p1", at: t0 + 4900, when: t0 + 5000 },
    { player: "p2", at: t0 + 4800, when: t0 + 5000 },
    { player: "p1", at: t0 + 9900, when: t0 + 10_000 },
    { player: "p2", at: t0 + 9800, when: t0 + 10_000 },
  ]);
  assertEquals(seen.pending, 2);
});

Deno.test("nothing heard, nothing written; a player forgotten is not written", () => {
  const clock = new ManualClock();
  const writes: string[] = [];
  const seen = new LastSeen({ clock, flushMs: 1000, touch: (p) => writes.push(p) });
  clock.advance(10_000);
  assertEquals(writes, []);
  seen.heard("p1", clock.now());
  seen.heard("p2", clock.now());
  seen.forget("p1");
  clock.advance(1000);
  assertEquals(writes, ["p2"]);
  clock.advance(10_000);
  assertEquals(writes, ["p2"]);
});

Deno.test("once stopped, no timed write happens; flush still writes what is pending", () => {
  const clock = new ManualClock();
  const writes: string[] = [];
  const seen = new LastSeen({ clock, flushMs: 1000, touch: (p) => writes.push(p) });
  seen.heard("p1", clock.now());
  seen.stop();
  clock.advance(5000);
  assertEquals(writes, []);
  assertEquals(seen.flush(), 1);
  assertEquals(writes, ["p1"]);
});

/** An empty store that records the last-seen times of each commit that has any. */
class TouchStore extends EmptyStore {
  readonly touches: { name: string; at: number }[][] = [];
  override write(fn: (tx: WriteTx) => void): Promise<void> {
    return super.write((tx) =>
      fn({ ...tx, touchPlayers: (players) => void this.touches.push([...players]) })
    );
  }
}

Deno.test("a connected player's last seen moves on with every frame; the store gets one write per interval", async () => {
  const store = new TouchStore();
  const clock = new ManualClock();
  await using h = await inProcessConductor({ players: ["p1", "p2"], store, clock });
  const p1 = new TestPlayer(h.conductor, "p1");
  const p2 = new TestPlayer(h.conductor, "p2");
  await p1.join();
  await p2.join();
  const joined = clock.now();
  const lastSeen = async (name: string) =>
    (await h.conductor.service.players()).find((p) => p.name === name)!.last_seen;
  assertEquals(await lastSeen("p1"), joined);

  // Heartbeats (frames without a message) and messages, every second, for three intervals.
  const seconds = (3 * LAST_SEEN_FLUSH_MS) / 1000;
  for (let s = 1; s <= seconds; s++) {
    clock.advance(1000);
    p1.heartbeat();
    if (s % 2 === 0) p2.send({ type: "ready", slots: 1 });
    await settle();
    assertEquals(await lastSeen("p1"), clock.now());
  }
  assertEquals(await lastSeen("p2"), clock.now());
  // One write per interval (the first frame after the hello started it), each with both
  // players' latest times before it: p1 heard every second, p2 every other.
  assertEquals(store.touches.length, 3);
  for (const [i, batch] of store.touches.entries()) {
    const end = joined + (i + 1) * LAST_SEEN_FLUSH_MS;
    assertEquals(batch.sort((a, b) => a.name.localeCompare(b.name)), [
      { name: "p1", at: end - 1000 },
      { name: "p2", at: end - 2000 },
    ]);
  }
});

Deno.test("a stop writes the players' last frames, so that an ordinary restart loses none", async () => {
  const store = new TouchStore();
  const clock = new ManualClock();
  const h = await inProcessConductor({ players: ["p1"], store, clock });
  const p1 = new TestPlayer(h.conductor, "p1");
  await p1.join();
  clock.advance(1500);
  p1.heartbeat();
  assertEquals(store.touches, []);
  await h[Symbol.asyncDispose]();
  assertEquals(store.touches, [[{ name: "p1", at: clock.now() }]]);
});
