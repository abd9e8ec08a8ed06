import { assert, assertEquals } from "../../_helpers/assert.ts";
import { Queue, type TaskRec } from "../../../lib/conductor/queue.ts";
import type { OpenTask } from "../../../lib/store/conductor_store.ts";

function open(t: Partial<OpenTask> & { id: number; seq: number }): OpenTask {
  return {
    jobId: 1,
    scope: "all",
    score: "s",
    params: {},
    targets: [t.host ?? "p1"],
    host: "p1",
    state: "queued",
    attempt: 0,
    tried: [],
    timeoutMs: null,
    deadline: null,
    retries: 0,
    notBefore: null,
    failures: 0,
    cancelRequested: false,
    ...t,
  };
}

const NOW = 1_700_000_000_000;

const ids = (ts: readonly TaskRec[]) => ts.map((t) => t.id);

Deno.test("loaded tasks are queued per host in seq order, whatever the load order", () => {
  const q = new Queue();
  q.load(
    [
      open({ id: 1, seq: 5 }),
      open({ id: 2, seq: 3 }),
      open({ id: 3, seq: 4, host: "p2" }),
      open({ id: 4, seq: 1 }),
    ],
    { low: 1, high: 5 },
  );
  assertEquals(ids(q.queuedFor("p1")), [4, 2, 1]);
  assertEquals(ids(q.queuedFor("p2")), [3]);
  assertEquals(q.headFor("p1", NOW)?.id, 4);
  assertEquals(q.headFor("p2", NOW)?.id, 3);
  assertEquals(q.headFor("p3", NOW), undefined);
  assertEquals(q.queuedFor("p3"), []);
  assertEquals(q.size, 4);
});

Deno.test("a loaded all-of task's candidates are its host; a one-of task's are the job's targets", () => {
  const q = new Queue();
  q.load(
    [
      open({ id: 1, seq: 1, host: "p2", targets: ["p1", "p2"] }),
      open({ id: 2, seq: 2, scope: "one", host: null, targets: ["p3", "p1"] }),
    ],
    { low: 1, high: 2 },
  );
  assertEquals(q.get(1)?.candidates, ["p2"]);
  assertEquals(q.get(2)?.candidates, ["p3", "p1"]);
});

Deno.test("one-of tasks are queued apart, in seq order", () => {
  const q = new Queue();
  q.load(
    [
      open({ id: 1, seq: 9, scope: "one", host: null }),
      open({ id: 2, seq: 2, scope: "one", host: null }),
      open({ id: 3, seq: 4 }),
    ],
    { low: 2, high: 9 },
  );
  assertEquals(ids(q.queuedOneOf()), [2, 1]);
  assertEquals(ids(q.queuedFor("p1")), [3]);
});

Deno.test("loaded assigned and running tasks are held by their player", () => {
  const q = new Queue();
  q.load(
    [
      open({ id: 1, seq: 1, state: "assigned", attempt: 1 }),
      open({ id: 2, seq: 2, state: "running", attempt: 2 }),
      open({ id: 3, seq: 3, scope: "one", host: "p2", state: "running", attempt: 1 }),
      open({ id: 4, seq: 4 }),
    ],
    { low: 1, high: 4 },
  );
  assertEquals(ids(q.heldBy("p1")).sort(), [1, 2]);
  assertEquals(q.heldCount("p1"), 2);
  assertEquals(ids(q.heldBy("p2")), [3]);
  assertEquals(q.heldCount("p3"), 0);
  assertEquals(q.heldBy("p3"), []);
  assertEquals(ids(q.queuedFor("p1")), [4]);
  assertEquals(q.queuedOneOf(), []);
});

Deno.test("tail positions follow the highest seq; head positions go below the lowest", () => {
  const q = new Queue();
  q.load([], { low: 3, high: 10 });
  assertEquals(q.takeTailSeqs(3), 11);
  assertEquals(q.takeTailSeqs(1), 14);
  assertEquals(q.takeTailSeqs(2), 15);
  assertEquals(q.takeHeadSeq(), 2);
  assertEquals(q.takeHeadSeq(), 1);
  assertEquals(q.takeHeadSeq(), 0);
  assertEquals(q.takeHeadSeq(), -1);
});

Deno.test("an empty queue starts at zero", () => {
  const q = new Queue();
  q.load([], { low: 0, high: 0 });
  assertEquals(q.takeTailSeqs(1), 1);
  assertEquals(q.takeHeadSeq(), -1);
  assertEquals(q.size, 0);
  assertEquals([...q.all()], []);
});

Deno.test("assigning takes a task out of the queue and gives it to the player", () => {
  const q = new Queue();
  q.load([open({ id: 1, seq: 1 }), open({ id: 2, seq: 2 })], { low: 1, high: 2 });
  const t = q.headFor("p1", NOW)!;
  q.assign(t, "p1", 1);
  assertEquals([t.state, t.host, t.attempt], ["assigned", "p1", 1]);
  assertEquals(q.headFor("p1", NOW)?.id, 2);
  assertEquals(ids(q.heldBy("p1")), [1]);
  q.start(t);
  assertEquals(t.state, "running");
  assertEquals(q.heldCount("p1"), 1);
  assertEquals(q.get(1), t);
});

Deno.test("a task requeued at a head seq runs before every other", () => {
  const q = new Queue();
  q.load([open({ id: 1, seq: 1 }), open({ id: 2, seq: 2 }), open({ id: 3, seq: 3 })], {
    low: 1,
    high: 3,
  });
  const t = q.get(2)!;
  q.assign(t, "p1", 1);
  assertEquals(ids(q.queuedFor("p1")), [1, 3]);
  q.requeue(t, q.takeHeadSeq());
  assertEquals([t.state, t.seq, t.host, t.attempt], ["queued", 0, "p1", 1]);
  assertEquals(ids(q.queuedFor("p1")), [2, 1, 3]);
  assertEquals(q.heldCount("p1"), 0);
});

Deno.test("a task requeued at a tail seq goes last", () => {
  const q = new Queue();
  q.load([open({ id: 1, seq: 1 }), open({ id: 2, seq: 2 })], { low: 1, high: 2 });
  const t = q.get(1)!;
  q.assign(t, "p1", 1);
  q.start(t);
  q.requeue(t, q.takeTailSeqs(1));
  assertEquals(ids(q.queuedFor("p1")), [2, 1]);
  assertEquals(t.seq, 3);
});

Deno.test("a one-of task loses its placement when requeued", () => {
  const q = new Queue();
  q.load(
    [
      open({ id: 1, seq: 1, scope: "one", host: null }),
      open({ id: 2, seq: 2, scope: "one", host: null }),
    ],
    { low: 1, high: 2 },
  );
  const t = q.get(1)!;
  q.assign(t, "p2", 1);
  assertEquals(ids(q.queuedOneOf()), [2]);
  assertEquals(ids(q.heldBy("p2")), [1]);
  q.requeue(t, q.takeHeadSeq());
  assertEquals(t.host, null);
  assertEquals(ids(q.queuedOneOf()), [1, 2]);
  assertEquals(q.heldCount("p2"), 0);
});

Deno.test("closing tasks returns how many of the job are still open", () => {
  const q = new Queue();
  q.load(
    [
      open({ id: 1, seq: 1, jobId: 7 }),
      open({ id: 2, seq: 2, jobId: 7, host: "p2" }),
      open({ id: 3, seq: 3, jobId: 7, host: "p3", state: "running", attempt: 1 }),
      open({ id: 4, seq: 4, jobId: 8 }),
    ],
    { low: 1, high: 4 },
  );
  assertEquals(q.close(q.get(3)!), 2);
  assertEquals(q.heldCount("p3"), 0);
  assertEquals(q.close(q.get(1)!), 1);
  assertEquals(ids(q.queuedFor("p1")), [4]);
  assertEquals(q.close(q.get(2)!), 0);
  assertEquals(q.headFor("p2", NOW), undefined);
  assertEquals(q.close(q.get(4)!), 0);
  assertEquals(q.size, 0);
  assertEquals(q.get(1), undefined);
});

Deno.test("tasks added after loading join the indexes and the job count", () => {
  const q = new Queue();
  q.load([], { low: 0, high: 0 });
  const first = q.takeTailSeqs(2);
  for (const [i, host] of ["p1", "p2"].entries()) {
    q.add({
      id: 10 + i,
      jobId: 3,
      seq: first + i,
      scope: "all",
      score: "s",
      params: {},
      candidates: [host],
      host,
      state: "queued",
      attempt: 0,
      tried: [],
      timeoutMs: 30_000,
      deadline: null,
      retries: 2,
      notBefore: null,
      failures: 0,
      cancelRequested: false,
    });
  }
  assertEquals(q.headFor("p1", NOW)?.id, 10);
  assertEquals(q.headFor("p2", NOW)?.id, 11);
  assertEquals(q.size, 2);
  assertEquals(ids([...q.all()]).sort(), [10, 11]);
  assertEquals(q.close(q.get(10)!), 1);
  assert(q.get(11));
});

Deno.test("the job's options reach the queued task", () => {
  const q = new Queue();
  q.load(
    [open({
      id: 1,
      seq: 1,
      timeoutMs: 5000,
      deadline: NOW + 1,
      retries: 3,
      failures: 1,
      cancelRequested: true,
    })],
    { low: 1, high: 1 },
  );
  const t = q.get(1)!;
  assertEquals(
    [t.timeoutMs, t.deadline, t.retries, t.notBefore, t.failures, t.cancelRequested],
    [5000, NOW + 1, 3, null, 1, true],
  );
});

Deno.test("a task waiting for a retry is passed over by headFor until its time", () => {
  const q = new Queue();
  q.load(
    [open({ id: 1, seq: 1, notBefore: NOW + 1000 }), open({ id: 2, seq: 2 })],
    { low: 1, high: 2 },
  );
  assertEquals(q.headFor("p1", NOW)?.id, 2);
  assertEquals(q.headFor("p1", NOW + 999)?.id, 2);
  assertEquals(q.headFor("p1", NOW + 1000)?.id, 1);
  // Still queued in seq order.
  assertEquals(ids(q.queuedFor("p1")), [1, 2]);
  q.close(q.get(2)!);
  assertEquals(q.headFor("p1", NOW), undefined);
});

Deno.test("ofJob lists the open tasks of one job", () => {
  const q = new Queue();
  q.load(
    [
      open({ id: 1, seq: 1, jobId: 7 }),
      open({ id: 2, seq: 2, jobId: 7, host: "p2", state: "running", attempt: 1 }),
      open({ id: 3, seq: 3, jobId: 8 }),
    ],
    { low: 1, high: 3 },
  );
  assertEquals(ids(q.ofJob(7)).sort(), [1, 2]);
  assertEquals(ids(q.ofJob(8)), [3]);
  assertEquals(q.ofJob(9), []);
  q.close(q.get(1)!);
  assertEquals(ids(q.ofJob(7)), [2]);
  q.close(q.get(2)!);
  assertEquals(q.ofJob(7), []);
});
