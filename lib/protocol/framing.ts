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
 */
export class FrameDecoder {
  #buf = new Uint8Array(0);
  #len = 0;
  readonly #maxFrame: number;

  constructor(maxFrame = DEFAULT_MAX_FRAME) {
    this.#maxFrame = maxFrame;
  }

  /** Adds `chunk` and returns the values of all frames now complete. */
  push(chunk: Uint8Array): unknown[] {
    this.#append(chunk);
    const out: unknown[] = [];
    let off = 0;
    while (this.#len - off >= 4) {
      const view = new DataView(this.#buf.buffer, this.#buf.byteOffset + off, 4);
      const size = view.getUint32(0);
      if (size > this.#maxFrame) {
        throw new OrchError(
          "protocol",
          `peer sent a frame of ${size} bytes, over the ${this.#maxFrame}-byte limit`,
        );
      }
      if (this.#len - off - 4 < size) break;
      const body = this.#buf.subarray(off + 4, off + 4 + size);
      off += 4 + size;
      let text: string;
      try {
        text = decoder.decode(body);
      } catch {
        throw new OrchError("protocol", "peer sent a frame that is not valid UTF-8");
      }
      try {
        out.push(JSON.parse(text));
      } catch (err) {
        throw new OrchError(
          "protocol",
          `peer sent a frame that is not JSON: ${(err as Error).message}`,
        );
      }
    }
    if (off > 0) {
      this.#buf.copyWithin(0, off, this.#len);
      this.#len -= off;
    }
    return out;
  }

  /** Bytes held that do not yet form a whole frame. */
  get pending(): number {
    return this.#len;
  }

  #append(chunk: Uint8Array): void {
    const need = this.#len + chunk.length;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.max(need, this.#buf.length * 2, 4096));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(chunk, this.#len);
    this.#len = need;
  }
}

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
