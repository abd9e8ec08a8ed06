/**
 * A framed, heartbeated message connection over a verified TLS socket,
 * used by both ends of the conductor ↔ player protocol.
 *
 * Incoming frames are decoded and validated before anyone sees them; a
 * frame that is too large, malformed, or of a type not allowed now closes
 * the connection. Each side pings every third of the heartbeat interval and
 * takes the peer for gone when nothing arrives for a whole interval.
 *
 * @module
 */

import type tls from "node:tls";
import { errorMessage } from "../errors.ts";
import { decodeMessage, encodeFrame, FrameDecoder, type Message } from "../protocol/mod.ts";

/** Bytes queued for sending before a peer is dropped as too slow. */
const MAX_BUFFERED = 64 << 20;

/** How a {@linkcode Peer} behaves. */
export interface PeerOptions<In extends Message> {
  maxFrame: number;
  heartbeatMs: number;
  /** Message types accepted at first; change with {@linkcode Peer.allow}. */
  allowed: readonly In["type"][];
  /** Gets every accepted message except `ping` / `pong`, which the peer answers itself. */
  onMessage: (message: In) => void;
  /** Called once when the connection ends, with why. */
  onClose: (reason: string) => void;
}

/** One end of a protocol connection. */
export class Peer<In extends Message, Out extends Message> {
  readonly #socket: tls.TLSSocket;
  readonly #opts: PeerOptions<In>;
  readonly #decoder: FrameDecoder;
  #allowed: readonly string[];
  #closed = false;
  #lastHeard = Date.now();
  readonly #timer: ReturnType<typeof setInterval>;
  /** `host:port` of the other end. */
  readonly remote: string;

  constructor(socket: tls.TLSSocket, opts: PeerOptions<In>) {
    this.#socket = socket;
    this.#opts = opts;
    this.#decoder = new FrameDecoder(opts.maxFrame);
    this.#allowed = opts.allowed;
    this.remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("error", (err: Error) => this.close(`connection error: ${errorMessage(err)}`));
    socket.on("end", () => this.close("the peer closed the connection"));
    socket.on("close", () => this.close("the connection closed"));
    const tick = Math.max(100, Math.floor(opts.heartbeatMs / 3));
    this.#timer = setInterval(() => this.#heartbeat(), tick);
  }

  /** Changes which message types are accepted from now on. */
  allow(types: readonly In["type"][]): void {
    this.#allowed = types;
  }

  /** True once the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a message; returns false when the connection is closed. */
  send(message: Out): boolean {
    if (this.#closed) return false;
    let frame: Uint8Array;
    try {
      frame = encodeFrame(message, this.#opts.maxFrame);
    } catch (err) {
      this.close(`cannot send ${message.type}: ${errorMessage(err)}`);
      return false;
    }
    if (this.#socket.writableLength > MAX_BUFFERED) {
      this.close("the peer is not reading (send buffer full)");
      return false;
    }
    this.#socket.write(frame);
    return true;
  }

  /** Ends the connection (once); `reason` goes to `onClose`. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#socket.end();
    // end() lets queued frames (a refusal, say) go out; destroy soon after in case the peer never answers.
    setTimeout(() => this.#socket.destroy(), 1000);
    this.#opts.onClose(reason);
  }

  #onData(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#lastHeard = Date.now();
    let values: unknown[];
    try {
      values = this.#decoder.push(chunk);
    } catch (err) {
      this.close(`protocol error: ${errorMessage(err)}`);
      return;
    }
    for (const value of values) {
      if (this.#closed) return;
      let message: Message;
      try {
        message = decodeMessage(value, [...this.#allowed, "ping", "pong"] as Message["type"][]);
      } catch (err) {
        this.close(`protocol error: ${errorMessage(err)}`);
        return;
      }
      if (message.type === "ping") {
        this.send({ type: "pong", t: message.t } as Out);
      } else if (message.type !== "pong") {
        this.#opts.onMessage(message as In);
      }
    }
  }

  #heartbeat(): void {
    if (this.#closed) return;
    const silent = Date.now() - this.#lastHeard;
    if (silent > this.#opts.heartbeatMs) {
      this.close(`no message for ${silent}ms (heartbeat ${this.#opts.heartbeatMs}ms)`);
      return;
    }
    this.send({ type: "ping", t: Date.now() } as Out);
  }
}
