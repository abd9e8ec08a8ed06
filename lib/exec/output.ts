/**
 * Bounded collectors for a score's output: the last bytes of a stream (for
 * people), the first bytes (for a JSON response), and `key=value` lines
 * (for a pipe response). Memory stays bounded whatever a score prints.
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

  /**
   * The kept text. When bytes were dropped, it starts at the next line
   * break (so no half line or half character leads) after a marker line.
   */
  text(): string {
    let bytes = this.bytes();
    const dropped = this.total - bytes.length;
    if (dropped <= 0) return decoder.decode(bytes);
    const nl = bytes.indexOf(0x0a);
    if (nl >= 0 && nl < bytes.length - 1) bytes = bytes.subarray(nl + 1);
    return `[… ${this.total - bytes.length} earlier bytes not kept]\n${decoder.decode(bytes)}`;
  }
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
