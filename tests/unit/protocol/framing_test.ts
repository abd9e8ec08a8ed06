import { assert, assertEquals, assertMatch, assertThrows } from "../../_helpers/assert.ts";
import fc from "fast-check";
import { OrchError } from "../../../lib/errors.ts";
import {
  concatBytes,
  DEFAULT_MAX_FRAME,
  encodeFrame,
  FrameDecoder,
} from "../../../lib/protocol/framing.ts";

const enc = new TextEncoder();

/** A frame made by hand: 4-byte big-endian length, then `body`. */
function rawFrame(body: Uint8Array, size = body.length): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, size);
  out.set(body, 4);
  return out;
}

function protocolError(fn: () => unknown, message: string | RegExp): OrchError {
  const err = assertThrows(fn);
  assert(err instanceof OrchError, `expected an OrchError, got ${err}`);
  assertEquals(err.code, "protocol");
  if (typeof message === "string") assertEquals(err.message, message);
  else assertMatch(err.message, message);
  return err;
}

Deno.test("a frame is a 4-byte big-endian length followed by the UTF-8 JSON body", () => {
  const frame = encodeFrame({ type: "ping", t: 1, s: "é" });
  const body = enc.encode(JSON.stringify({ type: "ping", t: 1, s: "é" }));
  assertEquals(frame.length, 4 + body.length);
  assertEquals([...frame.subarray(0, 4)], [0, 0, 0, body.length]);
  assertEquals([...frame.subarray(4)], [...body]);
});

Deno.test("a large body has its length written in all four bytes, most significant first", () => {
  const text = "x".repeat(70_000);
  const frame = encodeFrame(text);
  const len = 70_002; // the quotes
  assertEquals([...frame.subarray(0, 4)], [0, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff]);
});

Deno.test("encoding then decoding gives back the same values", () => {
  const values = [
    { type: "hello", name: "p1", list: [1, 2, 3], nested: { a: null, b: true } },
    "just a string with ünïcödé and 😀",
    42,
    null,
    [],
  ];
  const dec = new FrameDecoder();
  const out = dec.push(concatBytes(values.map((v) => encodeFrame(v))));
  assertEquals(out, values);
  assertEquals(dec.pending, 0);
});

Deno.test("a stream split at every byte boundary decodes to the same frames", () => {
  const values = [{ type: "ping", t: 1 }, { type: "pong", t: 2, s: "ünï😀" }, { a: "b" }];
  const stream = concatBytes(values.map((v) => encodeFrame(v)));
  for (let i = 0; i <= stream.length; i++) {
    const dec = new FrameDecoder();
    const out = [...dec.push(stream.subarray(0, i)), ...dec.push(stream.subarray(i))];
    assertEquals(out, values, `split at byte ${i}`);
    assertEquals(dec.pending, 0);
  }
});

Deno.test("a stream fed one byte at a time decodes to the same frames", () => {
  const values = [{ type: "ping", t: 1 }, { type: "pong", t: 2 }];
  const stream = concatBytes(values.map((v) => encodeFrame(v)));
  const dec = new FrameDecoder();
  const out: unknown[] = [];
  for (let i = 0; i < stream.length; i++) out.push(...dec.push(stream.subarray(i, i + 1)));
  assertEquals(out, values);
});

Deno.test("a frame larger than the decoder's first buffer survives arriving in pieces", () => {
  const big = { data: "y".repeat(20_000) };
  const frame = encodeFrame(big);
  const dec = new FrameDecoder();
  assertEquals(dec.push(frame.subarray(0, 3000)), []);
  assertEquals(dec.pending, 3000);
  assertEquals(dec.push(frame.subarray(3000, 15_000)), []);
  assertEquals(dec.push(concatBytes([frame.subarray(15_000), encodeFrame(1)])), [big, 1]);
  assertEquals(dec.pending, 0);
});

Deno.test("several frames in one chunk all come out, and a trailing partial frame is kept", () => {
  const a = encodeFrame({ n: 1 });
  const b = encodeFrame({ n: 2 });
  const c = encodeFrame({ n: 3 });
  const dec = new FrameDecoder();
  assertEquals(dec.push(concatBytes([a, b, c.subarray(0, 6)])), [{ n: 1 }, { n: 2 }]);
  assertEquals(dec.pending, 6);
  assertEquals(dec.push(c.subarray(6)), [{ n: 3 }]);
  assertEquals(dec.pending, 0);
});

Deno.test("an empty chunk decodes to nothing", () => {
  const dec = new FrameDecoder();
  assertEquals(dec.push(new Uint8Array(0)), []);
  assertEquals(dec.pending, 0);
});

Deno.test("a frame of exactly the maximum size is accepted", () => {
  const body = enc.encode(JSON.stringify("abcdefgh")); // 10 bytes
  assertEquals(body.length, 10);
  assertEquals(new FrameDecoder(10).push(rawFrame(body)), ["abcdefgh"]);
  assertEquals(encodeFrame("abcdefgh", 10).length, 14);
});

Deno.test("a frame over the limit is a protocol error, as soon as its header arrives", () => {
  const dec = new FrameDecoder(10);
  const header = rawFrame(new Uint8Array(0), 11);
  protocolError(() => dec.push(header), "peer sent a frame of 11 bytes, over the 10-byte limit");
});

Deno.test("the default frame limit is 1 MiB", () => {
  assertEquals(DEFAULT_MAX_FRAME, 1048576);
  protocolError(
    () => new FrameDecoder().push(rawFrame(new Uint8Array(0), 1048577)),
    "peer sent a frame of 1048577 bytes, over the 1048576-byte limit",
  );
});

Deno.test("encoding a message over the limit is a protocol error", () => {
  protocolError(
    () => encodeFrame("abcdefghi", 10), // 11 bytes with quotes
    "frame of 11 bytes exceeds the 10-byte limit",
  );
});

Deno.test("a frame that is not valid UTF-8 is a protocol error", () => {
  const dec = new FrameDecoder();
  protocolError(
    () => dec.push(rawFrame(new Uint8Array([0x22, 0xff, 0xfe, 0x22]))),
    "peer sent a frame that is not valid UTF-8",
  );
});

Deno.test("a truncated multi-byte character is not valid UTF-8", () => {
  const e = enc.encode('"é"');
  const body = new Uint8Array([e[0], e[1], e[3]]); // quote, first byte of é, quote
  protocolError(
    () => new FrameDecoder().push(rawFrame(body)),
    "peer sent a frame that is not valid UTF-8",
  );
});

Deno.test("a frame that is not JSON is a protocol error", () => {
  protocolError(
    () => new FrameDecoder().push(rawFrame(enc.encode("{not json"))),
    /^peer sent a frame that is not JSON: ./,
  );
});

Deno.test("an empty frame is not JSON", () => {
  protocolError(
    () => new FrameDecoder().push(rawFrame(new Uint8Array(0))),
    /^peer sent a frame that is not JSON: /,
  );
});

Deno.test("concatBytes joins chunks in order", () => {
  const out = concatBytes([
    new Uint8Array([1, 2]),
    new Uint8Array(0),
    new Uint8Array([3]),
    new Uint8Array([4, 5, 6]),
  ]);
  assertEquals([...out], [1, 2, 3, 4, 5, 6]);
});

Deno.test("concatBytes of nothing is empty", () => {
  assertEquals(concatBytes([]).length, 0);
});

Deno.test("concatBytes copies: changing an input later does not change the output", () => {
  const a = new Uint8Array([1, 2, 3]);
  const b = new Uint8Array([7, 8, 9]).subarray(1);
  const out = concatBytes([a, b]);
  a[0] = 99;
  assertEquals([...out], [1, 2, 3, 8, 9]);
});

Deno.test("any messages, cut into chunks anywhere, decode to the same messages in order", () => {
  fc.assert(
    fc.property(
      fc.array(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })), {
        maxLength: 8,
      }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 16 }),
      (messages, cuts) => {
        const bytes = concatBytes(messages.map((m) => encodeFrame(m)));
        const decoder = new FrameDecoder();
        const out: unknown[] = [];
        let off = 0;
        for (let i = 0; off < bytes.length; i++) {
          const n = cuts[i % cuts.length];
          out.push(...decoder.push(bytes.subarray(off, off + n)));
          off += n;
        }
        assertEquals(out, messages.map((m) => JSON.parse(JSON.stringify(m))));
        assertEquals(decoder.pending, 0);
      },
    ),
    { numRuns: 300 },
  );
});
