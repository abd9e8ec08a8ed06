import fc from "fast-check";
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { HeadTailBuffer, KvCollector, type KvLimits } from "../../../lib/exec/output.ts";

const enc = new TextEncoder();

/** Feeds `bytes` cut at `cuts` (cycled) to a new collector. */
function collect(bytes: Uint8Array, cuts: number[], limits: KvLimits): KvCollector {
  const kv = new KvCollector(limits);
  let off = 0;
  for (let i = 0; off < bytes.length; i++) {
    const n = cuts[i % cuts.length];
    kv.write(bytes.subarray(off, off + n));
    off += n;
  }
  kv.end();
  return kv;
}

const LIMITS = fc.record({
  maxKeys: fc.integer({ min: 0, max: 8 }),
  maxBytes: fc.integer({ min: 0, max: 400 }),
  maxLine: fc.integer({ min: 0, max: 80 }),
});
/** Output with many '=', newlines, CRs, prototype names and multi-byte characters. */
const OUTPUT = fc.array(
  fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom(
      "=",
      "\n",
      "\r\n",
      "__proto__=x\n",
      "constructor=y\n",
      "k=v\n",
      "é",
      "😀",
      "a=b=c\n",
    ),
  ),
  { maxLength: 30 },
).map((parts) => parts.join(""));
const CUTS = fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 8 });

Deno.test("pipe output in any chunks never crashes, and the response keeps the limits and the key=value rule", () => {
  fc.assert(
    fc.property(OUTPUT, CUTS, LIMITS, (text, cuts, limits) => {
      const kv = collect(enc.encode(text), cuts, limits);
      const entries = Object.entries(kv.values);
      assert(entries.length <= limits.maxKeys);
      let bytes = 0;
      for (const [k, v] of entries) {
        assert(k.length > 0 && !k.includes("=") && !k.includes("\n"), JSON.stringify(k));
        assert(!v.includes("\n"), JSON.stringify(v));
        bytes += enc.encode(JSON.stringify(k)).length + enc.encode(JSON.stringify(v)).length + 2;
        // The line it came from is in the output.
        assert(text.includes(`${k}=${v}`), JSON.stringify([k, v]));
      }
      assert(bytes <= limits.maxBytes);
      assertEquals(Object.getPrototypeOf(kv.values), null);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("how the output is cut into chunks never changes the response", () => {
  fc.assert(
    fc.property(OUTPUT, CUTS, LIMITS, (text, cuts, limits) => {
      const bytes = enc.encode(text);
      const whole = collect(bytes, [bytes.length || 1], limits);
      const cut = collect(bytes, cuts, limits);
      assertEquals({ ...cut.values }, { ...whole.values });
      assertEquals(cut.problem, whole.problem);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("with room to spare, every key=value line is in the response, split at the first '='", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.stringMatching(/^[^=\n\r]{1,8}$/), fc.stringMatching(/^[^\n\r]{0,12}$/)),
        { maxLength: 10 },
      ),
      CUTS,
      (pairs, cuts) => {
        const text = pairs.map(([k, v]) => `${k}=${v}\n`).join("");
        const kv = collect(enc.encode(text), cuts, {
          maxKeys: 100,
          maxBytes: 1 << 20,
          maxLine: 1000,
        });
        const expected: Record<string, string> = {};
        for (const [k, v] of pairs) expected[k] = v;
        assertEquals({ ...kv.values }, { ...expected });
        assertEquals(kv.problem, null);
      },
    ),
    { numRuns: 1000 },
  );
});

/** Text with line breaks, multi-byte characters and stray bytes that are not UTF-8. */
const STREAM = fc.array(
  fc.oneof(
    fc.uint8Array({ maxLength: 20 }),
    fc.constantFrom("\n", "é", "😀", "ab\n", "€\n").map((s) => enc.encode(s)),
  ),
  { maxLength: 60 },
).map((parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
});

Deno.test("head + tail + dropped is exactly what was written, the head is the stream's start and the tail its end", () => {
  fc.assert(
    fc.property(
      STREAM,
      CUTS,
      fc.integer({ min: 0, max: 64 }),
      fc.integer({ min: 0, max: 64 }),
      (bytes, cuts, head, tail) => {
        const h = new HeadTailBuffer(head, tail);
        let off = 0;
        for (let i = 0; off < bytes.length; i++) {
          const n = cuts[i % cuts.length];
          h.write(bytes.subarray(off, off + n));
          off += n;
        }
        const r = h.result();
        assertEquals(r.headBytes + r.tailBytes + r.dropped, bytes.length);
        assert(r.headBytes <= head && r.tailBytes <= tail + (r.dropped === 0 ? head : 0));
        assertEquals(h.total, bytes.length);
        const dec = new TextDecoder();
        const start = dec.decode(bytes.subarray(0, r.headBytes));
        const end = dec.decode(bytes.subarray(bytes.length - r.tailBytes));
        if (r.dropped === 0) {
          assertEquals(r.text, dec.decode(bytes));
          return;
        }
        const marker = `[… ${r.dropped} bytes dropped …]\n`;
        const sep = start === "" || start.endsWith("\n") ? "" : "\n";
        assertEquals(r.text, `${start}${sep}${marker}${end}`);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("a head and tail cut never splits a character of valid UTF-8", () => {
  fc.assert(
    fc.property(
      // U+FFFD is what a split character would become, so the input holds none.
      fc.string({ unit: "grapheme", maxLength: 80 }).filter((s) => !s.includes("\uFFFD")),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 40 }),
      (text, head, tail) => {
        const h = new HeadTailBuffer(head, tail);
        h.write(enc.encode(text));
        assert(!h.result().text.includes("\uFFFD"), JSON.stringify([text, h.result().text]));
      },
    ),
    { numRuns: 2000 },
  );
});
