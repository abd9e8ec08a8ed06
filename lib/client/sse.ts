/**
 * Reading a server-sent event stream (`text/event-stream`, as the HTML
 * standard defines it): lines ended by CRLF, LF or CR; `field: value`
 * lines; comments (`:`); an event ends at a blank line. Bounded: a line or
 * an event larger than the limits is a protocol error, so a conductor (or
 * anything posing as one) cannot make the client hold unbounded text.
 *
 * @module
 */

import { OrchError } from "../errors.ts";

/** One event as it came: its id (when the stream set one), its type and its data. */
export interface SseEvent {
  /** The last `id:` the stream set (it carries over to later events), or null. */
  id: string | null;
  /** The `event:` field; `message` when the event had none. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
}

/** Limits of an {@linkcode SseParser}, in UTF-16 code units of decoded text. */
export interface SseLimits {
  /** Longest line. */
  maxLine: number;
  /** Largest event (the sum of its data lines). */
  maxEvent: number;
}

/** Default limits: a line or an event of up to 1 MiB. */
export const SSE_LIMITS: SseLimits = { maxLine: 1 << 20, maxEvent: 1 << 20 };

/**
 * An incremental parser: {@linkcode SseParser.push} text as it arrives,
 * in chunks split anywhere, and get the events it completes.
 *
 * @example
 * ```ts
 * const p = new SseParser();
 * p.push("id: 1\nevent: tick\nda"); // []
 * p.push("ta: {}\n\n"); // [{ id: "1", event: "tick", data: "{}" }]
 * ```
 */
export class SseParser {
  readonly #limits: SseLimits;
  #partial = "";
  /** The chunk ended with CR: a LF that starts the next chunk belongs to that line end. */
  #afterCr = false;
  #id: string | null = null;
  #event = "";
  #data: string[] = [];
  #dataSize = 0;
  #hasData = false;

  constructor(limits: Partial<SseLimits> = {}) {
    this.#limits = { ...SSE_LIMITS, ...limits };
  }

  /** The id of the last event completed (the one to resume after), or null. */
  get lastId(): string | null {
    return this.#id;
  }

  /** Feeds decoded text; returns the events it completes, in order. */
  push(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    if (this.#afterCr && text.startsWith("\n")) start = 1;
    this.#afterCr = false;
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.#partial + text.slice(start, i);
      this.#partial = "";
      this.#checkLine(line.length);
      const ev = this.#line(line);
      if (ev) events.push(ev);
      if (c === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else this.#afterCr = true;
      }
      start = i + 1;
    }
    this.#partial += text.slice(start);
    this.#checkLine(this.#partial.length);
    return events;
  }

  #checkLine(length: number): void {
    if (length > this.#limits.maxLine) {
      throw new OrchError(
        "protocol",
        `the conductor's event stream has a line over ${this.#limits.maxLine} characters`,
      );
    }
  }

  #line(line: string): SseEvent | null {
    if (line === "") return this.#dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.#event = value;
        break;
      case "data":
        this.#dataSize += value.length + 1;
        if (this.#dataSize > this.#limits.maxEvent) {
          throw new OrchError(
            "protocol",
            `the conductor's event stream has an event over ${this.#limits.maxEvent} characters`,
          );
        }
        this.#data.push(value);
        this.#hasData = true;
        break;
      case "id":
        // An id with NUL is ignored, as the standard says.
        if (!value.includes("\0")) this.#id = value;
        break;
      default:
        // `retry` and unknown fields: nothing a client of orch needs.
        break;
    }
    return null;
  }

  #dispatch(): SseEvent | null {
    const ev = this.#hasData
      ? { id: this.#id, event: this.#event || "message", data: this.#data.join("\n") }
      : null;
    this.#event = "";
    this.#data = [];
    this.#dataSize = 0;
    this.#hasData = false;
    return ev;
  }
}
