/**
 * Leadership on one PostgreSQL database, the takeover itself: a standby
 * takes over promptly whatever connections it holds, and keeps its lock
 * session alive while it does.
 */

import { join } from "node:path";
import { assertEquals } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { PgCluster } from "../_helpers/postgres.ts";
import { startMember } from "../_helpers/conductor_pair.ts";
import { ROOT } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");
const LEADING = /leading: took the leadership/;
const STANDBY = /standby: another conductor may lead/;

Deno.test("a standby holding idle connections on its players and audience ports takes over promptly when the leader is killed", async () => {
  await using pg = await PgCluster.start({ fsync: false });
  const url = pg.socketUrl(await pg.createDatabase("takeover"));
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  const a = startMember(c, url, "conductor-a");
  await a.proc.waitFor(/conductor ready/, 30_000);
  const b = startMember(c, url, "conductor-b");
  await b.proc.waitFor(STANDBY, 30_000);

  // Probes that connect and say nothing: not even a TLS handshake.
  const idle = [
    await Deno.connect({ hostname: "127.0.0.1", port: b.players }),
    await Deno.connect({ hostname: "127.0.0.1", port: b.audience }),
  ];
  try {
    await a.proc.kill9();
    // The handshake timeout (10 s) is far beyond this bound: the takeover waits on no probe.
    await b.proc.waitFor(LEADING, 7_000);
    await b.proc.waitFor(/conductor ready/, 7_000);
    // The probes were cut off when the standby's listeners stopped.
    for (const conn of idle) {
      const n = await conn.read(new Uint8Array(16)).catch(() => null);
      assertEquals(n, null);
    }
    // The standby cut its probes itself: that is no peer's refusal, and is not logged as one.
    assertEquals(b.proc.log.includes("refused an audience connection"), false, b.proc.log);
    // Nothing stepped down after the takeover.
    assertEquals(b.proc.log.includes("lost the leadership"), false, b.proc.log);
  } finally {
    for (const conn of idle) {
      try {
        conn.close();
      } catch {
        // closed already
      }
    }
  }
});
