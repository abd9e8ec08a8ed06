import { assert, assertEquals } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { tempDir } from "../_helpers/proc.ts";
import { appendedRuns, FAULT_SCORES, report } from "./_fault.ts";
import { OrchError } from "../../lib/errors.ts";

Deno.test("fault 1: kill -9 of the conductor mid-burst of 500 submits: every acknowledged job completes, each (job, host) runs once", async () => {
  const players = ["p1", "p2", "p3", "p4", "p5"];
  await using c = await Cluster.create({ players, scoresDir: FAULT_SCORES });
  const first = await c.startConductor(["--log-level", "info"]);
  for (const p of players) await c.startPlayer(p, { extra: ["--log-level", "info"] });
  await using outDir = await tempDir();
  const out = outDir.path;
  const total = 500;
  const acked: number[] = [];
  let failedTries = 0;
  let next = 0;
  let restarted: Promise<unknown> | null = null;
  // 16 clients submit at once. After the 200th acknowledgement the conductor is killed with -9
  // and started again; a client whose submit fails sends it again, with the same request id,
  // as orch submit does: a submit stored before its answer was lost must not make a second job.
  const worker = async () => {
    while (next < total) {
      const n = ++next;
      const targets = [players[n % 5], players[(n + 1) % 5]];
      for (;;) {
        try {
          acked.push(
            await c.client.submit({
              score: "append",
              scope: "all",
              targets,
              params: { OUT: out },
              request_id: `burst-${n}`,
            }),
          );
          break;
        } catch (err) {
          if (!(err instanceof OrchError) || err.code !== "unavailable") throw err;
          failedTries++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      if (acked.length >= 200 && restarted === null) {
        first.proc.signal("SIGKILL");
        restarted = first.proc.exited.then(() => c.startConductor(["--log-level", "info"]));
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  await restarted;
  assertEquals(acked.length, total);
  for (const id of acked) {
    assertEquals((await c.wait(id, 60_000)).aggregate, "success", `job ${id}`);
  }

  // Every job the database holds is whole (two tasks), finished, and ran once per host.
  const jobs = [];
  let page = await c.client.jobs(1000);
  while (page.length > 0) {
    jobs.push(...page);
    page = await c.client.jobs(1000, page[page.length - 1].id);
  }
  for (const j of jobs) {
    assertEquals(j.host_count, 2, `job ${j.id}`);
    assertEquals(j.counts.succeeded ?? 0, 2, `job ${j.id}: ${JSON.stringify(j.counts)}`);
  }
  const stored = new Set(jobs.map((j) => j.id));
  for (const id of acked) assert(stored.has(id), `acknowledged job ${id} is missing`);
  assertEquals(jobs.length, total, "a submit sent again made a second job");
  assertEquals(new Set(acked).size, total);

  const runs = await appendedRuns(out);
  const perJobHost = new Map<string, number>();
  for (const [player, lines] of runs) {
    for (const l of lines) {
      const key = `${l.split(" ")[0]}@${player}`;
      perJobHost.set(key, (perJobHost.get(key) ?? 0) + 1);
    }
  }
  const duplicated = [...perJobHost.values()].filter((n) => n > 1).length;
  const ranJobs = new Set([...perJobHost.keys()].map((k) => Number(k.split("@")[0])));
  const lost = jobs.length * 2 - perJobHost.size;
  assertEquals(duplicated, 0);
  assertEquals(lost, 0);
  for (const id of ranJobs) assert(stored.has(id), `job ${id} ran but is not stored`);
  report("fault 1 (kill -9 mid-burst)", {
    submitted: total,
    acknowledged: acked.length,
    sent_again_found_stored: c.conductor!.proc.lines.filter((l) =>
      l.includes("submit sent again")
    ).length,
    failed_tries_while_down: failedTries,
    stored: jobs.length,
    stored_not_acknowledged: jobs.length - acked.length,
    completed: jobs.length,
    tasks_run: perJobHost.size,
    duplicated,
    lost,
  });
});
