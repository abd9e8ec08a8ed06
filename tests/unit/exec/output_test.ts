import { assertEquals } from "../../_helpers/assert.ts";
import {
  HeadBuffer,
  HeadTailBuffer,
  KvCollector,
  type KvLimits,
  TailBuffer,
} from "../../../lib/exec/output.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string) => enc.encode(s);

// --- TailBuffer -------------------------------------------------------------

Deno.test("a tail buffer that never filled keeps everything", () => {
  const t = new TailBuffer(8);
  t.write(b("abc"));
  t.write(b("de"));
  assertEquals(dec.decode(t.bytes()), "abcde");
  assertEquals(t.total, 5);
});

Deno.test("a tail buffer filled exactly keeps everything without a marker", () => {
  const t = new TailBuffer(8);
  t.write(b("1234"));
  t.write(b("5678"));
  assertEquals(dec.decode(t.bytes()), "12345678");
  t.write(b("9"));
  assertEquals(dec.decode(t.bytes()), "23456789");
});

Deno.test("a tail buffer wraps around and keeps exactly the last bytes, oldest first", () => {
  const t = new TailBuffer(8);
  t.write(b("abcdef"));
  t.write(b("ghij"));
  assertEquals(dec.decode(t.bytes()), "cdefghij");
  t.write(b("kl"));
  assertEquals(dec.decode(t.bytes()), "efghijkl");
  assertEquals(t.total, 12);
});

Deno.test("a chunk larger than the buffer leaves only its own tail", () => {
  const t = new TailBuffer(8);
  t.write(b("xyz"));
  t.write(b("0123456789"));
  assertEquals(dec.decode(t.bytes()), "23456789");
  t.write(b("ab"));
  assertEquals(dec.decode(t.bytes()), "456789ab");
});

Deno.test("whatever the chunking, a tail buffer keeps the same last bytes", () => {
  const all = new Uint8Array(1000).map((_, i) => (i * 7 + 3) & 0xff);
  for (const size of [1, 2, 3, 5, 7, 8, 13, 64, 999, 1000]) {
    const t = new TailBuffer(37);
    for (let i = 0; i < all.length; i += size) t.write(all.subarray(i, i + size));
    assertEquals([...t.bytes()], [...all.subarray(1000 - 37)], `chunks of ${size}`);
    assertEquals(t.total, 1000);
  }
});

Deno.test("a tail buffer of size zero keeps nothing but counts", () => {
  const t = new TailBuffer(0);
  t.write(b("abc"));
  assertEquals(t.bytes().length, 0);
  assertEquals(t.total, 3);
});

// --- HeadTailBuffer ---------------------------------------------------------

Deno.test("a head and tail buffer that never filled both keeps the whole stream, unmarked", () => {
  const h = new HeadTailBuffer(4, 4);
  h.write(b("abc"));
  h.write(b("defgh"));
  assertEquals(h.result(), { text: "abcdefgh", dropped: 0, headBytes: 4, tailBytes: 4 });
});

Deno.test("the first and the last lines are kept, with a marker counting the bytes between", () => {
  const h = new HeadTailBuffer(14, 16);
  // 8 lines of 6 bytes; the head ends inside line 3, the tail starts inside line 6.
  for (let i = 1; i <= 8; i++) h.write(b(`line${i}\n`));
  const r = h.result();
  assertEquals(r.text, "line1\nline2\n[… 24 bytes dropped …]\nline7\nline8\n");
  assertEquals([r.dropped, r.headBytes, r.tailBytes], [24, 12, 12]);
});

Deno.test("a tail that starts exactly at a line start gives nothing up", () => {
  const h = new HeadTailBuffer(6, 12);
  h.write(b("line1\nline2\nline3\nline4\n"));
  assertEquals(h.result().text, "line1\n[… 6 bytes dropped …]\nline3\nline4\n");
});

Deno.test("without a line break near the cut, the head and tail are cut between characters", () => {
  const h = new HeadTailBuffer(5, 5);
  h.write(b("ééééééééé")); // 18 bytes: the head ends, the tail starts, inside an é
  const r = h.result();
  assertEquals(r.text, "éé\n[… 10 bytes dropped …]\néé");
  assertEquals([r.headBytes, r.tailBytes, r.dropped], [4, 4, 10]);
});

Deno.test("a line break far from the cut is not used: the head keeps its long last line", () => {
  const h = new HeadTailBuffer(12, 4);
  h.write(b("a\nbcdefghijklmnopqrstuvwxyz"));
  assertEquals(h.result().text, "a\nbcdefghijk\n[… 11 bytes dropped …]\nwxyz");
});

Deno.test("a head and tail buffer of size zero keeps only the count", () => {
  const h = new HeadTailBuffer(0, 0);
  h.write(b("abc\n"));
  assertEquals(h.result(), {
    text: "[… 4 bytes dropped …]\n",
    dropped: 4,
    headBytes: 0,
    tailBytes: 0,
  });
});

Deno.test("whatever the chunking, a head and tail buffer keeps the same text", () => {
  const all = b(Array.from({ length: 300 }, (_, i) => `${i} é\n`).join(""));
  const whole = new HeadTailBuffer(100, 77);
  whole.write(all);
  for (const size of [1, 2, 3, 7, 64, 101, 2000]) {
    const h = new HeadTailBuffer(100, 77);
    for (let i = 0; i < all.length; i += size) h.write(all.subarray(i, i + size));
    assertEquals(h.result(), whole.result(), `chunks of ${size}`);
  }
});

// --- HeadBuffer -------------------------------------------------------------

Deno.test("a head buffer keeps the first bytes and notes the overflow", () => {
  const h = new HeadBuffer(5);
  h.write(b("abc"));
  assertEquals([h.text(), h.overflow], ["abc", false]);
  h.write(b("defg"));
  assertEquals([h.text(), h.overflow], ["abcde", true]);
  h.write(b("h"));
  assertEquals([h.text(), h.overflow], ["abcde", true]);
});

Deno.test("a head buffer filled exactly has not overflowed", () => {
  const h = new HeadBuffer(5);
  h.write(b("abcde"));
  h.write(new Uint8Array(0));
  assertEquals([h.text(), h.overflow], ["abcde", false]);
  h.write(b("f"));
  assertEquals(h.overflow, true);
});

Deno.test("a head buffer copies what it keeps", () => {
  const h = new HeadBuffer(10);
  const chunk = b("hello");
  h.write(chunk);
  chunk.fill(0x21);
  assertEquals(h.text(), "hello");
});

// --- KvCollector ------------------------------------------------------------

const LIMITS: KvLimits = { maxKeys: 100, maxBytes: 10_000, maxLine: 1000 };

function collect(text: string | string[], limits: KvLimits = LIMITS): KvCollector {
  const kv = new KvCollector(limits);
  for (const part of Array.isArray(text) ? text : [text]) kv.write(b(part));
  kv.end();
  return kv;
}

/** The collected pairs, in order, as plain entries (values has no prototype). */
const pairs = (kv: KvCollector) => Object.entries(kv.values);

Deno.test("key=value lines are split at the first '='", () => {
  const kv = collect("a=1\nb=x=y\nc=\n");
  assertEquals(pairs(kv), [["a", "1"], ["b", "x=y"], ["c", ""]]);
  assertEquals(kv.problem, null);
});

Deno.test("lines without '=' and lines with an empty key are not part of the response", () => {
  const kv = collect("hello world\n=x\n\nk=v\n==\n");
  assertEquals(pairs(kv), [["k", "v"]]);
  assertEquals(kv.problem, null);
});

Deno.test("a later line for the same key replaces the value", () => {
  assertEquals(pairs(collect("a=1\na=2\n")), [["a", "2"]]);
});

Deno.test("a CR before the line feed is not part of the value", () => {
  assertEquals(pairs(collect("a=1\r\nb=2\r\n")), [["a", "1"], ["b", "2"]]);
});

Deno.test("a last line without a newline counts once the stream ends", () => {
  const kv = new KvCollector(LIMITS);
  kv.write(b("a=1\nb=2"));
  assertEquals(pairs(kv), [["a", "1"]]);
  kv.end();
  assertEquals(pairs(kv), [["a", "1"], ["b", "2"]]);
});

Deno.test("a line split over chunks, even inside a character, is read whole", () => {
  const text = "key=välue\nother=thing\nlast=é";
  const bytes = b(text);
  for (let size = 1; size <= 5; size++) {
    const kv = new KvCollector(LIMITS);
    for (let i = 0; i < bytes.length; i += size) kv.write(bytes.subarray(i, i + size));
    kv.end();
    assertEquals(
      pairs(kv),
      [["key", "välue"], ["other", "thing"], ["last", "é"]],
      `chunks of ${size}`,
    );
  }
});

Deno.test("a new key over the key limit is left out with a problem; known keys still change", () => {
  const kv = collect("a=1\nb=2\nc=3\nd=4\na=5\n", { ...LIMITS, maxKeys: 2 });
  assertEquals(pairs(kv), [["a", "5"], ["b", "2"]]);
  assertEquals(kv.problem, "the response has more than 2 keys; the rest were left out");
});

Deno.test("lines past the byte limit are left out with a problem", () => {
  // Counted as JSON travels: "a":"12345" is 3 + 7 + 2 = 12 bytes, "b":"6789" 11 more: 23 > 20.
  const kv = collect("a=12345\nb=6789\nc=1\n", { ...LIMITS, maxBytes: 20 });
  assertEquals(pairs(kv), [["a", "12345"]]);
  assertEquals(kv.problem, "the response is larger than 20 bytes; the rest was left out");
});

Deno.test("the byte limit counts characters as JSON escapes them", () => {
  // 10 quotes are 10 bytes raw but 20 escaped: "q":"\"…" is 3 + 22 + 2 = 27 bytes.
  const kv = collect(`q=${'"'.repeat(10)}\n`, { ...LIMITS, maxBytes: 26 });
  assertEquals(pairs(kv), []);
  assertEquals(kv.problem, "the response is larger than 26 bytes; the rest was left out");
});

Deno.test("a line of exactly the line limit is kept", () => {
  const kv = collect(`k=${"x".repeat(8)}\n`, { ...LIMITS, maxLine: 10 });
  assertEquals(pairs(kv), [["k", "x".repeat(8)]]);
  assertEquals(kv.problem, null);
});

Deno.test("a very long line is skipped with a problem, and the lines after it still count", () => {
  const kv = collect(["a=1\nb=", "x".repeat(30), "y".repeat(30), "\nc=3\n"], {
    ...LIMITS,
    maxLine: 10,
  });
  assertEquals(pairs(kv), [["a", "1"], ["c", "3"]]);
  assertEquals(kv.problem, "a stdout line longer than 10 bytes was left out of the response");
});

Deno.test("a very long last line without a newline is skipped with a problem", () => {
  const kv = collect(["a=1\n", "b=" + "x".repeat(20)], { ...LIMITS, maxLine: 10 });
  assertEquals(pairs(kv), [["a", "1"]]);
  assertEquals(kv.problem, "a stdout line longer than 10 bytes was left out of the response");
});

Deno.test("the first problem is the one kept", () => {
  const kv = collect(`${"z".repeat(20)}\na=1\nb=2\nc=3\n`, {
    maxKeys: 1,
    maxBytes: 1000,
    maxLine: 10,
  });
  assertEquals(pairs(kv), [["a", "1"]]);
  assertEquals(kv.problem, "a stdout line longer than 10 bytes was left out of the response");
});

Deno.test("__proto__ and other Object member names are plain keys", () => {
  const kv = collect("__proto__=x\nconstructor=y\ntoString=z\n");
  assertEquals(pairs(kv), [["__proto__", "x"], ["constructor", "y"], ["toString", "z"]]);
  assertEquals(Object.getPrototypeOf(kv.values), null);
  assertEquals(Object.hasOwn(kv.values, "__proto__"), true);
  assertEquals(({} as Record<string, unknown>).x, undefined);
});
