import { assertEquals, assertMatch } from "../../_helpers/assert.ts";
import { FakeBackend } from "../../_helpers/fake_backend.ts";
import { inProcessConductor, settle } from "../../_helpers/in_process.ts";
import { ControlledStore } from "../../_helpers/store.ts";
import { TestPlayer } from "../../_helpers/test_player.ts";
import { createApiHandler } from "../../../lib/conductor/api.ts";
import { LOCAL_CALLER, PROTOCOL_VERSION } from "../../../lib/protocol/mod.ts";

async function get(backend: FakeBackend, method = "GET") {
  const res = await createApiHandler(backend)(
    new Request("http://conductor/v1/ready", { method }),
    { caller: LOCAL_CALLER },
  );
  return { status: res.status, body: await res.json() };
}

Deno.test("ready is 200 with the checks when the backend is ready, 503 naming the failed ones when not", async () => {
  const backend = new FakeBackend();
  const ok = await get(backend);
  assertEquals(ok, { status: 200, body: { ready: true, failed: [], checks: [] } });
  backend.readiness = {
    ready: false,
    failed: ["stopping"],
    checks: [{ name: "stopping", ok: false, detail: "the conductor is shutting down" }],
  };
  const down = await get(backend);
  assertEquals(down.status, 503);
  assertEquals(down.body.failed, ["stopping"]);
  const wrong = await get(backend, "POST");
  assertEquals(wrong.status, 405);
});

Deno.test("a running conductor is ready; once it is stopping, the stopping check fails", async () => {
  await using h = await inProcessConductor({ players: ["p1"] });
  const r = h.conductor.ready();
  assertEquals(r.ready, true);
  assertEquals(r.checks.map((c) => [c.name, c.ok]), [
    ["store", true],
    ["listeners", true],
    ["stopping", true],
  ]);
  const stopped = h.conductor.stop();
  const during = h.conductor.ready();
  assertEquals(during.ready, false);
  assertEquals(during.failed, ["stopping"]);
  assertMatch(during.checks[2].detail, /shutting down/);
  await stopped;
});

Deno.test("after a failed commit, the store check fails", async () => {
  const store = new ControlledStore();
  await using h = await inProcessConductor({ players: ["p1"], store });
  const p1 = new TestPlayer(h.conductor, "p1");
  store.failWrites(new Error("disk full"));
  // A hello is written: its commit fails.
  p1.send({
    type: "hello",
    name: "p1",
    version: "t",
    protocol: PROTOCOL_VERSION,
    slots: 1,
    scores: [],
    journal: [],
  });
  await h.conductor.done;
  await settle();
  const r = h.conductor.ready();
  assertEquals(r.failed, ["store", "stopping"]);
  assertMatch(r.checks[0].detail, /commit failed/);
});
