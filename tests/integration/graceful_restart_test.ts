/**
 * A conductor stopped on purpose (SIGTERM) tells its players when to come
 * back; they do, without waiting their backoff. Players that do not know
 * the `reconnect` message are told nothing and keep working as before.
 */

import { assert, assertEquals } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { RawPlayer, rawScore } from "../_helpers/raw_player.ts";

Deno.test("a conductor restarted with SIGTERM has its player back at the time it said, not after the player's backoff", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const first = await c.startConductor();
  // The longest backoff there is: a player left to it could wait minutes.
  const p1 = await c.startPlayer("p1", { extra: ["--reconnect-max", "10m"] });

  await first.proc.stop();
  const told = await first.proc.waitFor(/players told to reconnect players=1 within_ms=(\d+)/);
  const notice = await p1.waitFor(
    /INFO +the conductor is stopping and asked this player to reconnect .*in_ms=(\d+) retry_ms=(\d+)/,
  );
  assert(Number(notice[1]) < Number(told[1]), `delay ${notice[1]} outside ${told[1]} ms`);
  assertEquals(notice[2], told[1]);
  const from = p1.lines.findIndex((l) => l.includes("asked this player to reconnect"));

  await c.startConductor();
  await p1.waitFor(/INFO +connected to the conductor/, 15_000, from);
  await c.waitConnected("p1");
  const between = p1.lines.slice(
    from,
    p1.lines.findIndex((l, i) => i > from && l.includes("connected to the conductor")),
  );
  // Every wait between the notice and the welcome was the notice's, none the backoff's.
  const waits = between.filter((l) => /DEBUG +reconnecting /.test(l));
  assert(waits.every((l) => / wait=notice\b/.test(l)), waits.join("\n"));
  // A restart announced is not a problem to warn about.
  const warnings = between.filter((l) => /^\S+ (WARN|ERROR) /.test(l));
  assertEquals(warnings, []);

  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  assertEquals((await c.wait(id)).aggregate, "success");
});

Deno.test("only players that speak protocol minor 4 are told to reconnect; an older one just sees the close", async () => {
  await using c = await Cluster.create({ players: ["old", "new", "older"] });
  const conductor = await c.startConductor();
  const ECHO = [rawScore("echo", null)];
  await using old = await RawPlayer.connect(c, "old");
  old.hello({ protocol: 1, minor: 3, scores: ECHO });
  await old.next("welcome");
  await using older = await RawPlayer.connect(c, "older");
  older.hello({ scores: ECHO });
  await older.next("welcome");
  await using young = await RawPlayer.connect(c, "new");
  young.hello({ protocol: 1, minor: 4, scores: ECHO });
  await young.next("welcome");

  await conductor.proc.stop();
  await Promise.all([old.closed, older.closed, young.closed]);
  const told = await young.next("reconnect");
  assert(typeof told.delay_ms === "number" && typeof told.retry_ms === "number");
  assert(told.delay_ms < told.retry_ms, JSON.stringify(told));
  for (const p of [old, older]) {
    const types = p.received.map((f) => f.type);
    assert(!types.includes("reconnect"), `${p.name} got ${types.join(",")}`);
  }
  await conductor.proc.waitFor(/players told to reconnect players=1 /);
});
