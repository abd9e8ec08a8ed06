import { assertEquals, assertThrows } from "../../_helpers/assert.ts";
import { ecdsaSignatureDer, readTlv, TAG, tlv } from "../../../lib/tls/_der.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

Deno.test("an ECDSA signature becomes two minimal positive DER integers", () => {
  const r = new Uint8Array(32);
  const s = new Uint8Array(32);
  // r: leading zero bytes dropped; s: a high bit needs one zero byte in front.
  r.set([0x00, 0x00, 0x7f, 0x01], 0);
  s.set([0x80, 0x02], 0);
  const der = ecdsaSignatureDer(new Uint8Array([...r, ...s]));
  const rOut = r.subarray(2);
  const sOut = new Uint8Array([0, ...s]);
  assertEquals(
    [...der],
    [
      0x30,
      2 + rOut.length + 2 + sOut.length,
      0x02,
      rOut.length,
      ...rOut,
      0x02,
      sOut.length,
      ...sOut,
    ],
  );
  // An integer that is all zeros keeps one byte.
  const zero = ecdsaSignatureDer(new Uint8Array(64));
  assertEquals([...zero], [0x30, 6, 0x02, 1, 0, 0x02, 1, 0]);
});

Deno.test("DER lengths are written and read in short and long form", () => {
  for (const n of [0, 5, 127, 128, 255, 256, 70_000]) {
    const el = tlv(TAG.seq, new Uint8Array(n));
    const read = readTlv(el, 0, TAG.seq);
    assertEquals([read.at, read.end - read.start, read.end], [0, n, el.length]);
  }
  assertEquals([...tlv(TAG.int, bytes(1, 2))], [0x02, 2, 1, 2]);
  assertEquals([...tlv(TAG.seq, new Uint8Array(200)).subarray(0, 3)], [0x30, 0x81, 200]);
});

Deno.test("DER that is not what was expected is refused", () => {
  assertThrows(() => readTlv(bytes(0x02, 1, 0), 0, TAG.seq), /expected tag 48 at 0/);
  assertThrows(() => readTlv(bytes(0x30, 5, 0), 0, TAG.seq), /runs past the end/);
  assertThrows(() => readTlv(bytes(0x30, 0x85, 0, 0, 0, 0, 1), 0, TAG.seq), /bad length/);
});
