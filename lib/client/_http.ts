/**
 * HTTP/1.1 as the client speaks it, over any byte connection (a Unix
 * socket, a TLS connection): one request, written whole; one answer, read
 * as a status line and headers (at most {@linkcode MAX_HEAD} bytes) and a
 * body framed by `Content-Length`, `Transfer-Encoding: chunked`, or the end
 * of the connection, delivered as it arrives. Nothing here waits without
 * end by itself: the caller bounds a wait by closing the connection.
 *
 * @module
 */

import { OrchError } from "../errors.ts";

/** What the client needs of a connection. */
export interface ByteConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/** Largest status line and headers read. */
export const MAX_HEAD = 64 << 10;
/** Longest chunk-size line of a chunked body. */
const MAX_CHUNK_LINE = 4096;
/** Largest trailer section of a chunked body. */
const MAX_TRAILERS = 16 << 10;
/** Bytes asked of the connection per read. */
const READ_SIZE = 64 << 10;

/** One request. */
export interface HttpRequest {
  method: string;
  /** The request target: path and query (`/v1/jobs/3?wait=1`). */
  target: string;
  /** The `Host` header's value. */
  host: string;
  /** Header names in lower case; `host`, `connection` and `content-length` are set here. */
  headers: Record<string, string>;
  body?: Uint8Array;
  /** Ask the server to keep the connection open for another request (default: close it). */
  keepAlive?: boolean;
}

/** An answer whose head has been read; its body is read from the connection as it is iterated. */
export interface HttpAnswer {
  status: number;
  /** Header values by lower-case name; repeated headers joined with `, `. */
  headers: Map<string, string>;
  /** The body as it arrives: chunks of at most 64 KiB, each a fresh array. */
  body: AsyncIterable<Uint8Array>;
  /**
   * True once the body has been read to its end as framed (by length or
   * chunks), when the server did not say it closes the connection and sent
   * nothing more: the connection may carry another request.
   */
  reusable(): boolean;
}

/**
 * The connection ended before a whole answer came. `received` is how many
 * bytes of the answer arrived before (0: none at all).
 */
export class ConnectionClosed extends Error {
  constructor(readonly received: number, options?: { cause?: unknown }) {
    super(
      received === 0
        ? "the connection was closed before any answer"
        : "the connection was closed in the middle of the answer",
      options,
    );
    this.name = "ConnectionClosed";
  }
}

const encoder = new TextEncoder();

/** Writes `req` whole, asking the server to close the connection after its answer unless `keepAlive`. */
export async function writeRequest(conn: ByteConn, req: HttpRequest): Promise<void> {
  let head = `${req.method} ${req.target} HTTP/1.1\r\nhost: ${req.host}\r\nconnection: ${
    req.keepAlive ? "keep-alive" : "close"
  }\r\n`;
  for (const [name, value] of Object.entries(req.headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
      throw new OrchError("internal", `header ${JSON.stringify(name)} holds a line break`);
    }
    head += `${name}: ${value}\r\n`;
  }
  if (req.body !== undefined) head += `content-length: ${req.body.length}\r\n`;
  head += "\r\n";
  const headBytes = encoder.encode(head);
  const bytes = req.body === undefined ? headBytes : join(headBytes, req.body);
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/**
 * Reads an answer's head from `conn`; its body follows as the answer's
 * `body` is iterated. `method` is the request's (a HEAD answer has no body).
 */
export async function readAnswer(conn: ByteConn, method: string): Promise<HttpAnswer> {
  const reader = new Reader(conn);
  const head = await reader.readHead();
  const lines = new TextDecoder("latin1").decode(head).split("\r\n");
  const status = /^HTTP\/1\.[01] ([1-9]\d\d)(?: [^\r\n]*)?$/.exec(lines[0]);
  if (!status) {
    throw new OrchError(
      "protocol",
      `the conductor's answer does not start with an HTTP/1.1 status line: ${
        JSON.stringify(lines[0].slice(0, 80))
      }`,
    );
  }
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (!m) {
      throw new OrchError(
        "protocol",
        `the conductor's answer has a malformed header line: ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    const name = m[1].toLowerCase();
    const before = headers.get(name);
    headers.set(name, before === undefined ? m[2] : `${before}, ${m[2]}`);
  }
  const code = Number(status[1]);
  const framed = bodyOf(reader, method, code, headers);
  let complete = false;
  const body = async function* (): AsyncGenerator<Uint8Array> {
    yield* framed.body;
    complete = true;
  };
  const closes = /(^|,)\s*close\s*(,|$)/i.test(headers.get("connection") ?? "") ||
    lines[0].startsWith("HTTP/1.0");
  return {
    status: code,
    headers,
    body: body(),
    reusable: () => complete && framed.reusable && !closes && reader.buffered === 0,
  };
}

/** The body's framing, as RFC 9112 §6.3 decides it. */
function bodyOf(
  reader: Reader,
  method: string,
  status: number,
  headers: Map<string, string>,
): { body: AsyncIterable<Uint8Array>; reusable: boolean } {
  if (method === "HEAD" || status < 200 || status === 204 || status === 304) {
    return { body: none(), reusable: true };
  }
  const coding = headers.get("transfer-encoding");
  if (coding !== undefined) {
    const last = coding.split(",").at(-1)!.trim().toLowerCase();
    return last === "chunked"
      ? { body: reader.chunked(), reusable: true }
      : { body: reader.untilClose(), reusable: false };
  }
  const length = headers.get("content-length");
  if (length !== undefined) {
    const values = new Set(length.split(",").map((v) => v.trim()));
    const [only] = values;
    if (values.size !== 1 || !/^\d{1,15}$/.test(only)) {
      throw new OrchError(
        "protocol",
        `the conductor's answer has a bad Content-Length: ${JSON.stringify(length.slice(0, 40))}`,
      );
    }
    return { body: reader.exactly(Number(only)), reusable: true };
  }
  return { body: reader.untilClose(), reusable: false };
}

// deno-lint-ignore require-yield
async function* none(): AsyncGenerator<Uint8Array> {
  return;
}

/**
 * Reads a whole body, refusing one larger than `max` bytes (`what` names
 * the answer in that error).
 */
export async function readBody(
  body: AsyncIterable<Uint8Array>,
  max: number,
  what = "the conductor's answer",
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) throw new OrchError("protocol", `${what} exceeds ${max} bytes`);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0] : concat(chunks, size);
}

/** Buffered reading of one connection. */
class Reader {
  #buf: Uint8Array = new Uint8Array(0);
  /** Where each read lands before it joins the buffer. */
  #scratch = new Uint8Array(READ_SIZE);
  /** Bytes of the answer read from the connection so far. */
  #received = 0;

  constructor(readonly conn: ByteConn) {}

  /** Bytes read from the connection and not yet taken. */
  get buffered(): number {
    return this.#buf.length;
  }

  /** Reads from the connection into the buffer; false at its end. */
  async #fill(): Promise<boolean> {
    let n: number | null;
    try {
      n = await this.conn.read(this.#scratch);
    } catch (err) {
      // A peer that resets, or ends TLS without close_notify, has closed the connection.
      if (
        err instanceof Deno.errors.UnexpectedEof || err instanceof Deno.errors.ConnectionReset
      ) {
        n = null;
      } else throw err;
    }
    if (n === null) return false;
    this.#received += n;
    const got = this.#scratch.subarray(0, n);
    this.#buf = this.#buf.length === 0 ? got.slice() : join(this.#buf, got);
    return true;
  }

  /** Takes `n` bytes off the front of the buffer. */
  #take(n: number): Uint8Array {
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** The status line and headers, without the blank line that ends them. */
  async readHead(): Promise<Uint8Array> {
    let from = 0;
    for (;;) {
      const end = indexOf(this.#buf, CRLFCRLF, from);
      if (end >= 0) {
        if (end > MAX_HEAD) break;
        const head = this.#take(end);
        this.#take(4);
        return head;
      }
      if (this.#buf.length > MAX_HEAD) break;
      from = Math.max(0, this.#buf.length - 3);
      if (!(await this.#fill())) throw new ConnectionClosed(this.#received);
    }
    throw new OrchError("protocol", `the conductor's answer head exceeds ${MAX_HEAD} bytes`);
  }

  /** One CRLF-ended line of at most `max` bytes, without its end. */
  async #line(max: number, what: string): Promise<string> {
    let from = 0;
    for (;;) {
      const end = indexOf(this.#buf, CRLF, from);
      if (end >= 0 && end <= max) {
        const line = this.#take(end);
        this.#take(2);
        return new TextDecoder("latin1").decode(line);
      }
      if (end > max || this.#buf.length > max + 1) {
        throw new OrchError("protocol", `the conductor's answer has a ${what} over ${max} bytes`);
      }
      from = Math.max(0, this.#buf.length - 1);
      if (!(await this.#fill())) throw new ConnectionClosed(this.#received);
    }
  }

  /** Up to `max` bytes: those buffered, else those of the next read; null at the end. */
  async #some(max: number): Promise<Uint8Array | null> {
    if (this.#buf.length === 0 && !(await this.#fill())) return null;
    return this.#take(Math.min(max, this.#buf.length));
  }

  /** A body of exactly `length` bytes. */
  async *exactly(length: number): AsyncGenerator<Uint8Array> {
    for (let left = length; left > 0;) {
      const chunk = await this.#some(Math.min(left, READ_SIZE));
      if (chunk === null) throw new ConnectionClosed(this.#received);
      left -= chunk.length;
      yield chunk;
    }
  }

  /** A body that ends with the connection. */
  async *untilClose(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const chunk = await this.#some(READ_SIZE);
      if (chunk === null) return;
      yield chunk;
    }
  }

  /** A chunked body (RFC 9112 §7.1), each chunk's data yielded as it arrives. */
  async *chunked(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const line = await this.#line(MAX_CHUNK_LINE, "chunk-size line");
      const m = /^([0-9A-Fa-f]{1,12})[ \t]*(?:;.*)?$/.exec(line);
      if (!m) {
        throw new OrchError(
          "protocol",
          `the conductor's answer has a bad chunk size: ${JSON.stringify(line.slice(0, 40))}`,
        );
      }
      const size = parseInt(m[1], 16);
      if (size === 0) break;
      yield* this.exactly(size);
      while (this.#buf.length < 2) {
        if (!(await this.#fill())) throw new ConnectionClosed(this.#received);
      }
      if (this.#buf[0] !== 13 || this.#buf[1] !== 10) {
        throw new OrchError("protocol", "the conductor's answer has a chunk longer than its size");
      }
      this.#take(2);
    }
    // Trailers, up to the blank line that ends the body: read and dropped.
    let trailers = 0;
    for (;;) {
      const line = await this.#line(MAX_TRAILERS, "trailer line");
      trailers += line.length + 2;
      if (trailers > MAX_TRAILERS) {
        throw new OrchError(
          "protocol",
          `the conductor's answer has over ${MAX_TRAILERS} bytes of trailers`,
        );
      }
      if (line === "") return;
    }
  }
}

const CRLF = new Uint8Array([13, 10]);
const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);

/** Where `needle` starts in `hay` at or after `from`, or -1. */
function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  for (let i = hay.indexOf(first, from); i >= 0; i = hay.indexOf(first, i + 1)) {
    if (i + needle.length > hay.length) return -1;
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  return concat([a, b], a.length + b.length);
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
