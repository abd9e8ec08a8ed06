/**
 * Players following the leader of conductors on one PostgreSQL database
 * (a private server), with their own `reconnect_max`, not the short one
 * the test cluster gives: a planned restart of the leader moves them to the
 * standby as its notice says, without a warning; a conductor standing by
 * while the database is away is waited for like one that is not there,
 * not for `reconnect_max`.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { PgCluster } from "../_helpers/postgres.ts";
import { type Proc, ROOT, until } from "../_helpers/proc.ts";
import { at, type Member, startMember } from "../_helpers/conductor_pair.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");
const LEADING = /leading: took the leadership/;
const STANDBY = /standby: another conductor may lead/;
const WARNING = /^\S+ (WARN|ERROR) /;

/** Waits until `m` lists every one of `names` connected. */
async function connected(m: Member, names: string[]): Promise<void> {
  await until(`${names.join(",")} connected to ${m.name}`, async () => {
    const list = await m.client.players();
    return names.every((n) => list.some((p) => p.name === n && p.connected && p.slots > 0));
  }, 30_000);
}

/** The lines `p` logged from line `from` up to its first welcome by the conductor at `to`. */
async function untilWelcomed(p: Proc, from: number, to: string): Promise<string[]> {
  const welcome = new RegExp(`INFO +connected to the conductor .*conductor=${to} `);
  await p.waitFor(welcome, 30_000, from);
  const lines = p.lines.slice(from);
  return lines.slice(0, lines.findIndex((l) => welcome.test(l)) + 1);
}

Deno.test("a planned restart of the leader: its players wait for the standby as the notice says, through its not_leader refusals, and warn of nothing", async () => {
  await using pg = await PgCluster.start();
  const db = await pg.createDatabase("move");
  const url = pg.socketUrl(db);
  const names = ["p1", "p2", "p3"];
  await using c = await Cluster.create({ players: names, scoresDir: TESTDATA });
  const a = startMember(c, url, "conductor-a");
  await a.proc.waitFor(/conductor ready/, 30_000);
  const b = startMember(c, url, "conductor-b");
  await b.proc.waitFor(STANDBY, 30_000);
  const players = await Promise.all(names.map((n) =>
    c.startPlayer(n, {
      // reconnect_max as it is by default.
      extra: ["--conductor", `${at(a.players)},${at(b.players)}`, "--reconnect-max", "30s"],
      wait: false,
    })
  ));
  await connected(a, names);

  // The test asks for the lock before the leader lets go of it, so the lock comes to the test,
  // and the standby goes on refusing, naming the leader that stopped, for as long as it holds it.
  const holding = pg.holdLeadership(db);
  await until(
    "the test waiting for the lock",
    async () =>
      await pg.psql(
        db,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
      ) ===
        "1",
  );
  const from = players.map((p) => p.lines.length);
  await a.proc.stop();
  const lock = await holding;
  const refusal = new RegExp(
    `the conductor is not the leader .*conductor=${at(b.players)} leader=${at(a.players)}`,
  );
  for (const [i, p] of players.entries()) await p.waitFor(refusal, 30_000, from[i]);
  await lock[Symbol.asyncDispose]();

  await b.proc.waitFor(LEADING, 30_000);
  await connected(b, names);
  for (const [i, p] of players.entries()) {
    const lines = await untilWelcomed(p, from[i], at(b.players));
    assert(
      lines.some((l) =>
        /INFO +the conductor is stopping and asked this player to reconnect/.test(l)
      ),
      lines.join("\n"),
    );
    // The standby's refusals, and the stopped leader not there, are what the notice announced.
    assert(lines.some((l) => /DEBUG +the conductor is not the leader /.test(l)), lines.join("\n"));
    assertEquals(lines.filter((l) => WARNING.test(l)), [], `${p.name} warned of the move`);
    const waits = lines.filter((l) => /DEBUG +reconnecting /.test(l));
    assert(waits.every((l) => / wait=notice\b/.test(l)), waits.join("\n"));
  }
  const id = await b.client.submit({ score: "whoami", scope: "all", targets: names, params: {} });
  assertEquals((await b.client.waitJob(id, { timeoutMs: 30_000 })).aggregate, "success");
});

Deno.test("a conductor standing by while its database is away is dialled again under the ceiling it gives (retry_ms), not reconnect_max, and its player is back once it leads", async () => {
  await using pg = await PgCluster.start();
  const url = pg.socketUrl(await pg.createDatabase("away"));
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  const a = startMember(c, url, "conductor-a");
  await a.proc.waitFor(/conductor ready/, 30_000);
  const p1 = await c.startPlayer("p1", {
    extra: ["--conductor", at(a.players), "--reconnect-max", "10m"],
    wait: false,
  });
  await connected(a, ["p1"]);

  const from = p1.lines.length;
  const fromA = a.proc.lines.length;
  await pg.stop();
  await a.proc.waitFor(/lost the leadership/, 30_000, fromA);
  // Refused by the standby it became, round after round: each wait drawn under the ceiling the
  // standby gives (one player listed: the lowest, 1 s), not reconnect_max.
  await p1.waitFor(/the conductor is not the leader .*leader=unknown/, 30_000, from);
  const refusedAt = p1.lines.findIndex((l, i) => i >= from && l.includes("not the leader"));
  await until(
    "three rounds of dials refused",
    () => p1.lines.slice(refusedAt).filter((l) => /DEBUG +reconnecting /.test(l)).length >= 3,
    30_000,
  );
  await pg.restart();
  await a.proc.waitFor(LEADING, 60_000, fromA);
  const lines = await untilWelcomed(p1, from, at(a.players));
  // From the first refusal on (the wait after the disconnect itself is the backoff's first).
  const refused = lines.findIndex((l) => l.includes("the conductor is not the leader"));
  const waits = lines.slice(refused).filter((l) => /DEBUG +reconnecting /.test(l));
  // A round that met the standby waits under its ceiling; one that found nobody there (its
  // listeners changing hands as it takes the lead) under the 5 s one; none under reconnect_max.
  const paced = waits.filter((l) => / wait=standby cap_ms=1000\b/.test(l));
  assert(paced.length >= 3, waits.join("\n"));
  assert(
    waits.every((l) => / wait=(standby cap_ms=1000|backoff cap_ms=5000)\b/.test(l)),
    waits.join("\n"),
  );
  await connected(a, ["p1"]);
  const id = await a.client.submit({ score: "whoami", scope: "all", targets: ["p1"], params: {} });
  assertEquals((await a.client.waitJob(id, { timeoutMs: 30_000 })).aggregate, "success");
});
