/**
 * A schedule fires its due time once across a conductor kill -9: the due
 * time passes while the conductor is killed, it fires once when the
 * conductor returns, and not again after a second kill -9. Real processes,
 * driven by the CLI.
 */

import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { until } from "../_helpers/proc.ts";
import type { ScheduleViewJson as ScheduleView } from "../../lib/protocol/mod.ts";

async function scheduledJobs(c: Cluster, name: string): Promise<number[]> {
  const ids: number[] = [];
  for (const j of await c.client.jobs(1000)) {
    if ((await c.client.job(j.id)).schedule === name) ids.push(j.id);
  }
  return ids.sort((a, b) => a - b);
}

async function schedules(c: Cluster): Promise<ScheduleView[]> {
  const r = await c.cli(["schedule", "list", "--json"]);
  assertEquals(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { schedules: ScheduleView[] }).schedules;
}

Deno.test("a schedule's due time that passes while the conductor is killed fires once when it returns, and not again", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const first = await c.startConductor();
  await c.startPlayer("p1");

  // A bad cron expression is refused with the reason, and nothing is stored.
  const bad = await c.cli([
    "schedule",
    "add",
    "bad",
    "hello",
    "--one",
    "-t",
    "p1",
    "--cron",
    "61 * * * *",
  ]);
  assert(bad.code !== 0, "a bad cron expression is refused");
  assertMatch(bad.stderr, /minute: 61/);

  // Due once a day, a few seconds from now (UTC).
  const due = Math.ceil((Date.now() + 4000) / 1000) * 1000;
  const d = new Date(due);
  const cron = `${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} * * *`;
  const added = await c.cli([
    "schedule",
    "add",
    "daily",
    "hello",
    "--one",
    "-t",
    "p1",
    "--cron",
    cron,
  ]);
  assertEquals(added.code, 0, added.stderr);
  assertMatch(
    added.stdout,
    new RegExp(`next due ${d.toISOString().replace("T", " ").replace(".000Z", "Z")}`),
  );
  assertEquals((await schedules(c)).map((s) => [s.name, s.next_due]), [
    ["daily", new Date(due).toISOString()],
  ]);

  await first.proc.kill9();
  // The due time passes while the conductor is down (a wait on the wall clock, bounded).
  await until("the due time passed", () => Promise.resolve(Date.now() > due + 500), 10_000);

  await c.startConductor();
  await until(
    "the missed due time fired",
    async () => (await scheduledJobs(c, "daily")).length > 0,
  );
  const [s] = await schedules(c);
  assert(s.last_due !== null && Date.parse(s.last_due) >= due, "the due time is marked");
  assertEquals(
    s.next_due,
    new Date(due + 24 * 3600 * 1000).toISOString(),
    "the next due time is tomorrow",
  );
  const ids = await scheduledJobs(c, "daily");
  assertEquals(ids.length, 1, "fired once");
  assertEquals((await c.wait(ids[0])).aggregate, "success");

  // Killed again: the fire was committed with its mark, so the return does not fire it again.
  await c.conductor!.proc.kill9();
  await c.startConductor();
  assertEquals(await scheduledJobs(c, "daily"), ids, "not fired twice");

  // run-now submits the job at once, naming the schedule; remove takes the schedule away.
  const run = await c.cli(["schedule", "run-now", "daily"]);
  assertEquals(run.code, 0, run.stderr);
  assertEquals((await c.client.job(Number(run.stdout.trim()))).schedule, "daily");
  const removed = await c.cli(["schedule", "remove", "daily"]);
  assertEquals(removed.code, 0, removed.stderr);
  assertEquals(await schedules(c), []);
  const again = await c.cli(["schedule", "remove", "daily"]);
  assert(again.code !== 0);
  assertMatch(again.stderr, /no schedule daily/);
});
