/**
 * A framed, heartbeated message connection over a verified TLS socket,
 * used by both ends of the conductor ↔ player protocol.
 *
 * Incoming frames are decoded and validated before anyone sees them; a
 * frame that is too large, malformed, or of a known type not allowed now
 * closes the connection. Once the handshake is over, a frame of a type this
 * build does not know at all (sent by a newer peer) is reported once per
 * type and otherwise ignored.
 *
 * Each side is heard from at least every third of the heartbeat interval
 * (it pings when it had nothing else to send) and takes the peer for gone
 * when nothing arrives for a whole interval of time in which it
 * could have been heard: when this process itself stalls (a long commit, a
 * pause, SIGSTOP), the timer runs late, and that late part is not counted
 * against the peer, so frames that arrived meanwhile are read before
 * anyone is judged.
 *
 * @module
 */

import type tls from "node:tls";
import { errorMessage } from "../errors.ts";
import {
  clip,
  concatBytes,
  decodeMessage,
  encodeFrame,
  FrameDecoder,
  type Message,
  printable,
  unknownType,
} from "../protocol/mod.ts";

/** Bytes queued for sending before a peer is dropped as too slow. */
const MAX_BUFFERED = 64 << 20;
/** Unknown message types reported per connection; more are ignored silently. */
const MAX_UNKNOWN_TYPES = 32;

/** How a {@linkcode Peer} behaves. */
export interface PeerOptions<In extends Message> {
  maxFrame: number;
  heartbeatMs: number;
  /** Message types accepted during the handshake; see {@linkcode Peer.allow}. */
  allowed: readonly In["type"][];
  /** Gets every accepted message except `ping` / `pong`, which the peer answers itself. */
  onMessage: (message: In) => void;
  /**
   * Told, once per type and connection, of a message type this build does
   * not know, which was ignored; `type` is clipped and escaped.
   */
  onUnknownType?: (type: string) => void;
  /** Called once when the connection ends, with why. */
  onClose: (reason: string) => void;
  /**
   * Called when whole frames arrived (a ping, a pong or any message), once
   * per read, before they are handled: the peer was heard from.
   */
  onHeard?: () => void;
}

/**
 * Frames sent and received and connections closed for silence by every
 * peer of this process, since it started: plain counters, read by the
 * metrics when scraped.
 */
export const peerCounts = { framesIn: 0, framesOut: 0, silenceCloses: 0 };

/** One end of a protocol connection. */
export class Peer<In extends Message, Out extends Message> {
  readonly #socket: tls.TLSSocket;
  readonly #opts: PeerOptions<In>;
  readonly #decoder: FrameDecoder;
  #allowed: readonly string[];
  /** The handshake is over: unknown message types are ignored from now on. */
  #established = false;
  #unknownSeen: Set<string> | null = null;
  #closed = false;
  /** Something was sent since the heartbeat last ran. */
  #sentSinceTick = false;
  /** Frames sent in this turn, written together when it ends. */
  #out: Uint8Array[] = [];
  #outBytes = 0;
  /** When a frame last arrived, on the monotonic clock, moved on by time this process was stalled. */
  #lastHeard = performance.now();
  /** When the heartbeat timer last ran, on the monotonic clock. */
  #lastTick = performance.now();
  readonly #tickMs: number;
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
    this.#tickMs = Math.max(100, Math.floor(opts.heartbeatMs / 3));
    this.#timer = setInterval(() => this.#heartbeat(), this.#tickMs);
  }

  /**
   * Ends the handshake (hello, welcome): `types` are accepted from now on,
   * and a message of a type this build does not know is ignored rather than
   * fatal.
   */
  allow(types: readonly In["type"][]): void {
    this.#allowed = types;
    this.#established = true;
  }

  /** True once the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Bytes sent and not yet taken by the network: what a message sent now
   * would queue behind. Optional traffic (live output) waits while it is high.
   */
  get backlog(): number {
    return this.#closed ? Infinity : this.#socket.writableLength + this.#outBytes;
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
    if (this.#socket.writableLength + this.#outBytes > MAX_BUFFERED) {
      this.close("the peer is not reading (send buffer full)");
      return false;
    }
    // Frames sent in one turn go out in one write: one TLS record and one system call.
    if (this.#out.length === 0) queueMicrotask(() => this.#flush());
    this.#sentSinceTick = true;
    peerCounts.framesOut++;
    this.#out.push(frame);
    this.#outBytes += frame.length;
    return true;
  }

  /** Writes the frames sent so far. */
  #flush(): void {
    if (this.#out.length === 0) return;
    const data = this.#out.length === 1 ? this.#out[0] : concatBytes(this.#out);
    this.#out = [];
    this.#outBytes = 0;
    if (!this.#socket.destroyed) this.#socket.write(data);
  }

  /** Ends the connection (once); `reason` goes to `onClose`. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    // What was sent before the close (a refusal, say) still goes out.
    this.#flush();
    this.#socket.end();
    // end() lets queued frames (a refusal, say) go out; destroy soon after in case the peer never answers.
    const kill = setTimeout(() => this.#socket.destroy(), 1000);
    this.#socket.once("close", () => clearTimeout(kill));
    this.#opts.onClose(reason);
  }

  #onData(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#lastHeard = performance.now();
    let values: unknown[];
    try {
      values = this.#decoder.push(chunk);
    } catch (err) {
      this.close(`protocol error: ${errorMessage(err)}`);
      return;
    }
    peerCounts.framesIn += values.length;
    if (values.length > 0) this.#opts.onHeard?.();
    for (const value of values) {
      if (this.#closed) return;
      const unknown = this.#established ? unknownType(value) : undefined;
      if (unknown !== undefined) {
        this.#onUnknown(unknown);
        continue;
      }
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

  #onUnknown(type: string): void {
    const shown = printable(clip(type, 64));
    this.#unknownSeen ??= new Set();
    if (this.#unknownSeen.has(shown) || this.#unknownSeen.size >= MAX_UNKNOWN_TYPES) return;
    this.#unknownSeen.add(shown);
    this.#opts.onUnknownType?.(shown);
  }

  #heartbeat(): void {
    if (this.#closed) return;
    const now = performance.now();
    // A tick that runs late means this process did not run meanwhile; what the peer sent then is
    // still unread, so that time is not silence.
    const late = now - this.#lastTick - this.#tickMs;
    this.#lastTick = now;
    if (late > 0) this.#lastHeard = Math.min(now, this.#lastHeard + late);
    const silent = Math.round(now - this.#lastHeard);
    if (silent > this.#opts.heartbeatMs) {
      peerCounts.silenceCloses++;
      this.close(`no message for ${silent}ms (heartbeat ${this.#opts.heartbeatMs}ms)`);
      return;
    }
    // Whatever was sent since the last tick told the peer this side is alive: no ping needed.
    if (this.#sentSinceTick) {
      this.#sentSinceTick = false;
      return;
    }
    this.send({ type: "ping", t: Date.now() } as Out);
    this.#sentSinceTick = false;
  }
}
