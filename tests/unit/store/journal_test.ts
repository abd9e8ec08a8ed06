import { withTempDir } from "../../_helpers/proc.ts";
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { join } from "node:path";
import type { ResultBody } from "../../../lib/protocol/messages.ts";
import { Journal, JOURNAL_MIGRATIONS, type JournalTask } from "../../../lib/store/journal.ts";
import { openDatabase } from "../../../lib/store/db.ts";

async function withJournal(fn: (j: Journal, path: string) => Promise<void> | void) {
  await withTempDir(async (dir) => {
    const path = join(dir, "state", "journal.db");
    const j = Journal.open(path);
    try {
      await fn(j, path);
    } finally {
      j.close();
    }
  });
}

const accepted = (taskId: number, attempt: number, acceptedAt: number, conductorId = "c1") => ({
  taskId,
  attempt,
  conductorId,
  jobId: 100 + taskId,
  score: "deploy",
  acceptedAt,
});

const running = (
  taskId: number,
  attempt: number,
  acceptedAt: number,
  conductorId = "c1",
): JournalTask => ({
  ...accepted(taskId, attempt, acceptedAt, conductorId),
  state: "running",
  pid: null,
  pidStart: null,
  result: null,
});

const result: ResultBody = {
  outcome: "failed",
  exit_code: 2,
  signal: null,
  response: { K: "v", n: 1 },
  stdout_tail: "o",
  stderr_tail: "e",
  started_at: 10,
  ended_at: 20,
  error: "exit status 2",
};

const key = (t: JournalTask) => [t.taskId, t.attempt];

/** The journal key of task `taskId`, attempt `attempt`, of conductor database `conductorId`. */
const k = (taskId: number, attempt: number, conductorId = "c1") => ({
  conductorId,
  taskId,
  attempt,
});

Deno.test("an accepted task is running with no process and no result", async () => {
  await withJournal((j) => {
    j.accept(accepted(1, 1, 1000));
    assertEquals(j.get(k(1, 1)), running(1, 1, 1000));
    assertEquals(j.get(k(1, 2)), undefined);
    assertEquals(j.all(), [running(1, 1, 1000)]);
  });
});

Deno.test("all lists tasks oldest first, then by task id", async () => {
  await withJournal((j) => {
    j.accept(accepted(3, 1, 200));
    j.accept(accepted(2, 1, 300));
    j.accept(accepted(5, 1, 100));
    j.accept(accepted(1, 1, 200));
    assertEquals(j.all().map(key), [[5, 1], [1, 1], [3, 1], [2, 1]]);
  });
});

Deno.test("setProcess records the score's pid and start time", async () => {
  await withJournal((j) => {
    j.accept(accepted(1, 1, 1000));
    j.accept(accepted(1, 2, 1001));
    j.setProcess(k(1, 2), 4242, "123456");
    assertEquals(j.get(k(1, 2)), { ...running(1, 2, 1001), pid: 4242, pidStart: "123456" });
    assertEquals(j.get(k(1, 1)), running(1, 1, 1000));
    j.setProcess(k(1, 1), 77, null);
    assertEquals([j.get(k(1, 1))!.pid, j.get(k(1, 1))!.pidStart], [77, null]);
  });
});

Deno.test("finish stores the result and marks the task finished", async () => {
  await withJournal((j) => {
    j.accept(accepted(1, 1, 1000));
    j.setProcess(k(1, 1), 4242, "9");
    j.finish(k(1, 1), result);
    assertEquals(j.get(k(1, 1)), {
      ...running(1, 1, 1000),
      state: "finished",
      pid: 4242,
      pidStart: "9",
      result,
    });
  });
});

Deno.test("remove forgets one attempt and says whether there was one", async () => {
  await withJournal((j) => {
    j.accept(accepted(1, 1, 1));
    j.accept(accepted(1, 2, 2));
    assertEquals(j.remove(k(1, 1)), true);
    assertEquals(j.remove(k(1, 1)), false);
    assertEquals(j.remove(k(9, 9)), false);
    assertEquals(j.all().map(key), [[1, 2]]);
  });
});

Deno.test("dropForeign forgets and returns the tasks of other conductors", async () => {
  await withJournal((j) => {
    j.accept(accepted(1, 1, 1, "old"));
    j.accept(accepted(2, 1, 2, "new"));
    j.accept(accepted(3, 1, 3, "older"));
    assertEquals(j.finish(k(3, 1, "older"), result), true);
    const dropped = j.dropForeign("new");
    assertEquals(dropped, [running(1, 1, 1, "old"), {
      ...running(3, 1, 3, "older"),
      state: "finished",
      result,
    }]);
    assertEquals(j.all(), [running(2, 1, 2, "new")]);
    assertEquals(j.dropForeign("new"), []);
  });
});

Deno.test("the journal survives a reopen", async () => {
  await withTempDir((dir) => {
    const path = join(dir, "journal.db");
    const a = Journal.open(path);
    a.accept(accepted(1, 1, 10));
    a.accept(accepted(2, 3, 20));
    a.setProcess(k(2, 3), 555, "42");
    a.finish(k(1, 1), result);
    const before = a.all();
    a.close();
    const b = Journal.open(path);
    try {
      assertEquals(b.all(), before);
      assertEquals(before.map(key), [[1, 1], [2, 3]]);
      assert(b.remove(k(1, 1)));
    } finally {
      b.close();
    }
    const c = Journal.open(path);
    assertEquals(c.all().map(key), [[2, 3]]);
    c.close();
  });
});

Deno.test("the same task id from two conductor databases are two journal entries", async () => {
  await withJournal((j) => {
    j.accept(accepted(1, 1, 1, "old"));
    j.accept(accepted(1, 1, 2, "new"));
    assertEquals(j.finish(k(1, 1, "old"), result), true);
    assertEquals(j.get(k(1, 1, "new")), running(1, 1, 2, "new"));
    j.dropForeign("new");
    // A run of the old database that ends now finds nothing to finish, and touches nothing.
    assertEquals(j.finish(k(1, 1, "old"), result), false);
    assertEquals(j.all(), [running(1, 1, 2, "new")]);
  });
});

Deno.test("a journal made by the first schema is carried over, entries intact", async () => {
  await withTempDir((dir) => {
    const path = join(dir, "journal.db");
    const v1 = openDatabase(path, {
      what: "journal",
      migrations: JOURNAL_MIGRATIONS.slice(0, 1),
      exclusive: false,
      create: true,
    });
    v1.prepare(
      `INSERT INTO tasks (task_id, attempt, conductor_id, job_id, score, state, pid, pid_start, accepted_at, result)
       VALUES (7, 2, 'c1', 107, 'deploy', 'finished', 99, '5', 70, ?)`,
    ).run(JSON.stringify(result));
    v1.close();
    const j = Journal.open(path);
    try {
      assertEquals(j.all(), [{
        ...running(7, 2, 70),
        jobId: 107,
        state: "finished",
        pid: 99,
        pidStart: "5",
        result,
      }]);
      assertEquals(j.remove(k(7, 2)), true);
    } finally {
      j.close();
    }
  });
});
