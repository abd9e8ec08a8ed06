import { assert, assertEquals } from "../../_helpers/assert.ts";
import {
  aggregateOf,
  aggregateOfCounts,
  isFinal,
  OPEN_STATES,
  TASK_STATES,
  type TaskState,
} from "../../../lib/protocol/states.ts";

const NOT_SUCCEEDED_FINAL: TaskState[] = [
  "failed",
  "timed_out",
  "cancelled",
  "interrupted",
  "rejected",
  "expired",
  "player_removed",
  "skipped",
];

Deno.test("queued, assigned and running are open; every other state is final", () => {
  assertEquals(OPEN_STATES, ["queued", "assigned", "running"]);
  for (const s of TASK_STATES) assertEquals(isFinal(s), !OPEN_STATES.includes(s), s);
  assertEquals(TASK_STATES.length, 12);
});

Deno.test("a job with every task queued or assigned is pending", () => {
  assertEquals(aggregateOf(["queued"]), "pending");
  assertEquals(aggregateOf(["queued", "queued"]), "pending");
  assertEquals(aggregateOf(["assigned"]), "pending");
  assertEquals(aggregateOf(["queued", "assigned", "assigned"]), "pending");
});

Deno.test("a job with a task running is running", () => {
  assertEquals(aggregateOf(["running"]), "running");
  assertEquals(aggregateOf(["queued", "running"]), "running");
  assertEquals(aggregateOf(["assigned", "running", "succeeded"]), "running");
});

Deno.test("a job with some tasks final and some queued is running, not pending", () => {
  assertEquals(aggregateOf(["succeeded", "queued"]), "running");
  assertEquals(aggregateOf(["failed", "assigned"]), "running");
  assertEquals(aggregateOf(["rejected", "queued"]), "running");
});

Deno.test("a job whose tasks all succeeded is a success", () => {
  assertEquals(aggregateOf(["succeeded"]), "success");
  assertEquals(aggregateOf(["succeeded", "succeeded", "succeeded"]), "success");
});

Deno.test("a job where no task succeeded is a failure", () => {
  assertEquals(aggregateOf(["failed"]), "failure");
  assertEquals(aggregateOf(NOT_SUCCEEDED_FINAL), "failure");
});

Deno.test("a job with some tasks succeeded and some not is partial", () => {
  assertEquals(aggregateOf(["succeeded", "failed"]), "partial");
  assertEquals(aggregateOf(["succeeded", "succeeded", "timed_out"]), "partial");
});

Deno.test("rejected, expired and player_removed count as not succeeded", () => {
  for (const s of ["rejected", "expired", "player_removed"] as TaskState[]) {
    assertEquals(aggregateOf([s]), "failure", s);
    assertEquals(aggregateOf(["succeeded", s]), "partial", s);
  }
});

Deno.test("every final state other than succeeded makes a succeeded job partial", () => {
  for (const s of NOT_SUCCEEDED_FINAL) {
    assertEquals(aggregateOf(["succeeded", s]), "partial", s);
    assertEquals(aggregateOf([s, s]), "failure", s);
  }
});

Deno.test("aggregateOfCounts agrees with aggregateOf", () => {
  assertEquals(aggregateOfCounts({ queued: 3 }), "pending");
  assertEquals(aggregateOfCounts({ queued: 1, assigned: 2 }), "pending");
  assertEquals(aggregateOfCounts({ queued: 1, running: 1 }), "running");
  assertEquals(aggregateOfCounts({ succeeded: 4 }), "success");
  assertEquals(aggregateOfCounts({ succeeded: 2, expired: 1 }), "partial");
  assertEquals(aggregateOfCounts({ rejected: 1, player_removed: 2 }), "failure");
});

Deno.test("aggregateOfCounts ignores states counted zero", () => {
  assertEquals(aggregateOfCounts({ succeeded: 2, running: 0, failed: 0 }), "success");
  assertEquals(aggregateOfCounts({ queued: 1, running: 0 }), "pending");
});

Deno.test("aggregateOf counts every task, whatever the order", () => {
  const states: TaskState[] = ["failed", "succeeded", "succeeded", "queued"];
  assertEquals(aggregateOf(states), "running");
  assertEquals(aggregateOf(states.filter((s) => s !== "queued")), "partial");
  assert(aggregateOf([...states].reverse()) === "running");
});
