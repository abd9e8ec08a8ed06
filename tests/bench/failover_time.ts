/**
 * The failover time, ten times: two conductors on one private PostgreSQL
 * server (fsync on, a fresh database and a fresh pair each time), five
 * players, four HTTPS clients that know both conductors submitting steadily,
 * then `kill -9` of the leader. Measured from the kill (taken just before the
 * signal) to the new leader's `leading: took the leadership` and
 * `conductor ready` lines, and to the first `task started` a player logs
 * after it connected to the new leader — the first new dispatch. Each time
 * is read from the log lines' own timestamps.
 *
 * Run: `deno run -A tests/bench/failover_time.ts [kills]`. Prints each kill
 * and the median, minimum and maximum; never fails on timing.
 *
 * @module
 */

import { join } from "node:path";
import { Cluster } from "../_helpers/cluster.ts";
import { PgCluster } from "../_helpers/postgres.ts";
import { at, startMember, TEST_LEASE } from "../_helpers/conductor_pair.ts";
import { Proc, ROOT, until } from "../_helpers/proc.ts";
import { AudienceClient } from "../../lib/client/mod.ts";

const KILLS = Math.max(1, Math.min(50, Number(Deno.args[0] ?? 10)));
const HOSTS = ["p1", "p2", "p3", "p4", "p5"];
const SENDERS = 4;
/** The leader is killed once this many submits were acknowledged in a run. */
const KILL_AFTER = 60;
/** Submits in a run, at most. */
const SUBMITS = 120;
const TESTDATA = join(ROOT, "tests/testdata/scores");
const WAIT_MS = 60_000;

/** The time (epoch ms) of the first line of `p` from `from` on matching `re`, after `after` matched. */
function stampOf(p: Proc, from: number, re: RegExp, after?: RegExp): number | null {
  let armed = after === undefined;
  for (const line of p.lines.slice(from)) {
    if (!armed) {
      armed = after!.test(line);
      continue;
    }
    if (re.test(line)) {
      const t = Date.parse(line.split(" ")[0]);
      return Number.isFinite(t) ? t : null;
    }
  }
  return null;
}

interface Kill {
  lock: number;
  ready: number;
  dispatch: number;
}

async function once(pg: PgCluster, run: number): Promise<Kill> {
  const db = await pg.createDatabase("failover");
  const url = pg.socketUrl(db);
  await using c = await Cluster.create({ players: HOSTS, scoresDir: TESTDATA });
  const a = startMember(c, url, `conductor-a${run}`);
  await a.proc.waitFor(/conductor ready/, WAIT_MS);
  const b = startMember(c, url, `conductor-b${run}`);
  await b.proc.waitFor(/standby: another conductor may lead/, WAIT_MS);
  const players = await Promise.all(HOSTS.map((n) =>
    c.startPlayer(n, {
      extra: ["--conductor", `${at(a.players)},${at(b.players)}`, "--slots", "4"],
      wait: false,
    })
  ));
  const socket = new AudienceClient({
    kind: "socket",
    path: join(c.dir, `conductor-a${run}.sock`),
  });
  await until("every player connected", async () => {
    const list = await socket.players();
    return HOSTS.every((n) => list.some((p) => p.name === n && p.connected && p.slots > 0));
  }, WAIT_MS);
  const out = join(c.dir, "runs");
  await Deno.mkdir(out);

  const tls = await c.audienceTls("alice");
  const others = [{ host: "127.0.0.1", port: b.audience, expectName: "localhost" }];
  let acked = 0;
  let next = 0;
  const senders = Array.from({ length: SENDERS }, async () => {
    const client = new AudienceClient({
      kind: "https",
      host: "127.0.0.1",
      port: a.audience,
      tls,
      expectName: "localhost",
      others,
    });
    while (next < SUBMITS) {
      next++;
      await client.submit(
        { score: "append", scope: "all", targets: HOSTS, params: { OUT: out, SLEEP: "0.1" } },
        { retryForMs: WAIT_MS },
      );
      acked++;
    }
  });
  await until(`${KILL_AFTER} submits acknowledged`, () => acked >= KILL_AFTER, WAIT_MS);
  const from = players.map((p) => p.lines.length);
  const fromB = b.proc.lines.length;
  const killedAt = Date.now();
  await a.proc.kill9();
  await b.proc.waitFor(/conductor ready/, WAIT_MS, fromB);
  const connectedToB = new RegExp(`connected to the conductor .*conductor=${at(b.players)}`);
  const dispatch = await until("a task started via the new leader", () => {
    const seen = players.map((p, i) => stampOf(p, from[i], /task started/, connectedToB))
      .filter((t): t is number => t !== null);
    return seen.length > 0 ? Math.min(...seen) : false;
  }, WAIT_MS);
  await Promise.all(senders);
  return {
    lock: stampOf(b.proc, fromB, /leading: took the leadership/)! - killedAt,
    ready: stampOf(b.proc, fromB, /conductor ready/)! - killedAt,
    dispatch: dispatch - killedAt,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

await using pg = await PgCluster.start({ fsync: true });
console.log(
  `failover: ${KILLS} kills of the leader; 2 conductors on one PostgreSQL (fsync on, lease ` +
    `${TEST_LEASE}), ${HOSTS.length} players, ${SENDERS} clients submitting; ms from the kill`,
);
const kills: Kill[] = [];
for (let i = 1; i <= KILLS; i++) {
  const k = await once(pg, i);
  kills.push(k);
  console.log(
    `  kill ${String(i).padStart(2)}: lock taken ${k.lock} ms, ready ${k.ready} ms, ` +
      `first task started ${k.dispatch} ms`,
  );
}
for (const key of ["lock", "ready", "dispatch"] as const) {
  const xs = kills.map((k) => k[key]);
  const label = { lock: "lock taken", ready: "ready", dispatch: "first task started" }[key];
  console.log(
    `  ${label.padEnd(18)} median ${median(xs)} ms, min ${Math.min(...xs)} ms, max ${
      Math.max(...xs)
    } ms`,
  );
}
