/**
 * The leadership session: the server versions it accepts, and a close that
 * never waits on a server that does not answer; what a standby answers.
 */

import { assert, assertEquals, assertMatch } from "../../_helpers/assert.ts";
import { PgCluster } from "../../_helpers/postgres.ts";
import {
  type LeaderInfo,
  LockSession,
  serverVersionProblem,
  STANDBY_HELLOS_PER_S,
  standbyHandler,
  standbyRetryMs,
} from "../../../lib/conductor/leadership.ts";

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

/** A standby's answer to `GET /v1/jobs` while `leader` leads: its status and error. */
async function standbyAnswer(leader: LeaderInfo | null) {
  const res = await standbyHandler(() => leader)(new Request("https://orch/v1/jobs"), {
    caller: { transport: "https", name: "alice", auth: "client_certificate" },
  });
  return { status: res.status, error: (await res.json()).error as Record<string, unknown> };
}

Deno.test("a standby names the leader's audience address, or the leader itself when it serves no audience HTTPS port", async () => {
  const leader = { epoch: 3, name: "c1[812]", player: "c1.example:2258", since: 0 };
  let a = await standbyAnswer({ ...leader, audience: "c1.example:2259" });
  assertEquals([a.status, a.error.code, a.error.leader], [503, "not_leader", "c1.example:2259"]);
  assertEquals(a.error.message, "this conductor is a standby; the leader is c1.example:2259");

  // audience_listen off and nothing advertised: who leads is still known, and said.
  a = await standbyAnswer({ ...leader, audience: null });
  assertEquals([a.status, a.error.code, "leader" in a.error], [503, "not_leader", false]);
  assertEquals(
    a.error.message,
    "this conductor is a standby; the leader is c1[812], which serves no audience HTTPS port",
  );
  assertMatch(String(a.error.hint), /on the leader's host, over its audience socket \(--socket/);

  a = await standbyAnswer(null);
  assertEquals(a.error.message, "this conductor is a standby; no leader is known yet");
});

Deno.test("a standby's ceiling for each player's waits is in proportion to the fleet, within 1 s and a minute", () => {
  assertEquals(standbyRetryMs(0), 1_000);
  assertEquals(standbyRetryMs(100), 1_000);
  // 10,000 players drawing waits up to it, half of it on average: the rate a standby bears.
  assertEquals(standbyRetryMs(10_000), 10_000 * 2000 / STANDBY_HELLOS_PER_S);
  assertEquals(standbyRetryMs(1_000_000), 60_000);
});
