import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { join } from "node:path";
import { Cluster } from "../_helpers/cluster.ts";
import { ROOT } from "../_helpers/proc.ts";
import type { PlayerView } from "../../lib/protocol/mod.ts";

/**
 * Three labelled players; web1 declares `hello` with a shorter NAME than
 * the others (its own scores directory), and db1 reports an operator fact.
 */
async function labelledCluster(): Promise<Cluster> {
  const c = await Cluster.create({ players: ["web1", "web2", "db1"] });
  await Deno.writeTextFile(
    c.playersFile,
    "# labelled\nweb1 role=web dc=syd\nweb2 role=web dc=mel   # the other one\ndb1 role=db dc=syd\n",
  );
  const narrow = join(c.dir, "scores-web1");
  await Deno.mkdir(narrow);
  await Deno.copyFile(join(ROOT, "scores", "hello"), join(narrow, "hello"));
  await Deno.chmod(join(narrow, "hello"), 0o755);
  await Deno.writeTextFile(
    join(narrow, "hello.conf"),
    "interface: pipe\nparams:\n  NAME:\n    type: string\n    default: w\n    max_length: 3\n",
  );
  const facts = join(c.dir, "db1.facts");
  await Deno.writeTextFile(facts, "# where it is\nrack=r12\n");
  await c.startConductor();
  await c.startPlayer("web1", { extra: ["--scores-dir", narrow] });
  await c.startPlayer("web2");
  await c.startPlayer("db1", { extra: ["--facts-file", facts] });
  return c;
}

Deno.test("targets chosen by label and by glob: the job records what was asked and the hosts chosen; a selector matching nothing is refused", async () => {
  await using c = await labelledCluster();
  const r = await c.cli([
    "submit",
    "hello",
    "--all",
    "-t",
    "role=web,dc=syd",
    "-t",
    "db*",
    "--json",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const id = (JSON.parse(r.stdout) as { id: number }).id;
  const job = await c.wait(id);
  assertEquals(job.targets, ["role=web,dc=syd", "db*"]);
  assertEquals(job.hosts, ["web1", "db1"]);
  assertEquals(job.tasks.map((t) => [t.host, t.state]), [["web1", "succeeded"], [
    "db1",
    "succeeded",
  ]]);
  const status = await c.cli(["status", String(id)]);
  assertMatch(status.stdout, /^asked: role=web,dc=syd db\*$/m);

  // A selector that matches no player is refused with the reason; nothing is stored.
  const none = await c.cli(["submit", "hello", "--all", "-t", "role=cache", "-t", "web1"]);
  assertEquals(none.code, 2, none.stderr);
  assertMatch(none.stderr, /target "role=cache" matches no player in the players file/);
  const jobs = await c.client.jobs(10);
  assertEquals(jobs.map((j) => j.id), [id]);
});

Deno.test("orch players filters by the same syntax and shows labels and facts", async () => {
  await using c = await labelledCluster();
  const web = await c.cli(["players", "role=web"]);
  assertEquals(web.code, 0, web.stderr);
  const rows = web.stdout.trim().split("\n");
  assertMatch(rows[0], /^NAME\s+STATE.*LABELS\s+FACTS$/);
  assertEquals(rows.slice(1).map((l) => l.split(/\s+/)[0]), ["web1", "web2"]);
  assertMatch(rows[1], /\bdc=syd,role=web\b/);
  assertMatch(rows[1], /\barch=\S+,kernel=\S+,os=linux,version=\S+/);

  const byFact = await c.cli(["players", "fact.rack=r12", "--json"]);
  assertEquals(byFact.code, 0, byFact.stderr);
  const { players } = JSON.parse(byFact.stdout) as { players: PlayerView[] };
  assertEquals(players.map((p) => p.name), ["db1"]);
  assertEquals(players[0].labels, { role: "db", dc: "syd" });
  assertEquals([players[0].facts.rack, players[0].facts.os], ["r12", "linux"]);

  const union = await c.cli(["players", "dc!=syd", "db?", "--json"]);
  assertEquals(
    (JSON.parse(union.stdout) as { players: PlayerView[] }).players.map((p) => p.name),
    ["db1", "web2"],
  );

  const bad = await c.cli(["players", "role==web"]);
  assertEquals(bad.code, 2);
  assertMatch(bad.stderr, /target: in "role==web", "=web" is not a label value/);
});

Deno.test("a one-of job whose params one target cannot take runs on another; the skipped target's reason is recorded and shown", async () => {
  await using c = await labelledCluster();
  // web1 comes first and is free, but declares NAME at most 3 characters.
  const r = await c.cli([
    "submit",
    "hello",
    "--one",
    "-t",
    "role=web",
    "NAME=operator",
    "--json",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const job = await c.wait((JSON.parse(r.stdout) as { id: number }).id);
  assertEquals(job.aggregate, "success");
  const [task] = job.tasks;
  assertEquals(task.host, "web2");
  assertEquals(task.tried.length, 1);
  assertEquals([task.tried[0].player, task.tried[0].code], ["web1", "bad_params"]);
  assertMatch(task.tried[0].message, /as declared on web1\): parameter NAME/);
  const status = await c.cli(["status", String(job.id)]);
  assertMatch(status.stdout, /refused by web1: bad_params: bad parameters for score hello/);

  // No target can take it: refused, naming each target's reason; an all-of job is refused whole.
  const none = await c.cli(["submit", "hello", "--one", "-t", "web1", "NAME=operator"]);
  assertEquals(none.code, 2);
  assertMatch(
    none.stderr,
    /no target can take it: bad parameters for score hello \(as declared on web1\)/,
  );
  const all = await c.cli(["submit", "hello", "--all", "-t", "role=web", "NAME=operator"]);
  assertEquals(all.code, 2);
  assert(all.stderr.includes("as declared on web1"), all.stderr);
});
