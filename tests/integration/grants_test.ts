/**
 * Grants tried from outside against what issue 8 added: a submit's
 * selectors are checked by the hosts they resolve to, and the `schedule`
 * and `drain` verbs guard adding schedules and draining players. Real
 * processes, audience certificates over HTTPS.
 *
 * @module
 */

import { assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { orch } from "../_helpers/proc.ts";
import type { AuditRecord, PlayerView, ScheduleView } from "../../lib/protocol/mod.ts";

const GRANTS = `grants:
  - who: local:root
    may: [all]
  - who: audience:bob
    may: [submit, read]
    scores: [hello]
    targets: [web*]
`;

/** web1, web2 and db1, labelled by role and dc, all connected. */
async function labelled(): Promise<Cluster> {
  const c = await Cluster.create({ players: ["web1", "web2", "db1"], grants: GRANTS });
  await Deno.writeTextFile(
    c.playersFile,
    "web1 role=web dc=syd\nweb2 role=web dc=mel\ndb1 role=db dc=syd\n",
  );
  await c.issueAudience("bob");
  await c.startConductor();
  for (const p of ["web1", "web2", "db1"]) await c.startPlayer(p);
  return c;
}

async function auditOf(c: Cluster): Promise<AuditRecord[]> {
  const r = await c.cli(["audit", "--json", "--limit", "1000"]);
  assertEquals(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { records: AuditRecord[] }).records;
}

Deno.test("a grant limited to web* is checked against the hosts a selector resolves to: role=db (db1) is refused naming db1, role=web is allowed", async () => {
  await using c = await labelled();
  const bob = c.httpsFlags("bob");

  const db = await orch(["submit", "hello", "--all", "-t", "role=db", ...bob]);
  assertEquals(db.code, 2, db.stderr);
  assertMatch(
    db.stderr,
    /^orch: audience:bob may not submit score hello on db1 \(all-of\): no grant in .*grants\.yaml gives audience:bob submit of score "hello" on db1;/,
  );
  // A selector matching a web host and db1: refused for db1.
  const syd = await orch(["submit", "hello", "--all", "-t", "dc=syd", ...bob]);
  assertEquals(syd.code, 2, syd.stderr);
  assertMatch(syd.stderr, /may not submit score hello on web1, db1 \(all-of\): .* on db1;/);
  // Nothing was stored.
  assertEquals(await c.client.jobs(100), []);

  const web = await orch(["submit", "hello", "--all", "-t", "role=web", "--json", ...bob]);
  assertEquals(web.code, 0, web.stderr);
  const job = await c.wait((JSON.parse(web.stdout) as { id: number }).id);
  assertEquals(job.aggregate, "success");
  assertEquals(job.targets, ["role=web"]);
  assertEquals(job.hosts, ["web1", "web2"]);

  const submits = (await auditOf(c)).filter((r) => r.action === "submit").reverse();
  assertEquals(submits.map((r) => [r.who, r.outcome, r.subject]), [
    ["audience:bob", "refused", "score hello on db1 (all-of)"],
    ["audience:bob", "refused", "score hello on web1, db1 (all-of)"],
    ["audience:bob", "allowed", "score hello on web1, web2 (all-of)"],
  ]);
});

Deno.test("without the schedule verb, orch schedule add is refused, stores nothing and is audited; without the drain verb, orch drain is refused and drains nothing", async () => {
  await using c = await labelled();
  const bob = c.httpsFlags("bob");

  // bob may submit hello on web1, but not schedule it.
  const add = await orch([
    "schedule",
    "add",
    "nightly",
    "hello",
    "--all",
    "-t",
    "web1",
    "--every",
    "1h",
    ...bob,
  ]);
  assertEquals(add.code, 2, add.stderr);
  assertMatch(
    add.stderr,
    /^orch: audience:bob may not add schedule nightly: score hello on web1 \(all-of\): no grant in .*grants\.yaml gives audience:bob schedule/,
  );
  const list = await c.cli(["schedule", "list", "--json"]);
  assertEquals(list.code, 0, list.stderr);
  assertEquals((JSON.parse(list.stdout) as { schedules: ScheduleView[] }).schedules, []);
  const records = (await auditOf(c)).filter((r) => r.action === "schedule");
  assertEquals(records.map((r) => [r.who, r.outcome, r.subject]), [
    ["audience:bob", "refused", "add schedule nightly: score hello on web1 (all-of)"],
  ]);
  assertMatch(records[0].reason ?? "", /gives audience:bob schedule/);

  const drain = await orch(["drain", "web1", ...bob]);
  assertEquals(drain.code, 2, drain.stderr);
  assertMatch(
    drain.stderr,
    /^orch: audience:bob may not drain or undrain players: no grant in .*grants\.yaml gives audience:bob drain/,
  );
  const players = await c.cli(["players", "--json"]);
  assertEquals(players.code, 0, players.stderr);
  assertEquals(
    (JSON.parse(players.stdout) as { players: PlayerView[] }).players.map((p) => [
      p.name,
      p.draining,
    ]),
    [["db1", false], ["web1", false], ["web2", false]],
  );
  // One who holds the verb may.
  const root = await c.cli(["drain", "web1"]);
  assertEquals(root.code, 0, root.stderr);
  // Both are in the audit trail.
  const drains = (await auditOf(c)).filter((r) => r.action === "drain")
    .map((r) => [r.who, r.subject, r.outcome]);
  assertEquals(drains, [
    ["local:root", "drain player web1", "allowed"],
    ["audience:bob", "drain player web1", "refused"],
  ]);

  // A drain grant covers the players its targets name, and no others.
  await c.writeGrants(`${GRANTS}  - who: audience:bob\n    may: drain\n    targets: [web*]\n`);
  const from = c.conductor!.proc.lines.length;
  c.conductor!.proc.signal("SIGHUP");
  await c.conductor!.proc.waitFor(/grants loaded/, 15_000, from);
  const db1 = await orch(["drain", "db1", ...bob]);
  assertEquals(db1.code, 2, db1.stderr);
  assertMatch(db1.stderr, /gives audience:bob drain on db1/);
  const web2 = await orch(["drain", "web2", ...bob]);
  assertEquals(web2.code, 0, web2.stderr);

  // Listing schedules shows one's own, unless one may read everything: root's job template (its
  // params) is not bob's to see, though bob may keep schedules of his own.
  await c.writeGrants(
    `${GRANTS}  - who: audience:bob\n    may: [schedule, submit]\n    targets: [web*]\n`,
  );
  const again = c.conductor!.proc.lines.length;
  c.conductor!.proc.signal("SIGHUP");
  await c.conductor!.proc.waitFor(/grants loaded/, 15_000, again);
  const mine = await c.cli([
    "schedule",
    "add",
    "roots",
    "hello",
    "--all",
    "-t",
    "db1",
    "--every",
    "1h",
  ]);
  assertEquals(mine.code, 0, mine.stderr);
  const theirs = await orch([
    "schedule",
    "add",
    "bobs",
    "hello",
    "--all",
    "-t",
    "web1",
    "--every",
    "1h",
    ...bob,
  ]);
  assertEquals(theirs.code, 0, theirs.stderr);
  const names = async (flags: string[]) => {
    const r = await orch(["schedule", "list", "--json", ...flags]);
    assertEquals(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { schedules: ScheduleView[] }).schedules.map((s) => s.name);
  };
  assertEquals(await names(bob), ["bobs"]);
  assertEquals((await c.cli(["schedule", "list", "--json"])).code, 0);
  assertEquals(
    (JSON.parse((await c.cli(["schedule", "list", "--json"])).stdout) as {
      schedules: ScheduleView[];
    })
      .schedules.map((s) => s.name).sort(),
    ["bobs", "roots"],
  );
});
