import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { RawPlayer, rawScore } from "../_helpers/raw_player.ts";
import { PROTOCOL_MINOR } from "../../lib/protocol/mod.ts";

const ECHO = [rawScore("echo", null)];

Deno.test("a newer player (minor 99, majors 1..3) is welcomed on 1, and a message type unknown here is ignored", async () => {
  await using c = await Cluster.create({ players: ["p1", "rp"] });
  const conductor = await c.startConductor();
  const p1 = await c.startPlayer("p1");
  // The real player says what it speaks and logs what was chosen.
  await p1.waitFor(new RegExp(`connected to the conductor .*protocol=1\\.${PROTOCOL_MINOR}\\b`));
  await conductor.proc.waitFor(
    new RegExp(`player connected player=p1 .*protocol=1\\.${PROTOCOL_MINOR}\\b`),
  );

  await using rp = await RawPlayer.connect(c, "rp");
  rp.hello({ protocol: 1, protocols: { min: 1, max: 3 }, minor: 99, scores: ECHO });
  const welcome = await rp.next(["welcome", "refuse"]);
  assertEquals([welcome.type, welcome.protocol, welcome.minor], ["welcome", 1, PROTOCOL_MINOR]);
  await conductor.proc.waitFor(/player connected player=rp .*protocol=1\.99/);

  rp.send({ type: "future_thing" });
  rp.send({ type: "future_thing", detail: { any: "thing" } });
  rp.send({ type: "ready", slots: 1 });
  const id = await c.client.submit({ score: "echo", scope: "all", targets: ["rp"], params: {} });
  await rp.runNext({ said: "hi" });
  const job = await c.wait(id);
  assertEquals(job.aggregate, "success");
  assertEquals(job.tasks[0].response, { said: "hi" });
  assert(!rp.isClosed, "the newer player was disconnected");

  const ignored = conductor.proc.lines.filter((l) => l.includes("does not know"));
  assertEquals(ignored.length, 1, ignored.join("\n"));
  assertMatch(
    ignored[0],
    /ignored a message of a type this conductor does not know player=rp type=future_thing/,
  );
});

Deno.test("an older player (a hello with one protocol number, no minor) keeps working", async () => {
  await using c = await Cluster.create({ players: ["rp"] });
  const conductor = await c.startConductor();
  await using rp = await RawPlayer.connect(c, "rp");
  rp.hello({ scores: ECHO });
  const welcome = await rp.next(["welcome", "refuse"]);
  assertEquals([welcome.type, welcome.protocol], ["welcome", 1]);
  await conductor.proc.waitFor(/player connected player=rp .*protocol=1\.0/);
  rp.send({ type: "ready", slots: 1 });
  const id = await c.client.submit({ score: "echo", scope: "all", targets: ["rp"], params: {} });
  await rp.runNext();
  assertEquals((await c.wait(id)).aggregate, "success");
});

Deno.test("a player that speaks only majors 2..3 is refused, naming both ranges", async () => {
  await using c = await Cluster.create({ players: ["rp"] });
  const conductor = await c.startConductor();
  await using rp = await RawPlayer.connect(c, "rp");
  rp.hello({ protocol: 2, protocols: { min: 2, max: 3 }, minor: 0, scores: ECHO });
  const refuse = await rp.next(["welcome", "refuse"]);
  assertEquals([refuse.type, refuse.code], ["refuse", "protocol"]);
  assertEquals(
    refuse.message,
    "no protocol version in common: the player speaks 2..3, this conductor speaks 1",
  );
  await rp.closed;
  await conductor.proc.waitFor(/refused a player .*no protocol version in common/);
});
