/**
 * Schedules on the driven clock: each due time fires exactly once, a
 * restart fires missed due times once or skips them by the schedule's
 * policy, a revoked grant stops the firing, and a bad cron expression is
 * refused with its reason. In-process, on a real SQLite store.
 */

import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertRejects } from "../../_helpers/assert.ts";
import { ManualClock } from "../../_helpers/clock.ts";
import { inProcessConductor, settle } from "../../_helpers/in_process.ts";
import { TestPlayer } from "../../_helpers/test_player.ts";
import type { Caller, MissedPolicy, ScheduleRequest } from "../../../lib/protocol/mod.ts";
import { type ConductorStore, SqliteStore } from "../../../lib/store/mod.ts";

const ROOT: Caller = { transport: "socket", name: "root", auth: "file_ownership" };
const MINUTE = 60_000;

function every(name: string, ms: number, policy: MissedPolicy = "catch-up-once"): ScheduleRequest {
  return {
    name,
    spec: { every_ms: ms },
    policy,
    job: {
      score: "hello",
      scope: "all",
      targets: ["p1"],
      params: {},
      timeout_ms: null,
      retries: 0,
    },
  };
}

/** The ids of the jobs `schedule` submitted, oldest first. */
async function jobsOf(store: ConductorStore, schedule: string): Promise<number[]> {
  const ids: number[] = [];
  for (const j of await store.jobs({ limit: 1000 })) {
    if ((await store.job(j.id))?.schedule === schedule) ids.push(j.id);
  }
  return ids.reverse();
}

async function withDb(fn: (db: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "orch-sched-" });
  try {
    await fn(join(dir, "conductor.db"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a schedule fires exactly once per due time on the driven clock", async () => {
  await withDb(async (db) => {
    const store = SqliteStore.open(db, { create: true });
    await using h = await inProcessConductor({ players: ["p1"], store });
    await new TestPlayer(h.conductor, "p1").join();
    const added = await h.conductor.schedules.add(every("tick", MINUTE), ROOT, []);
    const t0 = added.created_at;
    assertEquals(added.next_due, t0 + MINUTE);

    h.clock.advance(MINUTE - 1);
    await settle();
    assertEquals((await jobsOf(store, "tick")).length, 0, "nothing before the first due time");
    h.clock.advance(1);
    await settle();
    assertEquals((await jobsOf(store, "tick")).length, 1, "one job at the first due time");
    h.clock.advance(MINUTE / 2);
    await settle();
    assertEquals((await jobsOf(store, "tick")).length, 1, "none between due times");
    for (let i = 2; i <= 5; i++) {
      h.clock.advance(i === 2 ? MINUTE / 2 : MINUTE);
      await settle();
      assertEquals((await jobsOf(store, "tick")).length, i, `one job at due time ${i}`);
    }
    const [s] = (await store.schedules()).filter((x) => x.name === "tick");
    assertEquals(s.lastDue, t0 + 5 * MINUTE, "the last due time is stored");
    const job = await store.job((await jobsOf(store, "tick"))[0]);
    assertEquals(job?.submitted_by, "local:root", "each run is submitted as the owner");
  });
});

Deno.test("after a restart, missed due times fire once (catch-up-once) or not at all (skip)", async () => {
  await withDb(async (db) => {
    const clock = new ManualClock();
    let t0 = 0;
    {
      const store = SqliteStore.open(db, { create: true });
      await using h = await inProcessConductor({ players: ["p1"], store, clock });
      await new TestPlayer(h.conductor, "p1").join();
      t0 = (await h.conductor.schedules.add(every("catch", MINUTE), ROOT, [])).created_at;
      await h.conductor.schedules.add(every("skip", MINUTE, "skip"), ROOT, []);
      clock.advance(MINUTE);
      await settle();
      assertEquals((await jobsOf(store, "catch")).length, 1);
      assertEquals((await jobsOf(store, "skip")).length, 1);
    }
    // Down for three and a half due times.
    clock.advance(3 * MINUTE + MINUTE / 2);
    const store = SqliteStore.open(db);
    await using h = await inProcessConductor({ players: ["p1"], store, clock });
    await settle();
    assertEquals((await jobsOf(store, "catch")).length, 2, "catch-up-once: one job for them all");
    assertEquals((await jobsOf(store, "skip")).length, 1, "skip: none");
    const marks = Object.fromEntries((await store.schedules()).map((s) => [s.name, s.lastDue]));
    assertEquals(marks.catch, t0 + 4 * MINUTE + MINUTE / 2);
    assertEquals(marks.skip, t0 + 4 * MINUTE + MINUTE / 2);
    // Both go on at their next due time, once each.
    clock.advance(MINUTE / 2);
    await settle();
    assertEquals((await jobsOf(store, "catch")).length, 3);
    assertEquals((await jobsOf(store, "skip")).length, 2);
    assert(h.conductor.schedules.list().every((s) => s.next_due === t0 + 6 * MINUTE));
  });
});

Deno.test("a schedule whose owner lost the submit grant does not fire; the refusal is audited", async () => {
  await withDb(async (db) => {
    const store = SqliteStore.open(db, { create: true });
    await using h = await inProcessConductor({ players: ["p1"], store });
    const grants = join(h.dir, "grants.yaml");
    await Deno.writeTextFile(grants, "grants:\n  - who: local:root\n    may: all\n");
    await h.conductor.reloadGrants();
    await new TestPlayer(h.conductor, "p1").join();
    await h.conductor.schedules.add(every("tick", MINUTE), ROOT, []);
    await Deno.writeTextFile(grants, "grants:\n  - who: local:root\n    may: [read, schedule]\n");
    await h.conductor.reloadGrants();
    h.clock.advance(MINUTE);
    await settle();
    assertEquals((await jobsOf(store, "tick")).length, 0, "no job once the grant is gone");
    const refused = (await store.audit({ limit: 10 })).filter((r) =>
      r.from === "schedule tick" && r.outcome === "refused"
    );
    assertEquals(refused.length, 1);
    assertMatch(refused[0].reason ?? "", /gives local:root submit/);
    await assertRejects(() => h.conductor.schedules.runNow("tick"), /may\ no\ longer/);
  });
});

Deno.test("a bad cron expression or a name in use is refused with the reason, and nothing is stored", async () => {
  await withDb(async (db) => {
    const store = SqliteStore.open(db, { create: true });
    await using h = await inProcessConductor({ players: ["p1"], store });
    await new TestPlayer(h.conductor, "p1").join();
    const cron = (expr: string): ScheduleRequest => ({
      ...every("c", MINUTE),
      spec: { cron: expr, timezone: null },
    });
    await assertRejects(
      () => h.conductor.schedules.add(cron("61 * * * *"), ROOT, []),
      /Invalid\ value\ for\ minute:\ 61/,
    );
    await assertRejects(
      () => h.conductor.schedules.add(cron("every day"), ROOT, []),
      /is\ not\ a\ cron\ expression/,
    );
    await assertRejects(
      () => h.conductor.schedules.add(cron("0 0 30 2 *"), ROOT, []),
      /is\ never\ due/,
    );
    await h.conductor.schedules.add(cron("*/5 * * * *"), ROOT, []);
    await assertRejects(
      () => h.conductor.schedules.add(every("c", MINUTE), ROOT, []),
      /exists\ already/,
    );
    assertEquals((await store.schedules()).map((s) => s.spec), [{
      cron: "*/5 * * * *",
      timezone: null,
    }]);
  });
});

Deno.test("a schedule's targets may be globs and selectors, resolved each time it runs", async () => {
  await withDb(async (db) => {
    const store = SqliteStore.open(db, { create: true });
    await using h = await inProcessConductor({ players: ["p1", "p2", "q1"], store });
    for (const n of ["p1", "p2", "q1"]) await new TestPlayer(h.conductor, n).join();
    const req = every("glob", MINUTE);
    await h.conductor.schedules.add({ ...req, job: { ...req.job, targets: ["p*"] } }, ROOT, []);
    h.clock.advance(MINUTE);
    await settle();
    const [id] = await jobsOf(store, "glob");
    const job = await store.job(id);
    assertEquals(job?.hosts, ["p1", "p2"]);
    assertEquals(job?.targets, ["p*"]);
    // A target that matches no player is refused when the schedule is added.
    await assertRejects(
      () =>
        h.conductor.schedules.add(
          { ...every("none", MINUTE), job: { ...req.job, targets: ["z*"] } },
          ROOT,
          [],
        ),
      /z\*/,
    );
  });
});

Deno.test("a schedule's job keeps the rollout rules it was given (batch, quorum, N-of)", async () => {
  await withDb(async (db) => {
    const store = SqliteStore.open(db, { create: true });
    await using h = await inProcessConductor({ players: ["p1", "p2", "p3"], store });
    for (const n of ["p1", "p2", "p3"]) await new TestPlayer(h.conductor, n).join();
    const req = every("rolled", MINUTE);
    await h.conductor.schedules.add(
      {
        ...req,
        job: {
          ...req.job,
          targets: ["p*"],
          quorum: 1,
          batch: { count: 1 },
          some: { count: 2 },
          offline_wait_ms: 0,
        },
      },
      ROOT,
      [],
    );
    h.clock.advance(MINUTE);
    await settle();
    const [id] = await jobsOf(store, "rolled");
    const job = await store.job(id);
    assertEquals(job?.task_count, 2);
    assertEquals(job?.rollout_settings?.quorum, 1);
    assertEquals(job?.rollout_settings?.batch, 1);
    assertEquals(job?.rollout_settings?.some, 2);
  });
});
