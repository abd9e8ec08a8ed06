/**
 * `make demo`: a throwaway deployment on loopback — a CA and certificates
 * from `orch ca`, a conductor and three players as separate processes —
 * runs the hello score on all of them and the sysinfo score on one of them,
 * prints both as a user sees them, and shuts everything down.
 *
 * `ORCH_DEMO_KEEP=1 make demo` keeps the temp dir (logs, database, certificates).
 *
 * @module
 */

import { Cluster } from "./_helpers/cluster.ts";

const keep = Deno.env.get("ORCH_DEMO_KEEP") === "1";
const players = ["node1", "node2", "node3"];
const say = (text: string) => console.log(`\n\x1b[1m# ${text}\x1b[0m`);

async function show(c: Cluster, args: string[]): Promise<number> {
  console.log(`$ orch ${args.join(" ")}`);
  const r = await c.cli(args);
  if (r.stderr) console.log(r.stderr.trimEnd());
  if (r.stdout) console.log(r.stdout.trimEnd());
  console.log(`(exit status ${r.code})`);
  return r.code;
}

const c = await Cluster.create({ players, keep });
let failed = false;
try {
  say(
    `a CA and certificates for the conductor, ${
      players.join(", ")
    } and an audience member, in ${c.dir}/ca`,
  );
  const files = [];
  for await (const e of Deno.readDir(c.caDir)) files.push(e.name);
  console.log(`  ${files.sort().join("  ")}`);

  say("the conductor, first start: --init creates its database");
  const conductor = await c.startConductor([], { init: true });
  for (const l of conductor.proc.lines) {
    if (l.includes("created the conductor database") || l.includes("conductor ready")) {
      console.log(l);
    }
  }

  say("three players, each its own process");
  for (const p of players) await c.startPlayer(p);
  await show(c, ["players"]);

  say("hello on all of them, waiting for the outcome");
  if (
    await show(c, [
      "submit",
      "hello",
      "--all",
      "--target",
      players.join(","),
      "NAME=operator",
      "--wait",
    ]) !== 0
  ) {
    failed = true;
  }

  say("a score that takes a few seconds, followed as it runs");
  if (
    await show(c, [
      "submit",
      "count",
      "--all",
      "--target",
      players.slice(0, 2).join(","),
      "N=3",
      "--follow",
    ]) !== 0
  ) {
    failed = true;
  }

  say("sysinfo on one of them; then its status");
  const r = await c.cli(["submit", "sysinfo", "--one", "--target", players.join(",")]);
  console.log(`$ orch submit sysinfo --one --target ${players.join(",")}\n${r.stdout.trim()}`);
  const id = r.stdout.trim();
  if (await show(c, ["status", id, "--wait"]) !== 0) failed = true;

  say("the job list");
  await show(c, ["jobs"]);
} catch (err) {
  failed = true;
  console.error(`demo failed: ${(err as Error).message}`);
} finally {
  say("shutting down");
  const procs = [...c.procs];
  await c[Symbol.asyncDispose]();
  const left = procs.filter((p) => {
    try {
      Deno.statSync(`/proc/${p.child.pid}`);
      return true;
    } catch {
      return false;
    }
  });
  console.log(`stopped ${procs.length} processes; ${left.length} left behind`);
  console.log(keep ? `kept ${c.dir}` : `removed ${c.dir}`);
  if (left.length > 0) failed = true;
}
Deno.exit(failed ? 1 : 0);
