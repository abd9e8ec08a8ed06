/**
 * The conductor's connection seam: how it talks to one player. The TLS
 * peer implements it for real players; `orch bench` and in-process tests
 * may implement it too.
 *
 * @module
 */

import type { ConductorMessage, PlayerMessage } from "../protocol/mod.ts";
import type { PeerIdentity } from "../tls/mod.ts";

/** One connection to a player, as the conductor uses it. */
export interface PlayerLink {
  /** Where it comes from, for logs: `host:port`. */
  readonly remote: string;
  /** Who the transport proved the peer to be. */
  readonly identity: PeerIdentity;
  /** True once the connection has ended. */
  readonly closed: boolean;
  /** Sends a message; false when the connection is gone. */
  send(message: ConductorMessage): boolean;
  /**
   * The hello was accepted: every player message is accepted from now on,
   * and one of a type this build does not know is ignored, not fatal.
   */
  established(): void;
  /** Ends the connection (once); `onClose` hears why. */
  close(reason: string): void;
}

/** What a link reports to the conductor. */
export interface LinkHandlers {
  /** Every valid message, in order (ping and pong are the link's own business). */
  onMessage(message: PlayerMessage): void;
  /** Once, when the connection ends. */
  onClose(reason: string): void;
  /** Whole frames arrived, pings and pongs included: the player was heard from. */
  onHeard?(): void;
}

/** Makes a link that reports to `handlers`. */
export type LinkOpener = (handlers: LinkHandlers) => PlayerLink;
