/**
 * Connection limits of one listener: at most so many connections at once,
 * and at most so many from one IP address. A connection over a limit is
 * closed as soon as it is accepted, before any TLS or HTTP work is done for
 * it, and the refusals are logged at most once per interval with a count.
 *
 * @module
 */

import type { Server, Socket } from "node:net";
import type { Logger } from "../log.ts";
import { ThrottledLog } from "./throttle.ts";

/** What a {@linkcode ConnectionGuard} enforces. */
export interface GuardOptions {
  /** What the listener is, for logs: "players port". */
  what: string;
  /** Connections held at most. */
  maxConnections: number;
  /** Connections from one address at most; null where the peer has no address (Unix socket). */
  maxPerPeer: number | null;
  log: Logger;
}

/** Counts and limits the connections of one server. */
export class ConnectionGuard {
  readonly #opts: GuardOptions;
  readonly #byPeer = new Map<string, number>();
  readonly #refused: ThrottledLog;
  #open = 0;

  constructor(server: Server, opts: GuardOptions) {
    this.#opts = opts;
    this.#refused = new ThrottledLog(opts.log, "warn", "refused connections over a limit");
    // Runs before the TLS or HTTP server's own listener: a refused socket gets no handshake.
    server.prependListener("connection", (socket: Socket) => this.#admit(socket));
  }

  /** Connections open now. */
  get open(): number {
    return this.#open;
  }

  #admit(socket: Socket): void {
    const o = this.#opts;
    const peer = o.maxPerPeer === null ? null : socket.remoteAddress ?? "?";
    const fromPeer = peer === null ? 0 : this.#byPeer.get(peer) ?? 0;
    let over: string | null = null;
    if (this.#open >= o.maxConnections) {
      over = `${o.maxConnections} connections`;
    } else if (peer !== null && fromPeer >= o.maxPerPeer!) {
      over = `${o.maxPerPeer} connections from one address`;
    }
    if (over !== null) {
      this.#refused.note({ listener: o.what, limit: over, from: peer ?? undefined });
      socket.destroy();
      return;
    }
    this.#open++;
    if (peer !== null) this.#byPeer.set(peer, fromPeer + 1);
    socket.once("close", () => {
      this.#open--;
      if (peer === null) return;
      const n = (this.#byPeer.get(peer) ?? 1) - 1;
      if (n <= 0) this.#byPeer.delete(peer);
      else this.#byPeer.set(peer, n);
    });
  }
}
