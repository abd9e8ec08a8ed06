/**
 * Who may do what, tried from outside: audience certificates and local
 * users against a grants file, refusals that store and run nothing, the
 * audit trail of each attempt, grants reloaded on SIGHUP, and the
 * built-in grants when there is no file.
 *
 * @module
 */

import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertRejects } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { orch } from "../_helpers/proc.ts";
import { certPair, httpsRequest } from "../_helpers/https_get.ts";
import { OrchError } from "../../lib/errors.ts";
import { LOCAL_AUTH_SCHEME, proofFolder } from "../../lib/protocol/mod.ts";
import type { AuditRecord } from "../../lib/protocol/mod.ts";

const GRANTS = `grants:
  - who: local:root
    may: [all]
  - who: audience:bob
    may: [submit, read, cancel]
    scores: [hello, sleep]
    targets: [p1]
  - who: [audience:carol]
    may: [read_all]
`;

async function refused(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const err = await assertRejects(() => p);
  assert(err instanceof OrchError, `expected an OrchError, got ${err}`);
  assertEquals(err.code, code, err.message);
  assertMatch(err.message, pattern);
}

async function auditOf(c: Cluster): Promise<AuditRecord[]> {
  const r = await c.cli(["audit", "--json", "--limit", "1000"]);
  assertEquals(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { records: AuditRecord[] }).records;
}

Deno.test("an audience certificate is refused a score or a target outside its grant; nothing is stored or run, every attempt is audited", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"], grants: GRANTS });
  await c.issueAudience("bob");
  await c.startConductor();
  await c.startPlayer("p1");
  await c.startPlayer("p2");
  const bob = await c.httpsClient("bob");

  await refused(
    bob.submit({ score: "sysinfo", scope: "all", targets: ["p1"], params: {} }),
    "forbidden",
    /audience:bob may not submit score sysinfo on p1 .*: no grant in .*grants\.yaml gives audience:bob submit of score "sysinfo" on p1; its grants: .*grants\.yaml:4 \(submit, read, cancel of hello, sleep on p1\)/,
  );
  await refused(
    bob.submit({ score: "hello", scope: "all", targets: ["p1", "p2"], params: {} }),
    "forbidden",
    /gives audience:bob submit of score "hello" on p2;/,
  );
  await refused(
    bob.submit({ score: "hello", scope: "one", targets: ["p2", "p1"], params: {} }),
    "forbidden",
    /on p2;/,
  );
  // The CLI says the same, with the refusal's exit status.
  const cli = await orch(["submit", "sysinfo", "--all", "-t", "p1", ...c.httpsFlags("bob")]);
  assertEquals(cli.code, 2, cli.stderr);
  assertMatch(cli.stderr, /orch: audience:bob may not submit score sysinfo/);

  // Nothing was stored, so nothing can run.
  assertEquals(await c.client.jobs(100), []);
  for (const p of ["p1", "p2"]) {
    assert(!c.players.get(p)!.log.includes("score started"), `${p} ran something`);
  }

  const id = await bob.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  assertEquals((await bob.waitJob(id, { timeoutMs: 30_000 })).aggregate, "success");

  const records = (await auditOf(c)).filter((r) => r.who === "audience:bob").reverse();
  assertEquals(
    records.map((r) => [r.action, r.outcome, r.job_id]),
    [
      ["submit", "refused", null],
      ["submit", "refused", null],
      ["submit", "refused", null],
      ["submit", "refused", null],
      ["submit", "allowed", id],
      ["read_params", "allowed", id],
    ],
  );
  const first = records[0];
  assertEquals([first.auth, first.transport], ["client_certificate", "https"]);
  assertMatch(first.from, /^127\.0\.0\.1:\d+$/);
  assertEquals(first.subject, "score sysinfo on p1 (all-of)");
  assertMatch(first.reason ?? "", /no grant .* gives audience:bob submit of score "sysinfo"/);

  // The conductor's log holds one structured line per record.
  await c.conductor!.proc.waitFor(/INFO {2}audit action=submit outcome=allowed who=audience:bob/);
  assertMatch(
    c.conductor!.proc.log,
    /WARN {2}audit action=submit outcome=refused who=audience:bob/,
  );

  // Filters and the table.
  const table = await c.cli(["audit", "--who", "audience:bob", "--since", "1h"]);
  assertEquals(table.code, 0, table.stderr);
  assertMatch(table.stdout, /^ID +AT +WHO +AUTH +FROM +ACTION +OUTCOME +SUBJECT +REASON\n/);
  assertEquals(table.stdout.trim().split("\n").length, 1 + records.length);
  const none = await c.cli(["audit", "--who", "audience:bob", "--since", "2000-01-01T00:00:00Z"]);
  assertEquals(none.stdout.trim().split("\n").length, 1 + records.length);
  const bad = await c.cli(["audit", "--who", "bob"]);
  assertEquals(bad.code, 2);
  assertMatch(bad.stderr, /--who "bob" is not an identity/);

  // A request id names one submitter's submit: sent again by its owner it finds the job (and is
  // audited as allowed); another submitter using it is refused, and learns nothing of the job.
  const sent = { score: "hello", scope: "all" as const, targets: ["p1"], params: {} };
  const byId = await bob.submit({ ...sent, request_id: "bob-req-1" });
  assertEquals(await bob.submit({ ...sent, request_id: "bob-req-1" }), byId);
  await refused(
    c.client.submit({ ...sent, request_id: "bob-req-1" }),
    "conflict",
    /^request id "bob-req-1" was used by another submitter$/,
  );
  const again = (await auditOf(c)).filter((r) => r.job_id === byId && r.action === "submit");
  assertEquals(again.map((r) => [r.who, r.outcome]), [
    ["audience:bob", "allowed"],
    ["audience:bob", "allowed"],
  ]);
});

Deno.test("reading and cancelling another's job needs read_all and cancel_all", async () => {
  await using c = await Cluster.create({
    players: ["p1"],
    grants: `grants:
  - who: local:root
    may: [submit, read, cancel, audit]
  - who: [audience:bob, audience:carol]
    may: [submit, read, cancel]
  - who: audience:carol
    may: [read_all]
`,
  });
  await c.issueAudience("bob");
  await c.issueAudience("carol");
  await c.startConductor();
  await c.startPlayer("p1");
  const [bob, carol] = [await c.httpsClient("bob"), await c.httpsClient("carol")];

  const rootJob = await c.client.submit({
    score: "sleep",
    scope: "all",
    targets: ["p1"],
    params: { SECONDS: "30" },
  });
  const bobJob = await bob.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });

  await refused(
    bob.job(rootJob),
    "forbidden",
    new RegExp(
      `^audience:bob may not read job ${rootJob}: no grant in .*grants\\.yaml gives audience:bob read_all over this job, which is another's$`,
    ),
  );
  await refused(bob.tasks(rootJob, { page: 1, limit: 10 }), "forbidden", /read_all/);
  await refused(bob.cancel(rootJob), "forbidden", /may not cancel job \d+: .*cancel_all/);
  await refused(carol.cancel(rootJob), "forbidden", /audience:carol may not cancel job/);
  // Carol may read anyone's job, and lists them all; bob lists only his.
  assertEquals((await carol.job(rootJob)).params, { SECONDS: "30" });
  assertEquals((await carol.jobs(10)).map((j) => j.id), [bobJob, rootJob]);
  assertEquals((await bob.jobs(10)).map((j) => j.id), [bobJob]);
  // Root has no read_all either: it sees its own jobs only.
  assertEquals((await c.client.jobs(10)).map((j) => j.id), [rootJob]);
  await refused(c.client.job(bobJob), "forbidden", /local:root may not read job/);
  // A job that does not exist is not found, for anyone who may read some job.
  await refused(bob.job(999), "not_found", /no job 999/);

  // may_cancel in a job's view is decided as the cancel is: carol reads root's job (read_all) but
  // has cancel only, which covers her own jobs; bob's own job is his to cancel.
  assertEquals((await carol.job(rootJob)).may_cancel, false);
  assertEquals((await bob.job(bobJob)).may_cancel, true);
  assertEquals((await carol.job(bobJob)).may_cancel, false);
  assertEquals((await c.client.job(rootJob)).may_cancel, true);

  // Nothing was cancelled: the job still runs, and its owner may cancel it.
  const job = await c.client.job(rootJob);
  assertEquals(job.cancelled_at, null);
  assertEquals((await c.client.cancel(rootJob)).id, rootJob);

  const records = await auditOf(c);
  const cancels = records.filter((r) => r.action === "cancel").map((r) => [r.who, r.outcome]);
  assertEquals(cancels, [
    ["local:root", "allowed"],
    ["audience:carol", "refused"],
    ["audience:bob", "refused"],
  ]);
  const reads = records.filter((r) => r.action === "read_params" && r.outcome === "refused");
  assertEquals(reads.map((r) => r.who).sort(), [
    "audience:bob",
    "audience:bob",
    "local:root",
  ]);
});

/** Writes a proof file for a request as `uid`, as the orch command would for its own user. */
async function proofAs(c: Cluster, uid: number, gid: number): Promise<string> {
  const name = Array.from(
    crypto.getRandomValues(new Uint8Array(32)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const path = join(proofFolder(c.socket), name);
  await Deno.writeTextFile(path, name, { createNew: true, mode: 0o644 });
  await Deno.chown(path, uid, gid);
  return name;
}

Deno.test("local users are told apart by a file they own: one without a grant is refused, forged proofs are refused", async () => {
  assertEquals(Deno.uid(), 0, "this test makes proofs for other users, which needs root");
  await using c = await Cluster.create({ players: ["p1"], grants: GRANTS });
  await c.startConductor();
  await c.startPlayer("p1");
  const post = (name: string | null) =>
    c.socketFetch("/v1/jobs", {
      method: "POST",
      proof: false,
      headers: {
        "content-type": "application/json",
        ...(name === null ? {} : { authorization: `${LOCAL_AUTH_SCHEME} ${name}` }),
      },
      body: JSON.stringify({ score: "hello", scope: "all", targets: ["p1"] }),
    });

  // nobody (65534) has no grant.
  let res = await post(await proofAs(c, 65534, 65534));
  assertEquals(res.status, 403);
  assertMatch(
    (await res.json()).error.message,
    /^local:nobody may not submit score hello on p1 \(all-of\): no grant in .*grants\.yaml names local:nobody or its groups \(nogroup\)/,
  );

  // Forged or missing proofs.
  res = await post(null);
  assertEquals(res.status, 401);
  assertMatch((await res.json()).error.message, /must prove its user/);
  res = await post("0".repeat(64));
  assertEquals(res.status, 401);
  const real = await proofAs(c, 0, 0);
  const folder = proofFolder(c.socket);
  const link = "a".repeat(64);
  await Deno.symlink(join(folder, real), join(folder, link));
  res = await post(link);
  assertEquals(res.status, 401);
  assertMatch((await res.json()).error.message, /not a regular file/);
  const hard = "b".repeat(64);
  await Deno.link(join(folder, real), join(folder, hard));
  res = await post(hard);
  assertEquals(res.status, 401);
  assertMatch((await res.json()).error.message, /more than one link/);
  const wrong = "c".repeat(64);
  await Deno.writeTextFile(join(folder, wrong), "d".repeat(64));
  res = await post(wrong);
  assertEquals(res.status, 401);
  assertMatch((await res.json()).error.message, /does not hold its own name/);
  const old = await proofAs(c, 0, 0);
  await Deno.utime(
    join(folder, old),
    new Date(Date.now() - 120_000),
    new Date(Date.now() - 120_000),
  );
  res = await post(old);
  assertEquals(res.status, 401);
  assertMatch((await res.json()).error.message, /older than a minute/);
  // A proof is used once.
  const once = await proofAs(c, 0, 0);
  res = await post(once);
  assertEquals(res.status, 201);
  res = await post(once);
  assertEquals(res.status, 401);

  // Only the one accepted submit was stored; each attempt is in the audit trail.
  assertEquals((await c.client.jobs(10)).length, 1);
  const submits = (await auditOf(c)).filter((r) => r.action === "submit").reverse();
  assertEquals(submits.map((r) => [r.who, r.outcome]), [
    ["local:nobody", "refused"],
    ["unauthenticated", "refused"],
    ["unauthenticated", "refused"],
    ["unauthenticated", "refused"],
    ["unauthenticated", "refused"],
    ["unauthenticated", "refused"],
    ["unauthenticated", "refused"],
    ["local:root", "allowed"],
    ["unauthenticated", "refused"],
  ]);
  assertEquals(submits[0].auth, "file_ownership");
  assertEquals(submits[0].from, "socket");

  // The proof folder lets the socket's users create entries but not list them.
  const info = await Deno.stat(folder);
  assertEquals((info.mode ?? 0) & 0o7777, 0o1730);
});

Deno.test("grants are reloaded on SIGHUP; a bad grants file keeps the grants in force", async () => {
  await using c = await Cluster.create({ players: ["p1"], grants: GRANTS });
  await c.issueAudience("dave");
  const { proc } = await c.startConductor();
  const dave = await c.httpsClient("dave");
  await refused(dave.players(), "forbidden", /no grant in .* names audience:dave/);

  await c.writeGrants(`${GRANTS}  - who: audience:dave\n    may: read\n`);
  let from = proc.lines.length;
  proc.signal("SIGHUP");
  await proc.waitFor(/grants loaded file=.*grants\.yaml grants=4/, 15_000, from);
  assertEquals((await dave.players()).map((p) => p.name), ["p1"]);

  await c.writeGrants(`${GRANTS}  - who: audience:dave\n    may: [read, fly]\n`);
  from = proc.lines.length;
  proc.signal("SIGHUP");
  await proc.waitFor(
    /ERROR grants file not reloaded; keeping the grants in force error=".*grants\.yaml:11: 'may': unknown verb \\"fly\\"/,
    15_000,
    from,
  );
  assertEquals((await dave.players()).map((p) => p.name), ["p1"]);
});

Deno.test("without a grants file only root and the conductor's own user may, on the socket; a bad file stops the start", async () => {
  await using c = await Cluster.create({ players: ["p1"], grants: null });
  const { proc } = await c.startConductor();
  await proc.waitFor(
    /WARN {2}no grants file: only these local users may use the audience API, on the socket; audience certificates may do nothing file=.*grants\.yaml users=local:root/,
  );
  assertEquals((await c.client.players()).map((p) => p.name), ["p1"]);
  const alice = await c.httpsClient("alice");
  await refused(
    alice.players(),
    "forbidden",
    /no grant in the built-in grants \(there is no grants file\) names audience:alice/,
  );
  await proc.stop();

  await c.writeGrants("grants:\n  - who: alice\n    may: [all]\n");
  const r = await orch(c.conductorArgs());
  assertEquals(r.code, 2);
  assertMatch(
    r.stderr,
    /grants\.yaml:2: 'who' entry 1: "alice" is not an identity \(audience:NAME, local:USER or group:GROUP/,
  );
});

Deno.test("a cancel a page of another site makes (the browser sends the certificate) is refused; the conductor's own origin is not", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  await c.startPlayer("p1");
  const alice = await c.httpsClient("alice");
  const id = await alice.submit({
    score: "sleep",
    scope: "all",
    targets: ["p1"],
    params: { SECONDS: "30" },
  });
  const me = certPair(c, "alice");
  const path = `/v1/jobs/${id}/cancel`;
  const host = `localhost:${c.audiencePort}`;
  const crossSite: Record<string, string>[] = [
    { "sec-fetch-site": "cross-site", origin: "https://evil.example" },
    { "sec-fetch-site": "same-site", origin: `https://other.${host}` },
    // A browser that sends no Sec-Fetch-Site: the origin decides.
    { origin: "https://evil.example" },
    { origin: `http://${host}` },
  ];
  for (const headers of crossSite) {
    const res = await httpsRequest(c, "POST", path, me, headers);
    assert(typeof res !== "string", res as string);
    assertEquals(res.status, 403, JSON.stringify(headers));
    assertMatch(res.body, /from a page of another site is refused/);
  }
  // Nothing was cancelled.
  assertEquals((await alice.job(id)).cancelled_at, null);
  await c.conductor!.proc.waitFor(/refused a request a page of another site made/);

  // The dashboard's own request (same origin) is taken.
  const own = await httpsRequest(c, "POST", path, me, {
    "sec-fetch-site": "same-origin",
    origin: `https://${host}`,
  });
  assert(typeof own !== "string", own as string);
  assertEquals(own.status, 200, own.body);
  assert((await alice.job(id)).cancelled_at !== null);
});
