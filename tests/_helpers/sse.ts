/**
 * A raw reader of server-sent events for tests: over the audience socket
 * (with a local proof) or over HTTPS (with an audience certificate), parsing
 * `id:` / `event:` / `data:` lines itself.
 *
 * @module
 */

import https from "node:https";
import { join } from "node:path";
import { makeLocalProof } from "../../lib/client/mod.ts";
import type { Cluster } from "./cluster.ts";

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
  readonly #chunks: AsyncIterator<Uint8Array>;
  readonly #close: () => void;
  readonly #decoder = new TextDecoder();
  #text = "";
  #ended = false;
  /** Comment lines seen (keep-alives). */
  comments = 0;
  /** Every event read so far. */
  readonly seen: SseEvent[] = [];

  private constructor(status: number, chunks: AsyncIterator<Uint8Array>, close: () => void) {
    this.status = status;
    this.#chunks = chunks;
    this.#close = close;
  }

  /** Opens `path` on the cluster's audience socket, as this process's user. */
  static async socket(
    c: Cluster,
    path: string,
    headers: Record<string, string> = {},
  ): Promise<SseReader & { body?: string }> {
    const proof = await makeLocalProof(c.socket);
    if (!proof) throw new Error("no local proof could be made");
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: c.socket } });
    const abort = new AbortController();
    const res = await fetch(`http://orch${path}`, {
      headers: { ...headers, authorization: proof.header },
      client,
      signal: abort.signal,
    });
    await proof.discard();
    const close = () => {
      abort.abort();
      client.close();
    };
    if (!res.body) throw new Error("no body");
    return new SseReader(res.status, res.body[Symbol.asyncIterator](), close);
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
        resolve(new SseReader(res.statusCode ?? 0, it, () => req.destroy()));
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

  /** The whole body that is left, as text (for an error answer). */
  async text(): Promise<string> {
    for (let r = await this.#chunks.next(); !r.done; r = await this.#chunks.next()) {
      this.#text += this.#decoder.decode(r.value, { stream: true });
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
