/**
 * Draining a player in-process: no new work goes to it, what it runs
 * finishes, one-of tasks go elsewhere, and the drain is kept across a
 * restart.
 */

import { join } from "node:path";
import { assertEquals, assertRejects } from "../../_helpers/assert.ts";
import { inProcessConductor, settle } from "../../_helpers/in_process.ts";
import { tempDir } from "../../_helpers/proc.ts";
import { TestPlayer } from "../../_helpers/test_player.ts";
import { submitRequest } from "../../_helpers/requests.ts";
import { LOCAL_CALLER } from "../../../lib/protocol/mod.ts";
import { SqliteStore } from "../../../lib/store/mod.ts";

const job = submitRequest;

Deno.test("a drained player finishes what it runs, takes nothing new, and one-of work goes elsewhere", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "conductor.db");
  {
    await using h = await inProcessConductor({
      players: ["p1", "p2"],
      store: SqliteStore.open(db, { create: true }),
    });
    const p1 = new TestPlayer(h.conductor, "p1");
    const p2 = new TestPlayer(h.conductor, "p2");
    await p1.join({ slots: 2 });
    await p2.join({ slots: 2 });
    await h.conductor.service.submit(job("all", ["p1"]), LOCAL_CALLER);
    const running = await p1.next("assign");
    assertEquals(await h.conductor.service.drain("p1", true, "local:root"), {
      name: "p1",
      draining: true,
      running: 1,
    });
    const allOf = await h.conductor.service.submit(job("all", ["p1"]), LOCAL_CALLER);
    const oneOf = await h.conductor.service.submit(job("one", ["p1", "p2"]), LOCAL_CALLER);
    assertEquals((await p2.next("assign")).job_id, oneOf);
    p1.run(running);
    await settle();
    assertEquals(p1.received("assign").length, 1, "nothing new went to the drained player");
    assertEquals((await h.conductor.service.job(allOf))?.counts, { queued: 1 });
    assertEquals(
      (await h.conductor.service.players()).map((p) => [p.name, p.draining]),
      [["p1", true], ["p2", false]],
    );
  }
  // After a restart p1 is still drained; undrained, it takes its queued task.
  await using h = await inProcessConductor({ players: ["p1", "p2"], store: SqliteStore.open(db) });
  const p1 = new TestPlayer(h.conductor, "p1");
  await p1.join({ slots: 2 });
  await settle();
  assertEquals(p1.received("assign").length, 0, "still drained after the restart");
  await h.conductor.service.drain("p1", false, "local:root");
  await p1.next("assign");
  const err = await assertRejects(() => h.conductor.service.drain("p9", true, "local:root"));
  assertEquals((err as Error).message, 'no player "p9" in the players file');
});
