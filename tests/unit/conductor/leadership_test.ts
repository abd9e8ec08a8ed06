/**
 * The leadership session: the server versions it accepts, and a close that
 * never waits on a server that does not answer.
 */

import { assert, assertEquals, assertMatch } from "../../_helpers/assert.ts";
import { PgCluster } from "../../_helpers/postgres.ts";
import { LockSession, serverVersionProblem } from "../../../lib/conductor/leadership.ts";

Deno.test("leadership needs PostgreSQL 14 or later, and says which version it found", () => {
  assertEquals(serverVersionProblem(140000), null);
  assertEquals(serverVersionProblem(150004), null);
  assertEquals(serverVersionProblem(170002), null);
  const old = serverVersionProblem(130012);
  assert(old !== null);
  assertMatch(old, /version 13\.12;.*PostgreSQL 14 or later/);
  assertMatch(serverVersionProblem(90624) ?? "", /version 9\.624;/);
  assertMatch(serverVersionProblem(Number.NaN) ?? "", /version unknown;/);
});

Deno.test("closing the leadership session does not wait on a server that stopped answering", async () => {
  await using pg = await PgCluster.start();
  const db = await pg.createDatabase("lock");
  const session = await LockSession.open({
    url: pg.socketUrl(db),
    tls: { mode: "disable" },
    leaseMs: 60_000,
  });
  const pid = Number(
    await pg.psql(
      db,
      "SELECT pid FROM pg_stat_activity WHERE application_name = 'orch conductor leadership'",
    ),
  );
  assert(Number.isSafeInteger(pid) && pid > 0, `no backend found: ${pid}`);
  // The backend is paused: it never answers the session's goodbye, nor closes the socket.
  Deno.kill(pid, "SIGSTOP");
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      session.close().then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 10_000))),
    ]);
    clearTimeout(timer);
    assert(closed, "close() still waiting on a server that does not answer");
  } finally {
    Deno.kill(pid, "SIGCONT");
  }
});
