import { assertEquals, assertThrows } from "../../_helpers/assert.ts";
import { FakeBackend, T0, task } from "../../_helpers/fake_backend.ts";
import { orch } from "../../_helpers/proc.ts";
import { serveOnSocket } from "../../_helpers/socket_api.ts";
import { hostFlag, limitFlag, pageFlag, stateFlag } from "../../../cmd/status.ts";
import { createApiHandler } from "../../../lib/conductor/api.ts";
import { silentLogger } from "../../../lib/log.ts";
import type { TaskDetail } from "../../../lib/protocol/mod.ts";

/** Job 7: 120 tasks on n1…n120, every tenth failed with a line on stderr. */
const TASKS: TaskDetail[] = Array.from({ length: 120 }, (_, i) =>
  task({
    id: i + 1,
    job_id: 7,
    host: `n${i + 1}`,
    ...(i % 10 === 9
      ? { state: "failed" as const, exit_code: 1, stderr_tail: `n${i + 1} gave up\n` }
      : { stdout_tail: `hello from n${i + 1}\n` }),
  }));

/** Serves a fake backend holding job 7 on a Unix socket; `run` runs the real orch against it. */
async function serve() {
  const backend = new FakeBackend();
  backend.add(TASKS, { id: 7, aggregate: "partial", finished_at: T0 + 2000 });
  backend.nextId = 7;
  const served = await serveOnSocket(createApiHandler(backend, silentLogger));
  return {
    backend,
    run: (args: string[]) => orch([...args, "--socket", served.socket]),
    [Symbol.asyncDispose]: () => served[Symbol.asyncDispose](),
  };
}

Deno.test("the paging flags take their range, a task state and a host name", () => {
  assertEquals([pageFlag("1"), pageFlag("1000000")], [1, 1_000_000]);
  assertEquals([limitFlag("1"), limitFlag("100")], [1, 100]);
  assertEquals([stateFlag("failed"), hostFlag("Web-1.Example")], ["failed", "web-1.example"]);
  assertThrows(() => pageFlag("0"), /^--page "0" is not a number 1\.\.1000000$/);
  assertThrows(() => pageFlag("1000001"), /^--page "1000001" is not a number/);
  assertThrows(() => limitFlag("101"), /^--limit "101" is not a number 1\.\.100$/);
  assertThrows(() => limitFlag("ten"), /^--limit "ten" is not a number 1\.\.100$/);
  assertThrows(() => stateFlag("done"), /^--state "done" is not a task state \(queued, /);
  assertThrows(() => hostFlag("no host"), /^--host "no host" is not a host name/);
});

Deno.test("orch status shows the summary, the first page of 50 with output, and the next page's command", async () => {
  await using s = await serve();
  const r = await s.run(["status", "7"]);
  assertEquals(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assertEquals(lines.slice(0, 6), [
    "job 7: hello on all of 120 targets: n1, n2, n3, n4, n5, n6, n7, n8, n9, n10 and 110 more",
    "aggregate: partial (108 succeeded, 12 failed)",
    "submitted: 2026-11-22 08:52:34Z by local, finished after 2s",
    "",
    "HOST  STATE      EXIT  DURATION",
    "n1    succeeded  0     5ms",
  ]);
  assertEquals(lines.slice(-4), [
    "n50   failed     1     5ms",
    "    stderr| n50 gave up",
    "",
    "tasks 1–50 of 120; next page: orch status 7 --page 2",
  ]);
  assertEquals(s.backend.calls.filter((c) => c[0] === "tasks"), [
    ["tasks", 7, { page: 1, limit: 50, output: true }],
  ]);
});

Deno.test("orch status passes --state, --host, --page and --limit to the API, and --json prints job and page", async () => {
  await using s = await serve();
  let r = await s.run(["status", "7", "--state", "failed", "--page", "2", "--limit", "5"]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout.trimEnd().split("\n").slice(4), [
    "HOST  STATE   EXIT  DURATION",
    "n60   failed  1     5ms",
    "    stderr| n60 gave up",
    "n70   failed  1     5ms",
    "    stderr| n70 gave up",
    "n80   failed  1     5ms",
    "    stderr| n80 gave up",
    "n90   failed  1     5ms",
    "    stderr| n90 gave up",
    "n100  failed  1     5ms",
    "    stderr| n100 gave up",
    "",
    "tasks 6–10 of 12 matching --state failed; next page: orch status 7 --state failed --limit 5 --page 3",
  ]);
  r = await s.run(["status", "7", "--host", "N3", "--json"]);
  assertEquals(r.code, 0, r.stderr);
  const shown = JSON.parse(r.stdout);
  assertEquals(Object.keys(shown), ["job", "tasks"]);
  assertEquals([shown.job.id, shown.job.task_count], [7, 120]);
  assertEquals(shown.tasks.total, 1);
  assertEquals(shown.tasks.tasks[0].stdout_tail, "hello from n3\n");
  assertEquals(s.backend.calls.filter((c) => c[0] === "tasks").map((c) => c[2]), [
    { page: 2, limit: 5, output: true, state: "failed" },
    { page: 1, limit: 50, output: true, host: "n3" },
  ]);
});

Deno.test("submit --wait and cancel --wait print the job as status does", async () => {
  await using s = await serve();
  const status = await s.run(["status", "7"]);
  const submitted = await s.run(["submit", "hello", "--all", "-t", "n1", "--wait"]);
  assertEquals(submitted.code, 4, submitted.stderr);
  assertEquals(submitted.stdout, status.stdout);
  const cancelled = await s.run(["cancel", "7", "--wait"]);
  assertEquals(cancelled.code, 4, cancelled.stderr);
  assertEquals(cancelled.stdout, status.stdout);
});

Deno.test("bad paging flags exit 2 naming the flag, before the conductor is asked", async () => {
  await using s = await serve();
  const cases: [string[], string][] = [
    [["--limit", "101"], 'orch: --limit "101" is not a number 1..100\n'],
    [["--page", "0"], 'orch: --page "0" is not a number 1..1000000\n'],
    [["--state", "done"], 'orch: --state "done" is not a task state'],
    [["--host", "a b"], 'orch: --host "a b" is not a host name'],
  ];
  const runs = await Promise.all(cases.map(([flags]) => s.run(["status", "7", ...flags])));
  runs.forEach((r, i) => {
    assertEquals(r.code, 2, r.stderr);
    assertEquals(r.stderr.slice(0, cases[i][1].length), cases[i][1]);
  });
  assertEquals(s.backend.calls, []);
});
