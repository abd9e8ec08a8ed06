/**
 * The conductor masks a job's secret values in whatever a player sends
 * back before it is stored: a refusal that quotes one (a player whose conf
 * does not declare it secret), a result whose output holds one (a player of
 * a version that does not know the submitter's marks).
 */

import { join } from "node:path";
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { inProcessConductor, settle } from "../../_helpers/in_process.ts";
import { TestPlayer } from "../../_helpers/test_player.ts";
import { LOCAL_CALLER } from "../../../lib/protocol/mod.ts";
import { submitRequest } from "../../_helpers/requests.ts";
import { SqliteStore } from "../../../lib/store/mod.ts";
import { withTempDir } from "../../_helpers/proc.ts";
import { instantResult } from "../../../lib/bench/sim_player.ts";

const VALUE = "hunter2-4f0c9e";

Deno.test("a secret value quoted in a player's refusal or printed in a result is stored masked", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "conductor.db");
    const store = SqliteStore.open(path, { create: true });
    await using h = await inProcessConductor({ players: ["p1", "p2"], store });
    const p1 = new TestPlayer(h.conductor, "p1");
    const p2 = new TestPlayer(h.conductor, "p2");
    await p1.join({ slots: 1 });
    await p2.join({ slots: 1 });
    const id = await h.conductor.service.submit(
      submitRequest("one", ["p1", "p2"], {
        params: { TOKEN: VALUE, MODE: "x" },
        secret: ["TOKEN"],
      }),
      LOCAL_CALLER,
    );
    const first = await p1.next("assign");
    assertEquals(first.secret, ["TOKEN"]);
    p1.send({
      type: "reject",
      task_id: first.task_id,
      attempt: first.attempt,
      code: "bad_params",
      message: `parameter TOKEN: "${VALUE}" is not allowed`,
    });
    const second = await p2.next("assign");
    const now = Date.now();
    p2.send({ type: "accept", task_id: second.task_id, attempt: second.attempt, started_at: now });
    p2.send({
      ...instantResult(second, now, { response: { echoed: VALUE, [VALUE]: "key" } }),
      stdout_tail: `token is ${VALUE}\n`,
      stderr_tail: `${VALUE}`,
    });
    await settle();
    await h.conductor.service.waitJob(id, 5000);
    const task = await h.conductor.service.task(id, second.task_id);
    assert(task);
    assertEquals(task.tried.map((t) => t.message), ['parameter TOKEN: "[secret]" is not allowed']);
    assertEquals(task.stdout_tail, "token is [secret]\n");
    assertEquals(task.stderr_tail, "[secret]");
    assertEquals(task.response, { echoed: "[secret]", "[secret]": "key" });
    await h.conductor.stop();
    for (const f of [path, `${path}-wal`]) {
      const bytes = await Deno.readFile(f).catch(() => new Uint8Array());
      assert(!new TextDecoder("latin1").decode(bytes).includes(VALUE), `${f} holds the value`);
    }
  });
});
