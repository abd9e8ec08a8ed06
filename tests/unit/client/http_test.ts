import { assert, assertEquals, assertMatch, assertRejects } from "../../_helpers/assert.ts";
import {
  type ByteConn,
  ConnectionClosed,
  MAX_HEAD,
  readAnswer,
  readBody,
  writeRequest,
} from "../../../lib/client/_http.ts";
import { OrchError } from "../../../lib/errors.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A connection whose reads return the pieces pushed into it, in order, one
 * piece (or as much of it as fits) per read; null once ended and drained.
 */
class Pipe implements ByteConn {
  readonly written: Uint8Array[] = [];
  #pieces: Uint8Array[] = [];
  #ended = false;
  #wake: (() => void) | null = null;

  push(piece: string | Uint8Array): void {
    this.#pieces.push(typeof piece === "string" ? enc.encode(piece) : piece);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#pieces.length === 0) {
      if (this.#ended) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = null;
    }
    const piece = this.#pieces[0];
    const n = Math.min(p.length, piece.length);
    p.set(piece.subarray(0, n));
    if (n === piece.length) this.#pieces.shift();
    else this.#pieces[0] = piece.subarray(n);
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    // Takes at most 7 bytes a call, so that the writer must loop.
    const n = Math.min(7, p.length);
    this.written.push(p.slice(0, n));
    return Promise.resolve(n);
  }

  close(): void {}
}

/** A pipe holding `text` split at `cuts`, ended. */
function pipeOf(text: string, cuts: number[] = []): Pipe {
  const pipe = new Pipe();
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    pipe.push(text.slice(from, cut));
    from = cut;
  }
  pipe.end();
  return pipe;
}

/** Reads a whole answer from `text` split at `cuts`: its status, headers and body text. */
async function answerOf(text: string, cuts: number[] = [], method = "GET") {
  const a = await readAnswer(pipeOf(text, cuts), method);
  return {
    status: a.status,
    headers: Object.fromEntries(a.headers),
    body: dec.decode(await readBody(a.body, 1 << 20)),
  };
}

const CL =
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}';
const CHUNKED = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n" +
  '4;ext=1\r\n{"er\r\n' + 'a\r\nror":"none\r\n' + '2\r\n"}\r\n' + "0\r\nTrailer: x\r\n\r\n";

Deno.test("an answer framed by Content-Length or chunked reads the same however the bytes are split", async () => {
  for (
    const [text, want] of [
      [CL, {
        status: 200,
        headers: { "content-type": "application/json", "content-length": "11" },
        body: '{"ok":true}',
      }],
      [CHUNKED, {
        status: 404,
        headers: { "transfer-encoding": "chunked", "x-a": "1, 2" },
        body: '{"error":"none"}',
      }],
    ] as const
  ) {
    assertEquals(await answerOf(text), want);
    for (let i = 1; i < text.length; i++) {
      assertEquals(await answerOf(text, [i]), want, `split at ${i}`);
      assertEquals(
        await answerOf(text, [i, Math.min(text.length, i + 3)]),
        want,
        `split at ${i}, ${i + 3}`,
      );
    }
  }
});

Deno.test("an answer with neither length nor chunks ends with the connection; HEAD, 204 and 304 have no body", async () => {
  assertEquals((await answerOf("HTTP/1.0 200 OK\r\n\r\nall of it", [20, 22])).body, "all of it");
  assertEquals((await answerOf("HTTP/1.1 204 No Content\r\n\r\n")).body, "");
  assertEquals(
    (await answerOf("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", [], "HEAD")).body,
    "",
  );
  // An identity coding before chunked is still chunked; a last coding that is not chunked runs to the end.
  assertEquals(
    (await answerOf("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nraw")).body,
    "raw",
  );
});

Deno.test("a chunked stream's data is delivered as it arrives, before the stream ends", async () => {
  const pipe = new Pipe();
  pipe.push(
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
  );
  const answer = await readAnswer(pipe, "GET");
  assertEquals(answer.headers.get("content-type"), "text/event-stream");
  const it = answer.body[Symbol.asyncIterator]();
  pipe.push("d\r\ndata: first\n\n\r\n");
  assertEquals(dec.decode((await it.next()).value), "data: first\n\n");
  pipe.push("e\r\ndata: se");
  assertEquals(dec.decode((await it.next()).value), "data: se");
  pipe.push("cond\n\n\r\n0\r\n\r\n");
  assertEquals(dec.decode((await it.next()).value), "cond\n\n");
  assertEquals((await it.next()).done, true);
});

Deno.test("a connection that ends early says whether any of the answer came", async () => {
  let err = await assertRejects(() => readAnswer(pipeOf(""), "GET"));
  assert(err instanceof ConnectionClosed);
  assertEquals(err.received, 0);
  err = await assertRejects(() => readAnswer(pipeOf("HTTP/1.1 200 OK\r\ncontent-"), "GET"));
  assert(err instanceof ConnectionClosed);
  assertEquals(err.received, 25);
  for (const text of [CL.slice(0, -3), CHUNKED.slice(0, -10), CHUNKED.slice(0, -2)]) {
    const answer = await readAnswer(pipeOf(text), "GET");
    err = await assertRejects(() => readBody(answer.body, 1 << 20));
    assert(err instanceof ConnectionClosed, String(err));
    assert(err.received > 0);
  }
});

Deno.test("a head over 64 KiB, a body over the bound and malformed framing are protocol errors", async () => {
  const cases: [string, RegExp][] = [
    [`HTTP/1.1 200 OK\r\nx: ${"a".repeat(MAX_HEAD)}\r\n\r\n`, /answer head exceeds 65536 bytes/],
    [`HTTP/1.1 200 OK\r\nx: ${"a".repeat(MAX_HEAD + 10)}`, /answer head exceeds 65536 bytes/],
    [
      "SSH-2.0-OpenSSH\r\n\r\n",
      /does not start with an HTTP\/1\.1 status line: "SSH-2\.0-OpenSSH"/,
    ],
    ["HTTP/1.1 200 OK\r\nno colon\r\n\r\n", /malformed header line: "no colon"/],
    ["HTTP/1.1 200 OK\r\ncontent-length: 1, 2\r\n\r\n", /bad Content-Length/],
    ["HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n", /bad Content-Length/],
  ];
  for (const [text, pattern] of cases) {
    const err = await assertRejects(() => readAnswer(pipeOf(text, [100, 70_000]), "GET"));
    assert(err instanceof OrchError, String(err));
    assertEquals(err.code, "protocol");
    assertMatch(err.message, pattern);
  }
  const bodies: [string, RegExp][] = [
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", /bad chunk size: "zz"/],
    [
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nab\r\n",
      /chunk longer than its size/,
    ],
    [
      `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1;${"e".repeat(5000)}\r\n`,
      /chunk-size line over 4096 bytes/,
    ],
    [
      `HTTP/1.1 200 OK\r\ncontent-length: 2000\r\n\r\n${"x".repeat(2000)}`,
      /the conductor's answer exceeds 1000 bytes/,
    ],
  ];
  for (const [text, pattern] of bodies) {
    const answer = await readAnswer(pipeOf(text), "GET");
    const err = await assertRejects(() => readBody(answer.body, 1000));
    assert(err instanceof OrchError, String(err));
    assertMatch(err.message, pattern);
  }
});

Deno.test("a request is written whole, with its length, asking for the connection to close", async () => {
  const pipe = new Pipe();
  await writeRequest(pipe, {
    method: "POST",
    target: "/v1/jobs",
    host: "localhost",
    headers: { "content-type": "application/json" },
    body: enc.encode('{"score":"hello"}'),
  });
  assertEquals(
    dec.decode(new Uint8Array(pipe.written.flatMap((p) => [...p]))),
    "POST /v1/jobs HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-type: application/json\r\n" +
      'content-length: 17\r\n\r\n{"score":"hello"}',
  );
  await assertRejects(
    () =>
      writeRequest(pipe, { method: "GET", target: "/", host: "h", headers: { a: "b\r\nc: d" } }),
    /holds a line break/,
  );
});

Deno.test("a connection may carry another request only after an answer read to its framed end, not told to close", async () => {
  const reusable = async (text: string, read = true) => {
    const a = await readAnswer(pipeOf(text), "GET");
    if (read) await readBody(a.body, 1 << 20);
    return a.reusable();
  };
  assertEquals(await reusable(CL), true);
  assertEquals(await reusable(CHUNKED), true);
  assertEquals(await reusable(CL, false), false);
  assertEquals(await reusable(CL.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")), false);
  assertEquals(await reusable(CL.replace("HTTP/1.1", "HTTP/1.0")), false);
  assertEquals(await reusable("HTTP/1.1 200 OK\r\n\r\nuntil the end"), false);
  // Bytes after the answer: something is wrong with the connection.
  assertEquals(await reusable(`${CL}HTTP/1.1 200 OK`), false);
});
