/**
 * Health and readiness, and the players' last heartbeat, with real
 * processes: `orch players` shows LAST SEEN moving on while a player stays
 * connected; `/v1/ready` answers 200 on a running conductor, on the socket
 * (no local proof, like `/v1/health`) and on HTTPS with an audience
 * certificate. (A stopping or failed conductor's 503 is tested in-process,
 * in tests/unit/conductor/ready_test.ts: a real process closes its
 * listeners as it stops.)
 */

import { assert, assertEquals } from "../_helpers/assert.ts";
import { certPair, httpsGet } from "../_helpers/https_get.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { until } from "../_helpers/proc.ts";

/** p1's row of `orch players`: its state, address and LAST SEEN (epoch ms). */
async function p1Row(c: Cluster): Promise<{ state: string; address: string; seen: number }> {
  const r = await c.cli(["players", "p1"]);
  assertEquals(r.code, 0, r.stderr);
  const row = r.stdout.trim().split("\n")[1];
  const m = row.match(/^p1\s+(\S+)\s+(\S+)\s.*?(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)Z/);
  assert(m, `no LAST SEEN in ${JSON.stringify(row)}`);
  return { state: m[1], address: m[2], seen: Date.parse(`${m[3]}T${m[4]}Z`) };
}

Deno.test("orch players shows LAST SEEN moving on with the heartbeats while a player stays connected", async () => {
  await using c = await Cluster.create({ players: ["p1"], heartbeat: "1s" });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.waitConnected("p1");
  const first = await p1Row(c);
  assertEquals(first.state, "connected");
  // Only heartbeats go between them meanwhile: no job is submitted.
  const later = await until(
    "LAST SEEN to move on",
    async () => {
      const now = await p1Row(c);
      return now.seen !== first.seen && now;
    },
    20_000,
    200,
  );
  assert(later.seen > first.seen, `${later.seen} is not later than ${first.seen}`);
  // The same connection: a reconnect would come from another port.
  assertEquals(later.state, "connected");
  assertEquals(later.address, first.address);
});

Deno.test("GET /v1/ready is 200 with every check passed, on the socket without a proof and on HTTPS", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  const r = await c.socketFetch("/v1/ready", { proof: false });
  assertEquals(r.status, 200);
  const body = await r.json();
  assertEquals(body.ready, true);
  assertEquals(body.failed, []);
  assertEquals(
    body.checks.map((k: { name: string; ok: boolean }) => [k.name, k.ok]),
    [["store", true], ["listeners", true], ["stopping", true]],
  );
  const https = await httpsGet(c, "/v1/ready", certPair(c, "alice"));
  assert(typeof https !== "string", https as string);
  assertEquals(https.status, 200);
  assertEquals(JSON.parse(https.body).ready, true);
  // Like health: a player's certificate is not the audience's.
  const player = await httpsGet(c, "/v1/ready", certPair(c, "p1"));
  assert(typeof player !== "string");
  assertEquals(player.status, 403);
});
