/**
 * Framing: each message is a 4-byte big-endian length followed by that many
 * bytes of UTF-8 JSON. A frame longer than the agreed maximum is a protocol
 * error, and the connection is closed.
 *
 * @module
 */

import { OrchError } from "../errors.ts";

/** Default largest frame body: 1 MiB. */
export const DEFAULT_MAX_FRAME = 1 << 20;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes a message as one frame; throws when it is larger than `maxFrame`. */
export function encodeFrame(message: unknown, maxFrame = DEFAULT_MAX_FRAME): Uint8Array {
  const body = encoder.encode(JSON.stringify(message));
  if (body.length > maxFrame) {
    throw new OrchError(
      "protocol",
      `frame of ${body.length} bytes exceeds the ${maxFrame}-byte limit`,
    );
  }
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length);
  frame.set(body, 4);
  return frame;
}

/**
 * Splits a byte stream into frames. Feed it chunks as they arrive; it returns
 * every complete frame's parsed JSON value and keeps the remainder.
 *
 * Whole frames are read straight from the chunk; only a frame split across
 * chunks is copied, so an idle connection holds no buffer at all.
 */
export class FrameDecoder {
  #buf: Uint8Array = EMPTY;
  #len = 0;
  readonly #maxFrame: number;

  constructor(maxFrame = DEFAULT_MAX_FRAME) {
    this.#maxFrame = maxFrame;
  }

  /** Adds `chunk` and returns the values of all frames now complete. */
  push(chunk: Uint8Array): unknown[] {
    const out: unknown[] = [];
    let data = chunk;
    while (this.#len > 0 && data.length > 0) {
      // Complete the frame held back first, then go on in the chunk.
      const size = this.#needed();
      const want = size === undefined ? 4 - this.#len : 4 + size - this.#len;
      const take = Math.min(data.length, want);
      this.#append(data.subarray(0, take));
      data = data.subarray(take);
      const whole = this.#needed();
      if (whole !== undefined && this.#len === 4 + whole) {
        out.push(this.#parse(this.#buf.subarray(4, 4 + whole)));
        this.#buf = EMPTY;
        this.#len = 0;
      }
    }
    let off = 0;
    while (data.length - off >= 4) {
      const size = new DataView(data.buffer, data.byteOffset + off, 4).getUint32(0);
      this.#check(size);
      if (data.length - off - 4 < size) break;
      out.push(this.#parse(data.subarray(off + 4, off + 4 + size)));
      off += 4 + size;
    }
    if (off < data.length) this.#append(data.subarray(off));
    return out;
  }

  /** Bytes held that do not yet form a whole frame. */
  get pending(): number {
    return this.#len;
  }

  /** The body size of the frame held back, once its header is in. */
  #needed(): number | undefined {
    if (this.#len < 4) return undefined;
    const size = new DataView(this.#buf.buffer, this.#buf.byteOffset, 4).getUint32(0);
    this.#check(size);
    return size;
  }

  #check(size: number): void {
    if (size > this.#maxFrame) {
      throw new OrchError(
        "protocol",
        `peer sent a frame of ${size} bytes, over the ${this.#maxFrame}-byte limit`,
      );
    }
  }

  #parse(body: Uint8Array): unknown {
    let text: string;
    try {
      text = decoder.decode(body);
    } catch {
      throw new OrchError("protocol", "peer sent a frame that is not valid UTF-8");
    }
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new OrchError(
        "protocol",
        `peer sent a frame that is not JSON: ${(err as Error).message}`,
      );
    }
  }

  #append(chunk: Uint8Array): void {
    const need = this.#len + chunk.length;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.max(need, this.#buf.length * 2, 256));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(chunk, this.#len);
    this.#len = need;
  }
}

const EMPTY = new Uint8Array(0);

/** Joins byte chunks into one array. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
