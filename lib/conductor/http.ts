/**
 * Serving the audience API: on a Unix socket (access decided by the
 * socket's file mode) and on HTTPS with a required audience client
 * certificate. Both hand requests to the same fetch-style handler.
 *
 * @module
 */

import { dirname } from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorMessage, OrchError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Address } from "../config/mod.ts";
import { type Caller, concatBytes, LIMITS, LOCAL_CALLER } from "../protocol/mod.ts";
import {
  createMutualHttpsServer,
  listen,
  peerIdentity,
  type TlsMaterial,
  type TLSSocket,
} from "../tls/mod.ts";
import { type ApiHandler, errorResponse } from "./api.ts";

/** The running audience listeners. */
export interface AudienceServers {
  address: Address | null;
  socket: string | null;
  stop(): Promise<void>;
}

/** Options for {@linkcode startAudienceServers}. */
export interface AudienceServerOptions {
  handler: ApiHandler;
  tls: TlsMaterial;
  listen: Address | null;
  socket: string | null;
  socketMode: number;
  log: Logger;
}

/** Starts the audience listeners that are configured. */
export async function startAudienceServers(opts: AudienceServerOptions): Promise<AudienceServers> {
  const stops: (() => Promise<void>)[] = [];
  let address: Address | null = null;
  try {
    if (opts.socket !== null) {
      stops.push(await serveUnix(opts.socket, opts.socketMode, opts.handler, opts.log));
    }
    if (opts.listen !== null) {
      const https = await serveHttps(opts.listen, opts.tls, opts.handler, opts.log);
      address = https.address;
      stops.push(https.stop);
    }
  } catch (err) {
    await Promise.all(stops.map((s) => s()));
    throw err;
  }
  return {
    address,
    socket: opts.socket,
    stop: async () => void await Promise.all(stops.map((s) => s())),
  };
}

async function serveUnix(
  path: string,
  mode: number,
  handler: ApiHandler,
  log: Logger,
): Promise<() => Promise<void>> {
  await clearStaleSocket(path);
  try {
    await Deno.mkdir(dirname(path), { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new OrchError(
      "config",
      `cannot create the folder of audience socket ${path}: ${errorMessage(err)}`,
    );
  }
  // Requests that arrive before the socket's mode is set are refused, so the mode is never bypassed.
  let guarded = false;
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({ path, onListen() {} }, (req) => {
      if (!guarded) return errorResponse(new OrchError("unavailable", "starting"));
      return handler(req, { caller: LOCAL_CALLER });
    });
  } catch (err) {
    throw new OrchError(
      "unavailable",
      `cannot listen on audience socket ${path}: ${errorMessage(err)}`,
    );
  }
  await Deno.chmod(path, mode);
  guarded = true;
  log.debug("audience socket ready", { path, mode: mode.toString(8) });
  return async () => {
    await server.shutdown();
    await Deno.remove(path).catch(() => {});
  };
}

/** Removes a socket file left by a conductor that died; refuses when one is still listening. */
async function clearStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch {
    return;
  }
  if (!info.isSocket) {
    throw new OrchError("config", `audience socket ${path} exists and is not a socket`);
  }
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (err) {
    // Only a socket nobody listens on is stale; anything else (permission denied) is not ours to remove.
    if (!(err instanceof Deno.errors.ConnectionRefused)) {
      throw new OrchError("config", `cannot check audience socket ${path}: ${errorMessage(err)}`);
    }
    await Deno.remove(path);
    return;
  }
  conn.close();
  throw new OrchError("conflict", `another process is listening on audience socket ${path}`, {
    hint: "is another conductor running?",
  });
}

async function serveHttps(
  addr: Address,
  tls: TlsMaterial,
  handler: ApiHandler,
  log: Logger,
): Promise<{ address: Address; stop: () => Promise<void> }> {
  const server = createMutualHttpsServer(
    tls,
    (req, res) => {
      handleNode(req, res, handler).catch((err) => {
        log.error("audience request failed", { error: errorMessage(err) });
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    },
    (reason) => log.warn("refused an audience connection at the TLS handshake", { reason }),
  );
  const address = await listen(server, addr.host, addr.port);
  return {
    address,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

/** Adapts a `node:https` request to the fetch-style handler and back. */
async function handleNode(
  req: IncomingMessage,
  res: ServerResponse,
  handler: ApiHandler,
): Promise<void> {
  const identity = peerIdentity(req.socket as TLSSocket);
  let response: Response;
  if (!identity || identity.role !== "audience") {
    response = errorResponse(
      new OrchError(
        "forbidden",
        `the client certificate is for ${identity?.role ?? "no orch role"}, not the audience`,
      ),
    );
  } else {
    const body = await readBody(req);
    if (body instanceof Response) {
      response = body;
    } else {
      const abort = new AbortController();
      res.on("close", () => abort.abort());
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === "string") headers.set(k, v);
        else if (Array.isArray(v)) { for (const x of v) headers.append(k, x); }
      }
      const request = new Request(`https://conductor${req.url ?? "/"}`, {
        method: req.method,
        headers,
        body: body.length > 0 && req.method !== "GET" && req.method !== "HEAD" ? body : undefined,
      });
      const caller: Caller = {
        transport: "https",
        name: identity.cn,
        auth: "client_certificate",
      };
      const from = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
      response = await handler(request, { caller, signal: abort.signal, from });
    }
  }
  const text = new Uint8Array(await response.arrayBuffer());
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Uint8Array<ArrayBuffer> | Response> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Uint8Array).length;
    if (size > LIMITS.maxRequestBody) {
      return errorResponse(
        new OrchError("too_large", `request body exceeds ${LIMITS.maxRequestBody} bytes`),
      );
    }
    chunks.push(chunk as Uint8Array);
  }
  return concatBytes(chunks);
}
