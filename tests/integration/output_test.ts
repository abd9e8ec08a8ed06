import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { ROOT } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");
const enc = new TextEncoder();

/** The lines `prefix 1` … `prefix n`, as the numbered score prints them. */
function numbered(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}\n`);
}

/**
 * Checks stored output against all it came from: a head of whole first
 * lines, the marker, a tail of whole last lines, and a dropped count of
 * exactly the bytes between them. Returns the bytes kept of each end.
 */
function checkHeadTail(text: string, dropped: number, lines: string[]): [number, number] {
  const total = lines.reduce((n, l) => n + enc.encode(l).length, 0);
  const marker = `[… ${dropped} bytes dropped …]\n`;
  const at = text.indexOf(marker);
  assert(at > 0, `no marker for ${dropped} bytes in ${text.slice(0, 200)}…`);
  const head = text.slice(0, at);
  const tail = text.slice(at + marker.length);
  const headLines = head.split(/(?<=\n)/);
  const tailLines = tail.split(/(?<=\n)/);
  assertEquals(headLines, lines.slice(0, headLines.length), "the head is the first lines");
  assertEquals(
    tailLines,
    lines.slice(lines.length - tailLines.length),
    "the tail is the last lines",
  );
  const headBytes = enc.encode(head).length;
  const tailBytes = enc.encode(tail).length;
  assertEquals(dropped, total - headBytes - tailBytes, "dropped is everything not kept");
  return [headBytes, tailBytes];
}

Deno.test("a long output keeps its first and last lines, marked where cut, with the bytes dropped counted", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1");
  await c.startPlayer("p2", { extra: ["--output-head", "1KiB", "--output-tail", "2KiB"] });

  const id = await c.client.submit({
    score: "numbered",
    scope: "all",
    targets: ["p1", "p2"],
    params: { LINES: "200000", ERR_LINES: "5000" },
  });
  const job = await c.wait(id, 60_000);
  assertEquals(job.aggregate, "success");
  const out = numbered("line", 200_000);
  const err = numbered("err", 5000);
  for (const t of job.tasks) {
    const [head, tail] = t.host === "p1" ? [16384, 16384] : [1024, 2048];
    assertMatch(t.stdout_tail, /^line 1\nline 2\n/);
    assertMatch(t.stdout_tail, /\nline 199999\nline 200000\n$/);
    const [h, tl] = checkHeadTail(t.stdout_tail, t.stdout_dropped ?? 0, out);
    // Cut at a line break, each end gives up less than one line.
    assert(h <= head && h > head - 16 && tl <= tail && tl > tail - 16, `${t.host}: ${h}, ${tl}`);
    const [eh, et] = checkHeadTail(t.stderr_tail, t.stderr_dropped ?? 0, err);
    assert(eh <= head && et <= tail, `${t.host}: ${eh}, ${et}`);
    const attempt = t.attempts[t.attempts.length - 1];
    assertEquals([attempt.stdout_dropped, attempt.stderr_dropped], [
      t.stdout_dropped,
      t.stderr_dropped,
    ]);
  }

  // orch status shows the marker before the last lines.
  const r = await c.cli(["status", String(id), "--host", "p2", "--lines", "2"]);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  const p2 = job.tasks.find((t) => t.host === "p2")!;
  assertMatch(
    r.stdout,
    new RegExp(
      `stdout\\| \\[… ${p2.stdout_dropped} bytes dropped …\\]\\n +stdout\\| line 199999\\n +stdout\\| line 200000\\n`,
    ),
  );
});

Deno.test("an output that fits is kept whole, with nothing dropped", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("p1", { extra: ["--output-head", "1KiB", "--output-tail", "1KiB"] });
  // 230 lines of "line N\n": 1,962 bytes, over one end but within both (2,048).
  const id = await c.client.submit({
    score: "numbered",
    scope: "all",
    targets: ["p1"],
    params: { LINES: "230", ERR_LINES: "2" },
  });
  const [t] = (await c.wait(id)).tasks;
  assertEquals(t.stdout_tail, numbered("line", 230).join(""));
  assertEquals(t.stderr_tail, "err 1\nerr 2\n");
  assertEquals([t.stdout_dropped, t.stderr_dropped], [0, 0]);
});

Deno.test("an output size out of bounds stops the player with an error naming the key", async () => {
  await using c = await Cluster.create({ players: ["p1"], scoresDir: TESTDATA });
  const r = await c.cli([...c.playerArgs("p1"), "--output-tail", "129KiB"]);
  assertEquals(r.code, 2, r.stdout + r.stderr);
  assertMatch(r.stderr, /output.tail/);
  assertMatch(r.stderr, /132096 bytes is out of range \(0\.\.131072\)/);
});
