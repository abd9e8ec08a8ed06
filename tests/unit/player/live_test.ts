import { assert, assertEquals } from "../../_helpers/assert.ts";
import {
  charStart,
  LiveOutput,
  MAX_PENDING,
  pieceEnd,
  secretSafeEnd,
  secretSafeStart,
} from "../../../lib/player/live.ts";
import { LIMITS, type Output } from "../../../lib/protocol/mod.ts";

const enc = new TextEncoder();

/** A LiveOutput whose clock and link the test drives; `sent` collects what went out. */
function harness(
  over: { rate?: number; burst?: number; secrets?: string[]; flushMs?: number } = {},
) {
  const sent: Output[] = [];
  const state = { now: 0, ready: true, connected: true };
  const live = new LiveOutput({
    taskId: 7,
    attempt: 2,
    rate: over.rate ?? 1 << 20,
    burst: over.burst ?? 1 << 20,
    // Long enough that the timer never fires during a test: flushes are driven by writes and close.
    flushMs: over.flushMs ?? 60_000,
    secrets: over.secrets ?? [],
    send: (m) => {
      if (!state.connected) return false;
      sent.push(m);
      return true;
    },
    ready: () => state.ready,
    now: () => state.now,
  });
  return { live, sent, state };
}

/** The pieces of `stream` laid end to end must be contiguous from 0; returns their text. */
function contiguous(sent: Output[], stream: "stdout" | "stderr"): string {
  let next = 0;
  let text = "";
  for (const m of sent.filter((m) => m.stream === stream)) {
    assertEquals(m.offset, next, `piece at ${m.offset}, expected ${next}`);
    next += m.bytes;
    text += m.data;
  }
  return text;
}

Deno.test("a piece ends after the last line break it can hold; a partial line waits unless it is all there is", () => {
  assertEquals(pieceEnd(enc.encode("ab\ncd\nef"), 100, false), 6);
  assertEquals(pieceEnd(enc.encode("abcdef"), 100, false), 0);
  assertEquals(pieceEnd(enc.encode("abcdef"), 100, true), 6);
  assertEquals(pieceEnd(enc.encode("abcdef"), 4, false), 4);
  // Never inside a character: "é" is two bytes at 3..4.
  assertEquals(pieceEnd(enc.encode("abcé"), 4, true), 3);
  assertEquals(charStart(enc.encode("a€"), 2), 1);
  assertEquals(charStart(enc.encode("a€"), 3), 1);
  assertEquals(charStart(enc.encode("ab"), 1), 1);
});

Deno.test("live output goes as whole lines with contiguous offsets, per stream, and the rest on close", () => {
  const { live, sent } = harness();
  const big = Array.from({ length: 3000 }, (_, i) => `line ${i}\n`).join("");
  for (let i = 0; i < big.length; i += 1000) {
    live.write("stdout", enc.encode(big.slice(i, i + 1000)));
  }
  live.write("stderr", enc.encode("err 1\nerr 2 without end"));
  live.close();
  assertEquals(contiguous(sent, "stdout"), big);
  assertEquals(contiguous(sent, "stderr"), "err 1\nerr 2 without end");
  for (const m of sent) {
    assert(m.bytes <= LIMITS.maxOutputChunk);
    assertEquals([m.task_id, m.attempt], [7, 2]);
  }
  // Pieces sent before the close end at line breaks.
  for (const m of sent.slice(0, -2)) {
    assert(m.data.endsWith("\n"), JSON.stringify(m.data.slice(-20)));
  }
  assertEquals(live.dropped, 0);
});

Deno.test("live output is masked", () => {
  const { live, sent } = harness({ secrets: ["hunter22"] });
  live.write("stdout", enc.encode("the password is hunter22\n"));
  live.close();
  assertEquals(sent.map((m) => m.data), ["the password is [secret]\n"]);
  assertEquals(sent[0].bytes, 25);
});

Deno.test("over the rate, output waits for the bucket and what does not fit is dropped oldest first", () => {
  const { live, sent, state } = harness({ rate: 1024, burst: LIMITS.maxOutputChunk });
  const line = "x".repeat(99) + "\n";
  // Far more than the burst, written at one instant: one burst goes, the rest waits within bounds.
  for (let i = 0; i < 2000; i++) live.write("stdout", enc.encode(line));
  const first = sent.reduce((n, m) => n + m.bytes, 0);
  assert(first <= LIMITS.maxOutputChunk, `sent ${first} bytes at once`);
  assert(live.dropped > 0 && live.dropped <= 2000 * 100 - MAX_PENDING);
  // Time passes: the bucket fills and one more burst of the waiting output goes (the newest is
  // kept); the offsets jump where bytes were dropped; the close drops what the rate does not allow.
  state.now += 1_000_000;
  live.close();
  let next = 0;
  let gaps = 0;
  for (const m of sent) {
    if (m.offset !== next) gaps++;
    assert(m.offset >= next);
    next = m.offset + m.bytes;
  }
  assertEquals(gaps, 1);
  const total = sent.reduce((n, m) => n + m.bytes, 0);
  assert(total <= 2 * LIMITS.maxOutputChunk, `${total}`);
  assertEquals(live.dropped, 2000 * 100 - total);
  // Dropping starts at a line: every piece is whole lines.
  for (const m of sent) assert(/^(x{99}\n)+$/.test(m.data));
});

Deno.test("while the link is backed up nothing is sent, and pending output stays bounded", () => {
  const { live, sent, state } = harness();
  state.ready = false;
  for (let i = 0; i < 100; i++) live.write("stdout", enc.encode(`${"y".repeat(1023)}\n`));
  assertEquals(sent.length, 0);
  assertEquals(live.dropped, 100 * 1024 - MAX_PENDING);
  state.ready = true;
  live.close();
  assertEquals(sent.reduce((n, m) => n + m.bytes, 0), MAX_PENDING);
  assertEquals(sent[0].offset, 100 * 1024 - MAX_PENDING);
});

Deno.test("with no conductor to send to, output is counted as dropped, not kept", () => {
  const { live, sent, state } = harness();
  state.connected = false;
  live.write("stdout", enc.encode("a\n".repeat(20000)));
  live.close();
  assertEquals(sent.length, 0);
  assertEquals(live.dropped, 40000);
});

Deno.test("a secret written in parts, with a pause between, is still masked: its start waits for the rest", async () => {
  const { live, sent, state } = harness({ secrets: ["hunter2secret"], flushMs: 1 });
  live.write("stdout", enc.encode("token=hunter2"));
  // Old enough to go without a line break: everything but the start of the secret goes.
  state.now += 120_000;
  await new Promise((r) => setTimeout(r, 30));
  assertEquals(sent.map((m) => m.data), ["token="]);
  live.write("stdout", enc.encode("secret\nnext line\n"));
  live.close();
  const text = sent.map((m) => m.data).join("");
  assertEquals(text, "token=[secret]\nnext line\n");
  assert(sent.every((m) => !m.data.includes("hunter2")), JSON.stringify(sent));
});

Deno.test("pieces are cut around secrets, never through one", () => {
  const s = [enc.encode("aba")];
  const b = enc.encode("xxabayy");
  // Ending after "ab" would split the occurrence: the piece ends before it.
  assertEquals(secretSafeEnd(b, 4, s), 2);
  // Ending just after a whole occurrence: it ends with "a", the start of another: kept back too.
  assertEquals(secretSafeEnd(b, 5, s), 2);
  assertEquals(secretSafeEnd(enc.encode("xxyy"), 4, s), 4);
  // Dropping the oldest bytes: never keep the end of an occurrence whose start went.
  assertEquals(secretSafeStart(b, 3, s), 5);
  assertEquals(secretSafeStart(enc.encode("bayy"), 0, s), 2);
  assertEquals(secretSafeStart(enc.encode("yyyy"), 1, s), 1);
});

Deno.test("a long line cut at the piece size is not cut through a secret", () => {
  const secret = "s3cr3t-value";
  const { live, sent } = harness({ secrets: [secret] });
  // The secret straddles the 16 KiB mark of a line with no break.
  const line = "x".repeat(LIMITS.maxOutputChunk - 5) + secret + "y".repeat(100);
  live.write("stdout", enc.encode(line));
  live.close();
  assert(sent.length >= 2);
  assertEquals(sent.map((m) => m.data).join(""), line.replace(secret, "[secret]"));
});
