/**
 * `GET /v1/me`: who the caller is and its own grants, never another's,
 * over the Unix socket (a local proof) and over HTTPS (an audience
 * certificate); no verb is needed, but the caller must prove who it is.
 *
 * @module
 */

import { assert, assertEquals } from "../_helpers/assert.ts";
import { certPair, httpsGet } from "../_helpers/https_get.ts";
import { Cluster } from "../_helpers/cluster.ts";
import type { AuditRecord, MeView } from "../../lib/protocol/mod.ts";

const GRANTS = `grants:
  - who: local:root
    may: [all]
  - who: audience:alice
    may: [submit, read]
    scores: [hello, deploy-*]
    targets: [web*]
  - who: [audience:alice, audience:carol]
    may: [audit]
  - who: audience:carol
    may: [cancel_all]
`;

Deno.test("GET /v1/me answers the caller's own grants, over the socket and HTTPS, and nobody else's", async () => {
  await using c = await Cluster.create({ players: ["p1"], grants: GRANTS });
  await c.issueAudience("carol");
  await c.issueAudience("dave");
  await c.startConductor();

  // The socket: the local user proved by the request's proof (the tests run as root).
  const local = await c.socketFetch("/v1/me");
  assertEquals(local.status, 200);
  const root = await local.json() as MeView;
  assertEquals(root.caller, "local:root");
  assertEquals(root.grants.length, 1);
  assertEquals(root.grants[0].scores, ["*"]);
  assert(root.grants[0].may.includes("submit") && root.grants[0].may.includes("prune"));

  // HTTPS: alice sees her two grants, not carol's nor root's.
  const a = await httpsGet(c, "/v1/me", certPair(c, "alice"));
  assert(typeof a !== "string", a as string);
  assertEquals(a.status, 200);
  assertEquals(JSON.parse(a.body), {
    caller: "audience:alice",
    grants: [
      { may: ["submit", "read"], scores: ["hello", "deploy-*"], targets: ["web*"] },
      { may: ["audit"], scores: ["*"], targets: ["*"] },
    ],
  });
  const carol = await httpsGet(c, "/v1/me", certPair(c, "carol"));
  assert(typeof carol !== "string");
  assertEquals(JSON.parse(carol.body).grants.map((g: { may: string[] }) => g.may), [
    ["audit"],
    ["cancel_all"],
  ]);
  // A caller no grant names is told so by an empty list, not refused: it proved who it is.
  const dave = await httpsGet(c, "/v1/me", certPair(c, "dave"));
  assert(typeof dave !== "string");
  assertEquals(dave.status, 200);
  assertEquals(JSON.parse(dave.body), { caller: "audience:dave", grants: [] });

  // Unproved: no proof on the socket is a 401; a player's certificate is not the audience's.
  assertEquals((await c.socketFetch("/v1/me", { proof: false })).status, 401);
  const player = await httpsGet(c, "/v1/me", certPair(c, "p1"));
  assert(typeof player !== "string");
  assertEquals(player.status, 403);
  // Unknown query parameters and other methods are refused.
  assertEquals((await c.socketFetch("/v1/me?x=1")).status, 400);
  assertEquals((await c.socketFetch("/v1/me", { method: "POST" })).status, 405);

  // Like listing players, asking who one is is not recorded in the audit trail.
  const audit = await c.socketFetch("/v1/audit?limit=1000");
  const records = (await audit.json()).records as AuditRecord[];
  assertEquals(records, []);
});
