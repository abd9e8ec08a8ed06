import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertNotMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { orch } from "../_helpers/proc.ts";

Deno.test("a second player on a state dir in use is refused, naming the player that holds it and what to do", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  const first = await c.startPlayer("p1");
  const stateDir = join(c.dir, "state-p1");

  const second = await orch(c.playerArgs("p1"));
  // Refused as a user's mistake (not a bug, which exits 1).
  assert(second.code !== 0 && second.code !== 1, `exit ${second.code}: ${second.stderr}`);
  assertMatch(
    second.stderr,
    new RegExp(
      `another player \\(pid ${first.child.pid}\\) is using the state dir ${stateDir}: its journal journal\\.db is locked`,
    ),
  );
  assertMatch(
    second.stderr,
    /hint: stop that player first, or give this one a state dir of its own \(--state-dir, the state_dir key\)/,
  );
  assertNotMatch(second.stderr, /conductor/);
  // The first player goes on, untouched.
  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  assertEquals((await c.wait(id)).aggregate, "success");

  // Once it stopped, the state dir is free again, and its pid file gone.
  await first.stop();
  await Deno.stat(join(stateDir, "player.pid")).then(
    () => Promise.reject(new Error("player.pid left behind")),
    () => {},
  );
  await c.startPlayer("p1");
});
