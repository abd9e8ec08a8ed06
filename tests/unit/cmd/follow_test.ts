import { assert, assertEquals } from "../../_helpers/assert.ts";
import {
  colourEnabled,
  FollowPrinter,
  hostColour,
  LineAssembler,
  MAX_PENDING_LINE,
  ProgressReporter,
  progressText,
} from "../../../cmd/_follow.ts";
import type { OutputEvent, ProgressEvent, TaskEvent } from "../../../lib/client/mod.ts";

let offsets: Record<string, number> = {};
function output(host: string, data: string, stream: "stdout" | "stderr" = "stdout"): OutputEvent {
  const key = `${host}/${stream}`;
  const offset = offsets[key] ?? 0;
  const bytes = new TextEncoder().encode(data).length;
  offsets[key] = offset + bytes;
  const task = host === "p1" ? 1 : 2;
  return { type: "output", id: null, job: 7, task, host, attempt: 1, stream, offset, bytes, data };
}
function ended(host: string, state: TaskEvent["state"], why?: string): TaskEvent {
  const task = host === "p1" ? 1 : 2;
  return {
    type: "task",
    id: null,
    job: 7,
    task,
    host,
    attempt: 1,
    state,
    at: "1970-01-01T00:00:00.000Z",
    why,
  };
}

Deno.test("lines are assembled per stream; a partial line waits, and is flushed when its task ends", () => {
  offsets = {};
  const p = new FollowPrinter({ colour: false, hosts: ["p1", "p22"] });
  assertEquals(p.event(output("p1", "tick 1\ntic")), ["p1  | tick 1"]);
  assertEquals(p.event(output("p22", "tock 1\n", "stderr")), ["p22 ! tock 1"]);
  assertEquals(p.event(output("p1", "k 2\nhalf")), ["p1  | tick 2"]);
  assertEquals(p.event(output("p1", "no end", "stderr")), []);
  assertEquals(p.event(ended("p1", "succeeded")), [
    "p1  | half",
    "p1  ! no end",
    "p1: succeeded",
  ]);
  assertEquals(p.event(ended("p22", "failed", "exit 3")), ["p22: failed (exit 3)"]);
});

Deno.test("a replayed piece prints nothing again; missed bytes print a marker line", () => {
  offsets = {};
  const p = new FollowPrinter({ colour: false, hosts: ["p1"] });
  const first = output("p1", "one\n");
  assertEquals(p.event(first), ["p1 | one"]);
  assertEquals(p.event(first), []);
  output("p1", "lost\n"); // never delivered
  assertEquals(p.event(output("p1", "three\n")), ["p1 | [… 5 bytes not shown …]", "p1 | three"]);
  // A snapshot after a reconnect holds pieces printed already: nothing twice.
  assertEquals(
    p.event({
      type: "snapshot",
      id: null,
      live: [{ task: 1, attempt: 1, host: "p1", pieces: [first] }],
      raw: {},
    }),
    [],
  );
});

Deno.test("a score's escape sequences and a hostile host name are printed escaped", () => {
  offsets = {};
  const p = new FollowPrinter({ colour: true, hosts: [] });
  const lines = p.event(output("p1", "\x1b]0;owned\x07\x1b[2Jclear\rme\n"));
  assertEquals(lines.length, 1);
  const prefix = `\x1b[38;5;${hostColour("p1")}mp1 |\x1b[0m `;
  assert(lines[0].startsWith(prefix), lines[0]);
  const text = lines[0].slice(prefix.length);
  assertEquals(text, "\\x1b]0;owned\\x07\\x1b[2Jclear\\x0dme");
  const evil = new FollowPrinter({ colour: false }).event({
    ...output("p1", "x\n"),
    host: "p\x1b[31m1",
  });
  for (const l of evil) assert(!l.includes("\x1b"), l);
});

Deno.test("each host has one colour, the same in every run; no colour off a terminal or with NO_COLOR", () => {
  assertEquals(hostColour("web01"), hostColour("web01"));
  const colours = new Set(["p1", "p2", "p3", "p4", "web01", "web02", "db1"].map(hostColour));
  assert(colours.size >= 4, `too few colours: ${[...colours]}`);
  offsets = {};
  const on = new FollowPrinter({ colour: true, hosts: ["p1"] }).event(output("p1", "a\n"));
  assertEquals(on, [`\x1b[38;5;${hostColour("p1")}mp1 |\x1b[0m a`]);
  offsets = {};
  assertEquals(new FollowPrinter({ colour: false }).event(output("p1", "a\n")), ["p1 | a"]);
  assertEquals(colourEnabled(true, undefined), true);
  assertEquals(colourEnabled(true, ""), true);
  assertEquals(colourEnabled(true, "1"), false);
  assertEquals(colourEnabled(false, undefined), false);
});

Deno.test("a line without end is printed in parts beyond the bound", () => {
  const a = new LineAssembler();
  const lines = a.feed("k", "x".repeat(MAX_PENDING_LINE * 2 + 5));
  assertEquals(lines.map((l) => l.length), [MAX_PENDING_LINE, MAX_PENDING_LINE]);
  assertEquals(a.flush("k"), "xxxxx");
  assertEquals(a.flush("k"), null);
});

const progress = (over: Partial<ProgressEvent>): ProgressEvent => ({
  type: "progress",
  id: null,
  job: 7,
  total: 10,
  done: 3,
  counts: { succeeded: 3, running: 2, queued: 5 },
  offline: 0,
  aggregate: "pending",
  ...over,
});

Deno.test("the progress line says done, running, queued, waiting for offline hosts and elapsed", () => {
  assertEquals(progressText(progress({}), 12_000), "job 7: 3/10 done, 2 running, 5 queued, 12s");
  assertEquals(
    progressText(progress({ offline: 2 }), null),
    "job 7: 3/10 done, 2 running, 5 queued (2 for offline hosts)",
  );
});

Deno.test("off a terminal, progress prints a line per change, at most one a second", () => {
  let now = 1_000_000;
  const written: string[] = [];
  const r = new ProgressReporter({
    tty: false,
    write: (t) => written.push(t),
    now: () => now,
    since: now,
  });
  r.update(progress({}));
  r.update(progress({})); // no change: nothing
  now += 200;
  r.update(progress({ done: 4 })); // a change within the second: held
  assertEquals(written, ["orch: job 7: 3/10 done, 2 running, 5 queued, 0ms\n"]);
  r.clear(); // the change held is printed at the end
  assertEquals(written.length, 2);
  assertEquals(written[1], "orch: job 7: 4/10 done, 2 running, 5 queued, 200ms\n");
});

Deno.test("on a terminal, progress redraws one line and clears it at the end", () => {
  const written: string[] = [];
  const r = new ProgressReporter({
    tty: true,
    write: (t) => written.push(t),
    now: () => 5000,
    since: 2000,
  });
  r.update(progress({}));
  r.update(progress({ done: 4 }));
  r.clear();
  assertEquals(written, [
    "\r\x1b[2Kjob 7: 3/10 done, 2 running, 5 queued, 3s",
    "\r\x1b[2Kjob 7: 4/10 done, 2 running, 5 queued, 3s",
    "\r\x1b[2K",
  ]);
});
