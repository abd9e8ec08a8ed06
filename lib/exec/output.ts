/**
 * Bounded collectors for a score's output: the first and the last bytes of
 * a stream (for people), the first bytes (for a JSON response), and
 * `key=value` lines (for a pipe response). Memory stays bounded whatever a
 * score prints.
 *
 * @module
 */

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Keeps the last `limit` bytes written to it. */
export class TailBuffer {
  readonly #buf: Uint8Array;
  #end = 0;
  #full = false;
  /** Bytes written in all. */
  total = 0;

  constructor(limit: number) {
    this.#buf = new Uint8Array(limit);
  }

  /** Adds a chunk. */
  write(chunk: Uint8Array): void {
    this.total += chunk.length;
    const cap = this.#buf.length;
    if (cap === 0) return;
    if (chunk.length >= cap) {
      this.#buf.set(chunk.subarray(chunk.length - cap));
      this.#end = 0;
      this.#full = true;
      return;
    }
    const first = Math.min(chunk.length, cap - this.#end);
    this.#buf.set(chunk.subarray(0, first), this.#end);
    if (first < chunk.length) {
      this.#buf.set(chunk.subarray(first), 0);
      this.#end = chunk.length - first;
      this.#full = true;
    } else {
      this.#end += first;
      if (this.#end === cap) {
        this.#end = 0;
        this.#full = true;
      }
    }
  }

  /** The kept bytes, oldest first. */
  bytes(): Uint8Array {
    if (!this.#full) return this.#buf.slice(0, this.#end);
    const out = new Uint8Array(this.#buf.length);
    out.set(this.#buf.subarray(this.#end));
    out.set(this.#buf.subarray(0, this.#end), this.#buf.length - this.#end);
    return out;
  }
}

/** The stored text of a stream cut by {@linkcode HeadTailBuffer}. */
export interface HeadTail {
  /** The head, then a {@linkcode droppedMarker} line when bytes were dropped, then the tail. */
  text: string;
  /** Bytes of the stream that are not in `text`. */
  dropped: number;
  /** Bytes of the head kept. */
  headBytes: number;
  /** Bytes of the tail kept. */
  tailBytes: number;
}

/** The line that stands where `dropped` bytes were cut out of a stream (no line break). */
export function droppedMarker(dropped: number): string {
  return `[… ${dropped} bytes dropped …]`;
}

/**
 * Keeps the first `head` and the last `tail` bytes of a stream and counts
 * the bytes between them. Memory stays at `head + tail + 1` bytes
 * whatever is written.
 *
 * Where bytes were dropped, the cut is made at a line break when one lies
 * in the quarter of the head (of the tail) nearest the cut: the head then
 * ends after its last line break, the tail starts after its first. Without
 * one, the cut never splits a UTF-8 character. Bytes given up by a cut
 * count as dropped, so kept head + kept tail + dropped = bytes written.
 */
export class HeadTailBuffer {
  readonly #head: Uint8Array;
  #headLen = 0;
  /** One byte more than the tail, to see whether the tail starts a line. */
  readonly #ring: TailBuffer;
  readonly #tail: number;
  /** Bytes written in all. */
  total = 0;

  constructor(head: number, tail: number) {
    this.#head = new Uint8Array(head);
    this.#tail = tail;
    this.#ring = new TailBuffer(tail + 1);
  }

  /** Adds a chunk. */
  write(chunk: Uint8Array): void {
    this.total += chunk.length;
    const room = this.#head.length - this.#headLen;
    if (room > 0) {
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.#head.set(part, this.#headLen);
      this.#headLen += part.length;
      if (part.length === chunk.length) return;
      chunk = chunk.subarray(part.length);
    }
    this.#ring.write(chunk);
  }

  /** What is kept: the text and the count of bytes dropped. */
  result(): HeadTail {
    const head = this.#head.subarray(0, this.#headLen);
    const ring = this.#ring.bytes();
    if (this.total <= this.#head.length + this.#tail) {
      // Nothing fell out between head and tail: they are the whole stream.
      const all = new Uint8Array(head.length + ring.length);
      all.set(head);
      all.set(ring, head.length);
      return {
        text: decoder.decode(all),
        dropped: 0,
        headBytes: head.length,
        tailBytes: ring.length,
      };
    }
    const headBytes = headCut(head);
    // ring[0] is the byte just before the tail window.
    const tail = ring.subarray(1 + tailCut(ring));
    const kept = head.subarray(0, headBytes);
    const dropped = this.total - headBytes - tail.length;
    const headText = decoder.decode(kept);
    const sep = headText === "" || headText.endsWith("\n") ? "" : "\n";
    return {
      text: `${headText}${sep}${droppedMarker(dropped)}\n${decoder.decode(tail)}`,
      dropped,
      headBytes,
      tailBytes: tail.length,
    };
  }
}

/** How many bytes of a head to keep: up to its last near line break, else whole characters. */
function headCut(head: Uint8Array): number {
  const near = Math.max(1, Math.floor(head.length / 4));
  const nl = head.lastIndexOf(0x0a);
  if (nl >= 0 && head.length - (nl + 1) < near) return nl + 1;
  // A character whose lead byte is among the last three may be cut short.
  for (let i = head.length - 1; i >= 0 && i >= head.length - 3; i--) {
    const b = head[i];
    if (b < 0x80) return head.length;
    if (b >= 0xc0) {
      const len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return i + len <= head.length ? head.length : i;
    }
  }
  return head.length;
}

/**
 * How many bytes of the tail window (`ring` without its first byte, which
 * precedes the window) to give up: up to its first near line break, else
 * the continuation bytes of a character cut at its start.
 */
function tailCut(ring: Uint8Array): number {
  if (ring[0] === 0x0a) return 0;
  const window = ring.subarray(1);
  const near = Math.max(1, Math.floor(window.length / 4));
  const nl = window.indexOf(0x0a);
  if (nl >= 0 && nl < near) return nl + 1;
  let i = 0;
  while (i < 3 && i < window.length && (window[i] & 0xc0) === 0x80) i++;
  return i;
}

/** Keeps the first `limit` bytes written to it and notes whether more came. */
export class HeadBuffer {
  readonly #chunks: Uint8Array[] = [];
  #size = 0;
  /** More than `limit` bytes were written. */
  overflow = false;

  constructor(readonly limit: number) {}

  /** Adds a chunk. */
  write(chunk: Uint8Array): void {
    const room = this.limit - this.#size;
    if (chunk.length > room) this.overflow = true;
    if (room <= 0) return;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.#chunks.push(part.slice());
    this.#size += part.length;
  }

  /** The kept text. */
  text(): string {
    const out = new Uint8Array(this.#size);
    let off = 0;
    for (const c of this.#chunks) {
      out.set(c, off);
      off += c.length;
    }
    return decoder.decode(out);
  }
}

/** Limits for {@linkcode KvCollector}. */
export interface KvLimits {
  maxKeys: number;
  maxBytes: number;
  maxLine: number;
}

/**
 * Collects `key=value` lines (split at the first `=`) from a stream. Lines
 * without `=`, or with an empty key, are not part of the response. A later
 * line for the same key replaces the earlier value.
 */
export class KvCollector {
  /** The key/values so far (no prototype, so any key is just a key). */
  readonly values: Record<string, string> = Object.create(null);
  #keys = 0;
  #bytes = 0;
  #partial: Uint8Array[] = [];
  #partialLen = 0;
  #skipping = false;
  /** Why the response is not whole, if it is not. */
  problem: string | null = null;

  constructor(readonly limits: KvLimits) {}

  /** Adds a chunk. */
  write(chunk: Uint8Array): void {
    let start = 0;
    for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, start)) {
      this.#take(chunk.subarray(start, i));
      this.#line();
      start = i + 1;
    }
    if (start < chunk.length) this.#take(chunk.subarray(start));
  }

  /** Ends the stream: a last line without a newline still counts. */
  end(): void {
    if (this.#partialLen > 0 || this.#skipping) this.#line();
  }

  #take(part: Uint8Array): void {
    if (this.#skipping) return;
    if (this.#partialLen + part.length > this.limits.maxLine) {
      this.#skipping = true;
      this.#partial = [];
      this.#partialLen = 0;
      return;
    }
    this.#partial.push(part.slice());
    this.#partialLen += part.length;
  }

  #line(): void {
    if (this.#skipping) {
      this.#skipping = false;
      this.problem ??=
        `a stdout line longer than ${this.limits.maxLine} bytes was left out of the response`;
      return;
    }
    const bytes = new Uint8Array(this.#partialLen);
    let off = 0;
    for (const p of this.#partial) {
      bytes.set(p, off);
      off += p.length;
    }
    this.#partial = [];
    this.#partialLen = 0;
    let line = decoder.decode(bytes);
    if (line.endsWith("\r")) line = line.slice(0, -1);
    const eq = line.indexOf("=");
    if (eq <= 0) return;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (!Object.hasOwn(this.values, key)) {
      if (this.#keys >= this.limits.maxKeys) {
        this.problem ??=
          `the response has more than ${this.limits.maxKeys} keys; the rest were left out`;
        return;
      }
      this.#keys++;
    }
    // Counted as the response travels: JSON-encoded, where quotes and control characters grow.
    this.#bytes += encoder.encode(JSON.stringify(key)).length +
      encoder.encode(JSON.stringify(value)).length + 2;
    if (this.#bytes > this.limits.maxBytes) {
      this.problem ??=
        `the response is larger than ${this.limits.maxBytes} bytes; the rest was left out`;
      return;
    }
    this.values[key] = value;
  }
}
