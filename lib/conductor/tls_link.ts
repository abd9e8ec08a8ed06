/**
 * A player link over a verified TLS socket: the framed, heartbeated
 * {@linkcode Peer} of `lib/tls`, as the conductor's {@linkcode PlayerLink}.
 *
 * @module
 */

import { type ConductorMessage, PLAYER_TYPES, type PlayerMessage } from "../protocol/mod.ts";
import type { Logger } from "../log.ts";
import { Peer, type PeerIdentity, type TLSSocket } from "../tls/mod.ts";
import type { LinkOpener } from "./link.ts";

/** Framing and heartbeat settings of player links. */
export interface TlsLinkOptions {
  maxFrame: number;
  heartbeatMs: number;
}

/** Opens a link over `socket`, whose peer proved to be `identity`. */
export function tlsLink(
  socket: TLSSocket,
  identity: PeerIdentity,
  opts: TlsLinkOptions,
  log: Logger,
): LinkOpener {
  return (handlers) => {
    const peer = new Peer<PlayerMessage, ConductorMessage>(socket, {
      maxFrame: opts.maxFrame,
      heartbeatMs: opts.heartbeatMs,
      allowed: ["hello"],
      onMessage: handlers.onMessage,
      // A newer player may send what this conductor does not know yet: not fatal.
      onUnknownType: (type) =>
        log.warn("ignored a message of a type this conductor does not know", {
          player: identity.cn,
          type,
        }),
      onClose: handlers.onClose,
      onHeard: handlers.onHeard ? () => handlers.onHeard!() : undefined,
    });
    return {
      remote: peer.remote,
      identity,
      get closed() {
        return peer.closed;
      },
      send: (m) => peer.send(m),
      established: () => peer.allow(PLAYER_TYPES),
      close: (reason) => peer.close(reason),
    };
  };
}
