/**
 * The OpenAPI description as a real conductor serves it: on the socket
 * without a local proof and on HTTPS with an audience certificate, the same
 * document the repository holds; and answers of a running conductor match
 * it (every answer a test cluster's clients get is checked; see
 * tests/_helpers/openapi.ts).
 */

import { assert, assertEquals } from "../_helpers/assert.ts";
import { certPair, httpsGet } from "../_helpers/https_get.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { OPENAPI } from "../../lib/protocol/openapi.ts";

Deno.test("GET /v1/openapi.json serves the description, on the socket without a proof and on HTTPS", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  const r = await c.socketFetch("/v1/openapi.json", { proof: false });
  assertEquals(r.status, 200);
  assertEquals(await r.json(), OPENAPI);
  const https = await httpsGet(c, "/v1/openapi.json", certPair(c, "alice"));
  assert(typeof https !== "string", https as string);
  assertEquals(https.status, 200);
  assertEquals(JSON.parse(https.body), OPENAPI);
  // A wrong method and an unknown query parameter are described errors too.
  const post = await c.socketFetch("/v1/openapi.json", { method: "POST", proof: false });
  assertEquals(post.status, 405);
  const bad = await c.socketFetch("/v1/openapi.json?x=1", { proof: false });
  assertEquals(bad.status, 400);
});

Deno.test("a job's answers match the description, from submit to its tasks and the audit trail", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.waitConnected("p1");
  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  const job = await c.client.waitJob(id, { timeoutMs: 30_000 });
  assertEquals(job.aggregate, "success");
  const [task] = await c.client.allTasks(id, { output: true });
  await c.client.task(id, task.id);
  await c.client.jobs(10);
  await c.client.players();
  await c.client.audit({ limit: 10 });
  await c.client.health();
  const missing = await c.socketFetch(`/v1/jobs/${id + 1000}`);
  assertEquals(missing.status, 404);
});
