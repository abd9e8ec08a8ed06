/**
 * A running score's output, streamed to the conductor as it is written.
 *
 * Output is sent in pieces of whole lines where it can be (a partial line
 * waits up to a flush interval), never faster than a byte rate (a token
 * bucket with a burst), and only while the link to the conductor is not
 * backed up, so that live output never delays a heartbeat or a result. What
 * cannot be sent in time is dropped, oldest first, and the next piece's
 * offset says how much: live output is for watching; the result (with its
 * head and tail) is what counts. Memory stays bounded whatever a score
 * prints.
 *
 * @module
 */

import {
  LIMITS,
  maskText,
  type Output,
  OUTPUT_STREAMS,
  type OutputStream,
} from "../protocol/mod.ts";

/** How a {@linkcode LiveOutput} behaves. */
export interface LiveOutputOptions {
  taskId: number;
  attempt: number;
  /** Bytes a second streamed on average. */
  rate: number;
  /** Bytes that may go at once after a quiet spell (at least one piece). */
  burst: number;
  /** How long written output waits before it is sent even without a line break. */
  flushMs: number;
  /** Secret values, masked in what is sent. */
  secrets: readonly string[];
  /** Sends a piece; false when it could not go (no conductor now, or one that takes no output). */
  send(message: Output): boolean;
  /** True when a piece sent now would not queue behind much on the link. */
  ready(): boolean;
  /** Milliseconds on a monotonic clock (tests may drive it). */
  now?: () => number;
}

/** Output waiting to be sent, per stream, at most; older bytes are dropped past it. */
export const MAX_PENDING = LIMITS.maxOutputChunk * 4;

const NEWLINE = 0x0a;
const decoder = new TextDecoder();

/** One stream's unsent bytes. */
class Pending {
  chunks: Uint8Array[] = [];
  size = 0;
  /** Offset in the stream of the first pending byte. */
  offset = 0;
  /** When the oldest pending byte was written. */
  since = 0;

  /** The pending bytes as one array (kept as one from then on). */
  joined(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0];
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    this.chunks = this.size === 0 ? [] : [out];
    return out;
  }

  /** Forgets the first `n` bytes. */
  drop(n: number): void {
    const rest = this.joined().subarray(n);
    this.chunks = rest.length === 0 ? [] : [rest];
    this.size = rest.length;
    this.offset += n;
  }
}

/**
 * Where a piece of at most `max` bytes of `bytes` should end: after the
 * last line break within it when there is one, else at `max` moved back to
 * the start of a character. `whole`: the bytes are all there will be for
 * now, so a partial line may go too.
 */
export function pieceEnd(bytes: Uint8Array, max: number, whole: boolean): number {
  const limit = Math.min(bytes.length, max);
  const nl = bytes.lastIndexOf(NEWLINE, limit - 1);
  if (nl >= 0) return nl + 1;
  if (!whole && bytes.length < max) return 0;
  return charStart(bytes, limit);
}

/** `i` moved back (at most 3 bytes) to the first byte of the UTF-8 character it falls in. */
export function charStart(bytes: Uint8Array, i: number): number {
  if (i >= bytes.length) return bytes.length;
  let j = i;
  while (j > 0 && i - j < 3 && (bytes[j] & 0xc0) === 0x80) j--;
  // Not a character's continuation after all (invalid UTF-8): cut where asked.
  return (bytes[j] & 0xc0) === 0x80 ? i : j || i;
}

const encoder = new TextEncoder();

/**
 * Where a piece of `bytes` that was to end at `end` may end without cutting
 * a secret: not inside an occurrence of one, and not just after the start
 * of one (the rest of it may follow), so that every secret goes whole in
 * one piece and is masked there. 0 when nothing may go yet.
 */
export function secretSafeEnd(
  bytes: Uint8Array,
  end: number,
  secrets: readonly Uint8Array[],
): number {
  for (let before = -1; before !== end;) {
    before = end;
    for (const s of secrets) {
      // Just after a start of it: keep that start for the next piece.
      for (let k = Math.min(s.length - 1, end); k > 0; k--) {
        if (matchAt(bytes, end - k, s.subarray(0, k))) {
          end -= k;
          break;
        }
      }
      // Inside an occurrence of it: end before that occurrence.
      const spanning = occurrenceSpanning(bytes, end, s);
      if (spanning >= 0) end = spanning;
    }
  }
  return end;
}

/**
 * Where output kept from `bytes` may start after the oldest bytes up to
 * `start` were dropped, without keeping the end of a secret whose start was
 * dropped: past any occurrence the cut falls in, and past a leading end of one.
 */
export function secretSafeStart(
  bytes: Uint8Array,
  start: number,
  secrets: readonly Uint8Array[],
): number {
  for (let before = -1; before !== start;) {
    before = start;
    for (const s of secrets) {
      const spanning = occurrenceSpanning(bytes, start, s);
      if (spanning >= 0) start = spanning + s.length;
      for (let k = Math.min(s.length - 1, bytes.length - start); k > 0; k--) {
        if (matchAt(bytes, start, s.subarray(s.length - k))) {
          start += k;
          break;
        }
      }
    }
  }
  return start;
}

/** Where an occurrence of `s` in `bytes` that `at` falls strictly inside starts, or -1. */
function occurrenceSpanning(bytes: Uint8Array, at: number, s: Uint8Array): number {
  for (let i = Math.max(0, at - s.length + 1); i < at && i + s.length <= bytes.length; i++) {
    if (matchAt(bytes, i, s)) return i;
  }
  return -1;
}

function matchAt(bytes: Uint8Array, at: number, s: Uint8Array): boolean {
  if (at < 0 || at + s.length > bytes.length) return false;
  for (let i = 0; i < s.length; i++) if (bytes[at + i] !== s[i]) return false;
  return true;
}

/** Streams one run's stdout and stderr; see the module doc. */
export class LiveOutput {
  readonly #o: LiveOutputOptions;
  readonly #now: () => number;
  /** The secret values as bytes, for cutting pieces around them. */
  readonly #secrets: Uint8Array[];
  readonly #streams = new Map<OutputStream, Pending>(
    OUTPUT_STREAMS.map((s) => [s, new Pending()]),
  );
  #tokens: number;
  #filled: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Bytes dropped so far (not sent in time), for the log. */
  dropped = 0;

  constructor(opts: LiveOutputOptions) {
    this.#o = opts;
    this.#now = opts.now ?? (() => performance.now());
    this.#secrets = opts.secrets.map((x) => encoder.encode(x));
    this.#tokens = Math.max(opts.burst, LIMITS.maxOutputChunk);
    this.#filled = this.#now();
  }

  /** Takes bytes the score wrote to `stream`. */
  write(stream: OutputStream, chunk: Uint8Array): void {
    if (this.#closed || chunk.length === 0) return;
    const p = this.#streams.get(stream)!;
    if (p.size === 0) p.since = this.#now();
    p.chunks.push(chunk.slice());
    p.size += chunk.length;
    if (p.size > MAX_PENDING) this.#shed(p);
    if (p.size >= LIMITS.maxOutputChunk) this.#flush(false);
    this.#arm();
  }

  /** Sends what can go now (partial lines too) and stops; the rest is dropped. */
  close(): void {
    if (this.#closed) return;
    this.#flush(true);
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const p of this.#streams.values()) {
      this.dropped += p.size;
      p.chunks = [];
      p.size = 0;
    }
  }

  /** Drops the oldest pending bytes of `p` down to {@linkcode MAX_PENDING}, from a line start where one is near. */
  #shed(p: Pending): void {
    const bytes = p.joined();
    let cut = bytes.length - MAX_PENDING;
    const nl = bytes.indexOf(NEWLINE, cut);
    cut = nl >= 0 && nl < bytes.length - 1 ? nl + 1 : charStart(bytes, cut);
    if (cut <= 0) return;
    // Never leave the end of a secret whose start was dropped: it would be sent unmasked.
    cut = secretSafeStart(bytes, cut, this.#secrets);
    this.dropped += cut;
    p.drop(cut);
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#closed) return;
    let any = false;
    for (const p of this.#streams.values()) any ||= p.size > 0;
    if (!any) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush(false);
      this.#arm();
    }, this.#o.flushMs);
  }

  /** Sends the pieces that may go now; `all`: partial lines too, whatever their age. */
  #flush(all: boolean): void {
    const now = this.#now();
    this.#tokens = Math.min(
      Math.max(this.#o.burst, LIMITS.maxOutputChunk),
      this.#tokens + (now - this.#filled) * this.#o.rate / 1000,
    );
    this.#filled = now;
    for (const [stream, p] of this.#streams) {
      while (p.size > 0) {
        if (!this.#o.ready()) return;
        const bytes = p.joined();
        const old = all || now - p.since >= this.#o.flushMs;
        let end = pieceEnd(bytes, LIMITS.maxOutputChunk, old);
        // A piece that ends with the start of a secret keeps it for the next: masked whole there.
        if (end > 0 && end < (all ? bytes.length : Infinity)) {
          end = secretSafeEnd(bytes, end, this.#secrets);
        }
        if (end === 0 || end > this.#tokens) break;
        const sent = this.#o.send({
          type: "output",
          task_id: this.#o.taskId,
          attempt: this.#o.attempt,
          stream,
          offset: p.offset,
          bytes: end,
          data: maskText(decoder.decode(bytes.subarray(0, end)), this.#o.secrets),
        });
        // No conductor to send to: what was written meanwhile is not kept for later.
        if (!sent) this.dropped += end;
        this.#tokens -= end;
        p.drop(end);
        p.since = now;
      }
    }
  }
}
