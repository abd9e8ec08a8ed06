/**
 * The scheduler's lists, on tasks made by hand: order by queue position
 * whatever happened to the tasks since, and a bound on stale entries.
 */

import { assert, assertEquals } from "../../_helpers/assert.ts";
import { type JobRec, newTask, type TaskRec } from "../../../lib/conductor/machine.ts";
import { Scheduler } from "../../../lib/conductor/scheduler.ts";

function jobOf(scope: "all" | "one", targets: string[]): JobRec {
  return {
    id: 1,
    score: "hello",
    scope,
    targets,
    params: {},
    secretsLost: false,
    secret: [],
    timeoutMs: null,
    deadline: null,
    retries: 0,
    open: new Set(),
    total: 1,
    succeeded: 0,
    unsucceeded: 0,
    cancelled: false,
    rollout: null,
    errors: 0,
    held: [],
    heldAt: 0,
    inBatch: 0,
    batchNo: 0,
    waiting: false,
    stopped: false,
    slots: false,
    used: new Set(),
  };
}

let nextId = 1;
function task(job: JobRec, seq: number): TaskRec {
  return newTask(job, nextId++, seq, job.scope === "all" ? job.targets[0] : null);
}

/** Takes every placement for `player`, marking each task placed, in order. */
function drain(s: Scheduler, player: string): number[] {
  const out: number[] = [];
  for (let p = s.next(); p; p = s.next()) {
    assertEquals(p.player, player);
    out.push(p.task.seq);
    p.task.state = "assigned";
    s.placed(p);
  }
  return out;
}

Deno.test("a task put back at the head is placed first, and later ones keep their order", () => {
  const s = new Scheduler({ free: (p) => p === "b" }, () => {});
  const one = jobOf("one", ["a", "b"]);
  const tasks = [10, 20, 25, 30].map((seq) => task(one, seq));
  for (const t of tasks) s.enqueue(t);
  // The task at 25 is put back at the head (as after a refusal): a new position, a new entry.
  const back = tasks[2];
  back.seq = -1;
  back.gen++;
  s.enqueue(back);
  s.enqueue(task(one, 15));
  assertEquals(drain(s, "b"), [-1, 10, 15, 20, 30]);
});

Deno.test("the lists of a target that is never free stay bounded, however many tasks pass it by", () => {
  const s = new Scheduler({ free: (p) => p === "a" }, () => {});
  const one = jobOf("one", ["a", "offline"]);
  for (let i = 1; i <= 50_000; i++) {
    s.enqueue(task(one, i));
    assertEquals(drain(s, "a").length, 1);
  }
  assert(s.entries("offline") <= 2 * 4096, `entries kept: ${s.entries("offline")}`);
});
