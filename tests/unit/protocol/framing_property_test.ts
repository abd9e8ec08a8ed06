import fc from "fast-check";
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { OrchError } from "../../../lib/errors.ts";
import { encodeFrame, FrameDecoder } from "../../../lib/protocol/framing.ts";

/** Feeds `chunks` to a decoder; returns what came out, or the protocol error it threw. */
function feed(decoder: FrameDecoder, chunks: Uint8Array[]): unknown[] | OrchError {
  const out: unknown[] = [];
  try {
    for (const c of chunks) out.push(...decoder.push(c));
  } catch (err) {
    // Only the documented error: a protocol OrchError, never a RangeError or TypeError.
    assert(err instanceof OrchError, `expected an OrchError, got ${err}`);
    assertEquals(err.code, "protocol");
    return err;
  }
  return out;
}

Deno.test("arbitrary bytes in arbitrary chunks never make the decoder throw anything but a protocol error", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 16 }),
      fc.integer({ min: 0, max: 256 }),
      (chunks, max) => {
        const r = feed(new FrameDecoder(max), chunks);
        if (Array.isArray(r)) {
          // What comes out is parsed JSON, never more than the bytes could hold.
          const total = chunks.reduce((n, c) => n + c.length, 0);
          assert(r.length * 5 <= total);
        }
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("a valid frame split at any point, behind arbitrary valid frames, round-trips", () => {
  fc.assert(
    fc.property(
      fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 4 }),
      fc.jsonValue({ maxDepth: 3 }),
      fc.nat(),
      (before, value, at) => {
        const frames = [...before, value].map((v) => encodeFrame(v));
        const last = frames.pop()!;
        const cut = at % (last.length + 1);
        const decoder = new FrameDecoder();
        const out = feed(decoder, [...frames, last.subarray(0, cut), last.subarray(cut)]);
        assertEquals(out, [...before, value].map((v) => JSON.parse(JSON.stringify(v))));
        assertEquals(decoder.pending, 0);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("a length over the limit is refused as soon as its header is in, whatever follows", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 4096 }),
      fc.integer({ min: 1, max: 0xffff_ffff }),
      fc.uint8Array({ maxLength: 32 }),
      fc.integer({ min: 1, max: 4 }),
      (max, over, tail, firstCut) => {
        const size = Math.min(max + over, 0xffff_ffff);
        const header = new Uint8Array(4);
        new DataView(header.buffer).setUint32(0, size);
        const r = feed(new FrameDecoder(max), [
          header.subarray(0, firstCut),
          header.subarray(firstCut),
          tail,
        ]);
        assert(r instanceof OrchError, `a frame of ${size} bytes over ${max} was not refused`);
        assert(r.message.includes(`${size} bytes`), r.message);
      },
    ),
    { numRuns: 500 },
  );
});
