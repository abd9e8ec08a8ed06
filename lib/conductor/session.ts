/**
 * One player's connection, as the conductor sees it.
 *
 * @module
 */

import type { ConductorMessage, PlayerMessage, ScoreInfo } from "../protocol/mod.ts";
import type { Peer, PeerIdentity } from "../tls/mod.ts";

/** A connected player (or one still saying hello). */
export class Session {
  /** The player's name, once its hello is accepted. */
  name: string | null = null;
  version = "";
  /** Tasks it takes at once, as it last said; 0 until its first `ready`. */
  slots = 0;
  /** It refused a task as busy: nothing more is sent until its next `ready`. */
  blocked = false;
  /** Its scores, as announced in its hello. */
  scores = new Map<string, ScoreInfo>();
  readonly connectedAt: number;

  constructor(
    readonly peer: Peer<PlayerMessage, ConductorMessage>,
    readonly identity: PeerIdentity,
    now: number,
  ) {
    this.connectedAt = now;
  }

  /** Sends a message; false when the connection is gone. */
  send(message: ConductorMessage): boolean {
    return this.peer.send(message);
  }
}
