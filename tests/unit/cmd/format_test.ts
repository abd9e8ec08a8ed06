import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../../_helpers/assert.ts";
import { jobOf, pageOf, T0, task } from "../../_helpers/fake_backend.ts";
import { ROOT } from "../../_helpers/proc.ts";
import {
  formatJob as formatSentJob,
  formatJobs,
  formatPlayers,
  safe,
} from "../../../cmd/_format.ts";
import {
  type JobView,
  jobViewJson,
  type TaskDetail,
  type TaskPage,
  taskPageJson,
  timeText,
} from "../../../lib/protocol/mod.ts";

/** formatJob of a job and a page as the conductor builds them, sent as the API sends them. */
function formatJob(job: JobView, page: TaskPage, opts?: Parameters<typeof formatSentJob>[2]) {
  return formatSentJob(jobViewJson(job), taskPageJson(page), opts);
}

/** Three tasks of job 7: one succeeded with a response, one failed, one timed out after a retry. */
const THREE: TaskDetail[] = [
  task({
    id: 21,
    job_id: 7,
    host: "node1",
    started_at: T0 + 10,
    ended_at: T0 + 15,
    response: { greeting: "hello, operator from node1" },
    stdout_tail: "greeting=hello, operator from node1\n",
  }),
  task({
    id: 22,
    job_id: 7,
    host: "node2",
    state: "failed",
    exit_code: 1,
    started_at: T0 + 10,
    ended_at: T0 + 22,
    reason: "the score exited with status 1",
    stderr_tail: "starting\nabout to fail\n",
  }),
  task({
    id: 23,
    job_id: 7,
    host: "node3",
    state: "timed_out",
    attempt: 2,
    exit_code: null,
    signal: "SIGKILL",
    started_at: T0 + 3000,
    ended_at: T0 + 5000,
    reason: "ran longer than its timeout of 2s",
    attempts: [
      {
        attempt: 1,
        player: "node3",
        state: "timed_out",
        started_at: T0 + 10,
        ended_at: T0 + 2010,
        exit_code: null,
        signal: "SIGKILL",
        error: "ran longer than its timeout of 2s",
      },
      {
        attempt: 2,
        player: "node3",
        state: "timed_out",
        started_at: T0 + 3000,
        ended_at: T0 + 5000,
        exit_code: null,
        signal: "SIGKILL",
        error: "ran longer than its timeout of 2s",
      },
    ],
  }),
];

const threeJob = jobOf(THREE, {
  id: 7,
  aggregate: "partial",
  params: { NAME: "operator" },
  timeout_ms: 2000,
  retries: 1,
  finished_at: T0 + 5035,
});

Deno.test("status of a job of three tasks: the summary, a row per task and its details", () => {
  const page = pageOf(7, THREE, { page: 1, limit: 50, output: true });
  assertEquals(formatJob(threeJob, page), [
    "job 7: hello on all of node1, node2, node3",
    "aggregate: partial (1 succeeded, 1 failed, 1 timed_out)",
    "submitted: 2026-11-22 08:52:34Z by local, finished after 5.04s",
    "params: NAME=operator",
    "timeout 2s, retries 1",
    "",
    "HOST   STATE      EXIT     DURATION",
    "node1  succeeded  0        5ms",
    "    greeting=hello, operator from node1",
    "node2  failed     1        12ms",
    "    reason: the score exited with status 1",
    "    stderr| starting",
    "    stderr| about to fail",
    "node3  timed_out  SIGKILL  2s",
    "    reason: ran longer than its timeout of 2s",
    "    attempt 1: node3 timed_out SIGKILL 2s (ran longer than its timeout of 2s)",
    "    attempt 2: node3 timed_out SIGKILL 2s (ran longer than its timeout of 2s)",
  ]);
});

Deno.test("--lines shows that many lines of each tail, and stdout even beside a response", () => {
  const page = pageOf(7, THREE.slice(0, 2), { page: 1, limit: 50, output: true });
  const lines = formatJob(threeJob, page, { lines: 1 });
  assertEquals(lines.slice(7), [
    "node1  succeeded  0     5ms",
    "    greeting=hello, operator from node1",
    "    stdout| greeting=hello, operator from node1",
    "node2  failed     1     12ms",
    "    reason: the score exited with status 1",
    "    stderr| about to fail",
  ]);
  const all = formatJob(threeJob, page, { lines: Infinity });
  assertEquals(all.filter((l) => l.includes("stderr|")).length, 2);
});

Deno.test("output cut in the middle shows where, with the bytes dropped; --lines all shows head, marker and tail", () => {
  const t = task({
    id: 31,
    job_id: 7,
    host: "node1",
    stdout_tail: "line 1\nline 2\n[… 1234 bytes dropped …]\nline 99\nline 100\n",
    stdout_dropped: 1234,
    stderr_tail: "warn 1\n[… 56 bytes dropped …]\nwarn 9\n",
    stderr_dropped: 56,
  });
  const page = pageOf(7, [t], { page: 1, limit: 50, output: true });
  const two = formatJob(jobOf([t], { id: 7 }), page, { lines: 2 });
  assertEquals(two.slice(two.indexOf("    stdout| [… 1234 bytes dropped …]")), [
    "    stdout| [… 1234 bytes dropped …]",
    "    stdout| line 99",
    "    stdout| line 100",
    "    stderr| [… 56 bytes dropped …]",
    "    stderr| warn 9",
  ]);
  const all = formatJob(jobOf([t], { id: 7 }), page, { lines: Infinity });
  assertEquals(all.filter((l) => l.includes("stdout|")), [
    "    stdout| line 1",
    "    stdout| line 2",
    "    stdout| [… 1234 bytes dropped …]",
    "    stdout| line 99",
    "    stdout| line 100",
  ]);
});

/** A job of 10000 tasks on hosts n1…n10000; every fourth failed. */
const MANY: TaskDetail[] = Array.from({ length: 10000 }, (_, i) =>
  task({
    id: i + 1,
    job_id: 7,
    host: `n${i + 1}`,
    state: i % 4 === 3 ? "failed" : "succeeded",
    exit_code: i % 4 === 3 ? 2 : 0,
  }));
const manyJob = jobOf(MANY, { id: 7, aggregate: "partial", finished_at: T0 + 61_000 });

Deno.test("status of a paged job: the first targets, the counts, and the command for the next page", () => {
  const page = pageOf(7, MANY, { page: 1, limit: 3, output: true });
  assertEquals(formatJob(manyJob, page, { paging: { limit: 3 } }), [
    "job 7: hello on all of 10000 targets: n1, n2, n3, n4, n5, n6, n7, n8, n9, n10 and 9990 more",
    "aggregate: partial (7500 succeeded, 2500 failed)",
    "submitted: 2026-11-22 08:52:34Z by local, finished after 1m01s",
    "",
    "HOST  STATE      EXIT  DURATION",
    "n1    succeeded  0     5ms",
    "n2    succeeded  0     5ms",
    "n3    succeeded  0     5ms",
    "",
    "tasks 1–3 of 10000; next page: orch status 7 --limit 3 --page 2",
  ]);
  // The default page size is not repeated in the command.
  const fifty = pageOf(7, MANY, { page: 1, limit: 50, output: true });
  assertEquals(
    formatJob(manyJob, fifty).at(-1),
    "tasks 1–50 of 10000; next page: orch status 7 --page 2",
  );
});

Deno.test("the page line keeps the filters, ends on the last page, and says when a page is empty", () => {
  const q = { state: "failed" as const, output: true };
  let page = pageOf(7, MANY, { ...q, page: 2, limit: 100 });
  assertEquals(
    formatJob(manyJob, page, { paging: { state: "failed" } }).at(-1),
    "tasks 101–200 of 2500 matching --state failed; next page: orch status 7 --state failed --page 3",
  );
  page = pageOf(7, MANY, { ...q, page: 25, limit: 100 });
  assertEquals(
    formatJob(manyJob, page, { paging: { state: "failed" } }).at(-1),
    "tasks 2401–2500 of 2500 matching --state failed",
  );
  page = pageOf(7, MANY, { ...q, page: 26, limit: 100 });
  assertEquals(formatJob(manyJob, page, { paging: { state: "failed" } }).slice(3), [
    "",
    "no tasks on page 26: 2500 tasks matching --state failed, 100 a page; last page: orch status 7 --state failed --page 25",
  ]);
  page = pageOf(7, MANY, { host: "n4", page: 1, limit: 50, output: true });
  assertEquals(formatJob(manyJob, page, { paging: { host: "n4" } }).slice(-3), [
    "n4    failed  2     5ms",
    "",
    "tasks 1–1 of 1 matching --host n4",
  ]);
  page = pageOf(7, MANY, { state: "expired", page: 1, limit: 50, output: true });
  assertEquals(
    formatJob(manyJob, page, { paging: { state: "expired" } }).at(-1),
    "no tasks matching --state expired",
  );
});

Deno.test("nothing a score, player or user sent reaches the terminal raw", () => {
  const evil = "\x1b[2J\x1b]0;pwned\x07\r\u202egnp.exe\x9b31m\0";
  const t = task({
    id: 1,
    host: "p1",
    state: "failed",
    exit_code: 1,
    reason: `the score said ${evil}`,
    response: { [`k${evil}`]: `v${evil}`, nested: { x: evil } },
    stdout_tail: `line\t1${evil}\n`,
    stderr_tail: `${evil}\n`,
    tried: [{ player: "p2", code: `c${evil}`, message: `m\n${evil}` }],
    attempts: [
      { ...ATTEMPT, attempt: 1, error: evil },
      { ...ATTEMPT, attempt: 2, state: `s${evil}` },
    ],
  });
  const job = jobOf([t], {
    params: { NAME: evil },
    submitted_by: `audience:${evil}`,
    aggregate: "failure",
  });
  const lines = formatJob(job, pageOf(1, [t], { page: 1, limit: 50, output: true }), {
    lines: 9,
  });
  // Tabs are kept; no other control character, C1 code or direction override is left.
  assertEquals(lines.filter((l) => UNSAFE.test(l)), []);
  const text = lines.join("\n");
  assertMatch(
    text,
    /stdout\| line\\x091\\x1b\[2J\\x1b\]0;pwned\\x07\\x0d\\u202egnp\.exe\\x9b31m\\x00/,
  );
  assertMatch(text, /refused by p2: c\\x1b.*: m\\x0a\\x1b/);
  assertMatch(text, /params: NAME=\\x1b\[2J/);
  // A response value that is not a string is shown as JSON, then made safe the same way.
  assert(
    text.includes(
      String.raw`nested={"x":"\u001b[2J\u001b]0;pwned\u0007\r\u202egnp.exe\x9b31m\u0000"}`,
    ),
    text,
  );

  const tables = [
    ...formatJobs([{
      id: 1,
      score: "s",
      scope: "all",
      host_count: 1,
      submitted_at: timeText(T0),
      submitted_by: `audience:${evil}`,
      finished_at: null,
      aggregate: "running",
      counts: {},
      offline: 0,
    }]),
    ...formatPlayers([{
      name: "p1",
      authorised: true,
      connected: true,
      address: "127.0.0.1:1",
      version: `1.0${evil}`,
      slots: 4,
      running: 0,
      draining: false,
      scores: [`s${evil}`],
      last_seen: timeText(T0),
      labels: { role: `w${evil}` },
      facts: { [`k${evil}`]: "v" },
    }]),
  ];
  assertEquals(tables.filter((l) => UNSAFE.test(l)), []);
});

// deno-lint-ignore no-control-regex -- control characters are what this looks for
const UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

const ATTEMPT = {
  attempt: 1,
  player: "p1",
  state: "failed",
  started_at: T0,
  ended_at: T0 + 1,
  exit_code: 1,
  signal: null,
  error: null,
};

Deno.test("safe escapes control characters as \\xHH and direction overrides as \\uHHHH", () => {
  assertEquals(safe("a\tb"), "a\\x09b");
  assertEquals(safe("\x00\x08\x1f"), "\\x00\\x08\\x1f");
  assertEquals(safe("\u061c\u200b\u200f\ufeff"), "\\u061c\\u200b\\u200f\\ufeff");
  assertEquals(safe("\x1b[0m\n\r\x7f\x85"), "\\x1b[0m\\x0a\\x0d\\x7f\\x85");
  assertEquals(safe("\u202e\u2066x\u2069"), "\\u202e\\u2066x\\u2069");
  assertEquals(safe("soft\xadhyphen\u2060joiner\u180e"), "soft\\xadhyphen\\u2060joiner\\u180e");
  assertEquals(safe("héllo, wörld ✓"), "héllo, wörld ✓");
});

Deno.test("the README's orch status example is what orch status prints", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const section = readme.slice(readme.indexOf("### orch status"));
  const block = section.match(/```\n\$ (orch status [^\n]*)\n([\s\S]*?)\n```/);
  assert(block, "the orch status section has an example");
  assertEquals(block[1], "orch status 7 --limit 2");
  const page = pageOf(7, README_TASKS, { page: 1, limit: 2, output: true });
  const printed = formatJob(README_JOB, page, { paging: { limit: 2 } });
  assertEquals(block[2].split("\n"), printed);
});

const README_TASKS: TaskDetail[] = [
  task({
    id: 21,
    job_id: 7,
    host: "node1",
    response: { greeting: "hello, operator from node1" },
    stdout_tail: "greeting=hello, operator from node1\n",
  }),
  task({
    id: 22,
    job_id: 7,
    host: "node2",
    state: "failed",
    exit_code: 1,
    ended_at: T0 + 22,
    reason: "the score exited with status 1",
    stderr_tail: "about to fail\n",
  }),
  task({ id: 23, job_id: 7, host: "node3" }),
];
const README_JOB = jobOf(README_TASKS, {
  id: 7,
  aggregate: "partial",
  params: { NAME: "operator" },
});
