import { assert, assertEquals, assertMatch, assertNotMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { RawPlayer, rawScore } from "../_helpers/raw_player.ts";
import { OrchError } from "../../lib/errors.ts";

Deno.test("a player announcing a pattern with a backreference is refused at the hello, naming score and parameter", async () => {
  await using c = await Cluster.create({ players: ["rp"] });
  const conductor = await c.startConductor();
  await using rp = await RawPlayer.connect(c, "rp");
  rp.hello({
    scores: [
      rawScore("fine", { NAME: { type: "string", required: false, pattern: "[a-z]+" } }),
      rawScore("evil", { WORD: { type: "string", required: false, pattern: String.raw`(a)\1` } }),
    ],
  });
  const refuse = await rp.next(["welcome", "refuse"]);
  assertEquals([refuse.type, refuse.code], ["refuse", "protocol"]);
  assertMatch(
    refuse.message as string,
    /^announced scores: score evil parameter WORD: 'pattern' uses a backreference \(\\1\), a feature that is not supported/,
  );
  await rp.closed;
  await conductor.proc.waitFor(/refused a player .*score evil parameter WORD/);
  assertEquals((await c.client.players()).find((p) => p.name === "rp")?.connected, false);
});

Deno.test("a pattern built to backtrack, (a+)+b, neither stalls the conductor nor drops other players", async () => {
  await using c = await Cluster.create({ players: ["p1", "rp"], heartbeat: "1s" });
  const conductor = await c.startConductor();
  await c.startPlayer("p1");
  await using rp = await RawPlayer.connect(c, "rp");
  rp.hello({
    scores: [rawScore("slow", { X: { type: "string", required: false, pattern: "(a+)+b" } })],
  });
  await rp.next("welcome");
  rp.send({ type: "ready", slots: 1 });
  await c.waitConnected("rp");

  // With a backtracking engine this value takes many seconds to refuse, far past the heartbeat.
  const err = await c.client.submit({
    score: "slow",
    scope: "all",
    targets: ["rp"],
    params: { X: `${"a".repeat(29)}c` },
  }).then(() => undefined, (e) => e);
  assert(err instanceof OrchError, `expected a refusal, got ${err}`);
  assertEquals(err.code, "invalid");
  assertMatch(err.message, /parameter X: "a+c" does not match the pattern \(a\+\)\+b/);

  // A value that fits is admitted with the same compiled pattern, and runs.
  const id = await c.client.submit({
    score: "slow",
    scope: "all",
    targets: ["rp"],
    params: { X: `${"a".repeat(29)}b` },
  });
  await rp.runNext();
  assertEquals((await c.wait(id)).aggregate, "success");

  // The real player stayed connected all along and still runs work.
  const hello = await c.client.submit({
    score: "hello",
    scope: "all",
    targets: ["p1"],
    params: {},
  });
  assertEquals((await c.wait(hello)).aggregate, "success");
  assertNotMatch(conductor.proc.log, /player disconnected/);
});
