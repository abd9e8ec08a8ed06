/**
 * A conductor restarted on the same database carries on where it stopped:
 * in-process, on the real SQLite store.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { inProcessConductor, settle } from "../../_helpers/in_process.ts";
import { tempDir } from "../../_helpers/proc.ts";
import { TestPlayer } from "../../_helpers/test_player.ts";
import { SqliteStore } from "../../../lib/store/mod.ts";
import { LOCAL_CALLER } from "../../../lib/protocol/mod.ts";
import { submitRequest } from "../../_helpers/requests.ts";

Deno.test("after a restart, a job's end counts the tasks that ended before it: the aggregate is partial", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "conductor.db");
  let id: number;
  {
    await using h = await inProcessConductor({
      players: ["p1", "p2"],
      store: SqliteStore.open(db, { create: true }),
    });
    const p1 = new TestPlayer(h.conductor, "p1");
    await p1.join();
    id = await h.conductor.service.submit(submitRequest("all", ["p1", "p2"]), LOCAL_CALLER);
    p1.run(await p1.next("assign"));
    await p1.next("result_ack");
  }
  await using h = await inProcessConductor({ players: ["p1", "p2"], store: SqliteStore.open(db) });
  const sub = h.conductor.events.subscribe({ job: id, types: ["job.finished"] });
  const p2 = new TestPlayer(h.conductor, "p2");
  await p2.join();
  p2.run(await p2.next("assign"), "failed");
  const e = await sub.next();
  assert(e?.type === "job.finished");
  assertEquals(e.aggregate, "partial");
  await settle();
  assertEquals((await h.conductor.service.job(id))?.aggregate, "partial");
  sub.close();
});
