/**
 * A raw reader of server-sent events for tests: over the audience socket
 * (with a local proof) or over HTTPS (with an audience certificate), parsing
 * `id:` / `event:` / `data:` lines itself. Like the test cluster's clients it
 * checks what it gets against the API's description: the answer's status
 * and content type (and the body of a refusal), and every event's data.
 *
 * @module
 */

import https from "node:https";
import { join } from "node:path";
import { makeLocalProof } from "../../lib/client/mod.ts";
import type { Cluster } from "./cluster.ts";
import { openApiChecker } from "./openapi.ts";

/** The largest refusal read (an error answer is a few hundred bytes). */
const MAX_REFUSAL = 64 << 10;

/** One event as received; `comment` for a `:` line alone. */
export interface SseEvent {
  id?: string;
  event: string;
  // deno-lint-ignore no-explicit-any -- test code reads the fields it checks
  data: any;
}

/** An open stream of events. */
export class SseReader {
  readonly status: number;
  /** The stream's path with its query, as asked for. */
  readonly path: string;
  readonly #chunks: AsyncIterator<Uint8Array>;
  readonly #close: () => void;
  readonly #decoder = new TextDecoder();
  #text = "";
  #ended = false;
  /** Comment lines seen (keep-alives). */
  comments = 0;
  /** Every event read so far. */
  readonly seen: SseEvent[] = [];

  private constructor(
    path: string,
    status: number,
    chunks: AsyncIterator<Uint8Array>,
    close: () => void,
  ) {
    this.path = path;
    this.status = status;
    this.#chunks = chunks;
    this.#close = close;
  }

  /**
   * The reader of an answer: its status and content type checked against
   * the description, and a refusal's body too (read whole, and kept for
   * {@linkcode text}); on a failed check the connection is dropped and the
   * check's error thrown.
   */
  static async #checked(
    path: string,
    status: number,
    contentType: string,
    chunks: AsyncIterator<Uint8Array>,
    close: () => void,
  ): Promise<SseReader> {
    const reader = new SseReader(path, status, chunks, close);
    try {
      let body: unknown = undefined;
      // A refusal's body is read whole (it ends); a stream's, as it comes.
      if (status !== 200) {
        const text = await reader.text();
        try {
          body = /^application\/json\b/i.test(contentType) ? JSON.parse(text) : undefined;
        } catch {
          throw new Error(`GET ${path} answered ${status} with a JSON type but no JSON body`);
        }
      }
      openApiChecker.check({ method: "GET", path, status, contentType, body });
    } catch (err) {
      close();
      throw err;
    }
    return reader;
  }

  /**
   * Opens `path` on the cluster's audience socket (or another), as this
   * process's user; `proof: false` sends no local proof (a standby makes none).
   */
  static async socket(
    c: Pick<Cluster, "socket">,
    path: string,
    headers: Record<string, string> = {},
    opts: { proof?: boolean } = {},
  ): Promise<SseReader> {
    const proof = opts.proof === false ? null : await makeLocalProof(c.socket);
    if (!proof && opts.proof !== false) throw new Error("no local proof could be made");
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: c.socket } });
    const abort = new AbortController();
    const res = await fetch(`http://orch${path}`, {
      headers: { ...headers, ...(proof ? { authorization: proof.header } : {}) },
      client,
      signal: abort.signal,
    });
    await proof?.discard();
    const close = () => {
      abort.abort();
      client.close();
    };
    if (!res.body) throw new Error("no body");
    return await SseReader.#checked(
      path,
      res.status,
      res.headers.get("content-type") ?? "",
      res.body[Symbol.asyncIterator](),
      close,
    );
  }

  /** Opens `path` on the cluster's audience HTTPS port with the certificate of `name`. */
  static https(
    c: Cluster,
    name: string,
    path: string,
    headers: Record<string, string> = {},
  ): Promise<SseReader> {
    return new Promise((resolve, reject) => {
      const req = https.request({
        host: "127.0.0.1",
        port: c.audiencePort,
        path,
        headers,
        servername: "localhost",
        ca: Deno.readTextFileSync(join(c.caDir, "ca.crt")),
        cert: Deno.readTextFileSync(join(c.caDir, `${name}.crt`)),
        key: Deno.readTextFileSync(join(c.caDir, `${name}.key`)),
        agent: false,
      }, (res) => {
        const it = (res as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
        SseReader.#checked(
          path,
          res.statusCode ?? 0,
          String(res.headers["content-type"] ?? ""),
          it,
          () => req.destroy(),
        ).then(resolve, reject);
      });
      req.on("error", reject);
      req.end();
    });
  }

  /** The next event; null once the stream ended. */
  async next(): Promise<SseEvent | null> {
    for (;;) {
      const end = this.#text.indexOf("\n\n");
      if (end >= 0) {
        const block = this.#text.slice(0, end);
        this.#text = this.#text.slice(end + 2);
        const e = this.#parse(block);
        if (e) {
          openApiChecker.checkEvent(this.path, e.event, e.data);
          this.seen.push(e);
          return e;
        }
        continue;
      }
      if (this.#ended) return null;
      const r = await this.#chunks.next();
      if (r.done) {
        this.#ended = true;
        continue;
      }
      this.#text += this.#decoder.decode(r.value, { stream: true });
    }
  }

  /** Events until `pred` holds for one (returned with it); throws if the stream ends first. */
  async until(pred: (e: SseEvent) => boolean): Promise<SseEvent[]> {
    const got: SseEvent[] = [];
    for (;;) {
      const e = await this.next();
      if (!e) throw new Error(`the stream ended first; got ${JSON.stringify(got.slice(-5))}`);
      got.push(e);
      if (pred(e)) return got;
    }
  }

  /** Every event to the end of the stream. */
  async rest(): Promise<SseEvent[]> {
    const got: SseEvent[] = [];
    for (let e = await this.next(); e; e = await this.next()) got.push(e);
    return got;
  }

  /** The whole body that is left, as text (for an error answer; at most 64 KiB). */
  async text(): Promise<string> {
    while (!this.#ended) {
      const r = await this.#chunks.next();
      if (r.done) {
        this.#ended = true;
        break;
      }
      this.#text += this.#decoder.decode(r.value, { stream: true });
      if (this.#text.length > MAX_REFUSAL) {
        throw new Error(`GET ${this.path} answered ${this.status} with over 64 KiB`);
      }
    }
    return this.#text;
  }

  #parse(block: string): SseEvent | null {
    let id: string | undefined;
    let event = "message";
    const data: string[] = [];
    let any = false;
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) {
        this.comments++;
        continue;
      }
      any = true;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") id = value;
      else if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (!any) return null;
    return { ...(id === undefined ? {} : { id }), event, data: JSON.parse(data.join("\n")) };
  }

  /** Drops the connection. */
  close(): void {
    this.#close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
