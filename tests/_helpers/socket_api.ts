/**
 * An audience API served on a Unix socket in a temp dir, with no conductor
 * behind it: the real listener (`startAudienceServers`) in front of a handler
 * the test gives (a fake backend's API, or a fixed answer).
 *
 * @module
 */

import { join } from "node:path";
import type { ApiHandler } from "../../lib/conductor/api.ts";
import { startAudienceServers } from "../../lib/conductor/http.ts";
import { silentLogger } from "../../lib/log.ts";
import type { TlsMaterial } from "../../lib/tls/mod.ts";
import { tempDir } from "./proc.ts";

/** TLS material for servers that listen on no TLS port (it is never read). */
export const NO_TLS: TlsMaterial = {
  ca: "",
  cert: "",
  key: "",
  name: "",
  names: [],
  notAfter: new Date(0),
};

/** A served socket, stopped and its folder removed on dispose. */
export interface SocketApi extends AsyncDisposable {
  /** The socket's path. */
  socket: string;
}

/** Serves `handler` on a Unix socket (mode 0600) in a new temp dir. */
export async function serveOnSocket(handler: ApiHandler): Promise<SocketApi> {
  const dir = await tempDir();
  const servers = await startAudienceServers({
    handler,
    tls: NO_TLS,
    listen: null,
    socket: join(dir.path, "audience.sock"),
    socketMode: 0o600,
    log: silentLogger,
  });
  return {
    socket: servers.socket!,
    async [Symbol.asyncDispose]() {
      await servers.stop();
      await dir[Symbol.asyncDispose]();
    },
  };
}
