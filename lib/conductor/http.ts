/**
 * Serving the audience API: on a Unix socket (access decided by the
 * socket's file mode) and on HTTPS with a required audience client
 * certificate. Both are `node:http(s)` servers with the same limits (a
 * request must arrive within `requestMs`, so many connections at once, so
 * many per address on HTTPS) and hand requests to the same fetch-style
 * handler, with a signal that aborts when the client goes away.
 *
 * @module
 */

import { dirname } from "node:path";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
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
import { ConnectionGuard } from "./conn_limits.ts";
import { ThrottledLog } from "./throttle.ts";

/** The running audience listeners. */
export interface AudienceServers {
  address: Address | null;
  socket: string | null;
  /** Listens again on the same addresses (after the process ran out of file descriptors). */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** True while every listener listens. */
  listening(): boolean;
}

/** The limits of the audience listeners. */
export interface AudienceLimits {
  /** A TLS handshake must finish within this time (HTTPS). */
  handshakeMs: number;
  /** A request must arrive whole within this time. */
  requestMs: number;
  /** Connections each listener holds at most. */
  maxConnections: number;
  /** Connections to the HTTPS port from one address at most. */
  maxPerPeer: number;
}

/** The limits used when none are given (tests). */
export const DEFAULT_AUDIENCE_LIMITS: AudienceLimits = {
  handshakeMs: 10_000,
  requestMs: 30_000,
  maxConnections: 1000,
  maxPerPeer: 64,
};

/** Options for {@linkcode startAudienceServers}. */
export interface AudienceServerOptions {
  handler: ApiHandler;
  tls: TlsMaterial;
  listen: Address | null;
  socket: string | null;
  socketMode: number;
  /** The socket's group id, set before a request is served; null leaves the conductor's. */
  socketGid?: number | null;
  limits?: AudienceLimits;
  log: Logger;
}

/** One listener, as the audience servers hold it. */
interface Served {
  restart(): Promise<void>;
  stop(): Promise<void>;
  listening(): boolean;
}

/** Starts the audience listeners that are configured. */
export async function startAudienceServers(opts: AudienceServerOptions): Promise<AudienceServers> {
  const limits = opts.limits ?? DEFAULT_AUDIENCE_LIMITS;
  const served: Served[] = [];
  let address: Address | null = null;
  try {
    if (opts.socket !== null) {
      served.push(
        await serveUnix(
          opts.socket,
          opts.socketMode,
          opts.socketGid ?? null,
          opts.handler,
          limits,
          opts.log,
        ),
      );
    }
    if (opts.listen !== null) {
      const https = await serveHttps(opts.listen, opts.tls, opts.handler, limits, opts.log);
      address = https.address;
      served.push(https);
    }
  } catch (err) {
    await Promise.all(served.map((s) => s.stop()));
    throw err;
  }
  return {
    address,
    socket: opts.socket,
    restart: async () => void await Promise.all(served.map((s) => s.restart())),
    stop: async () => void await Promise.all(served.map((s) => s.stop())),
    listening: () => served.every((s) => s.listening()),
  };
}

/**
 * Bounds the time a client may take to send a request: each connection
 * must deliver a whole request (headers and body) within `requestMs` of
 * being made or of its last answer, or it is closed. Waiting for an
 * answer (a long poll) is not limited. This replaces the `node:http`
 * server's own timeouts, which under Deno mark a timed-out socket closed
 * but leave its file descriptor open; they are switched off.
 */
function requestDeadline(
  server: Pick<http.Server, "headersTimeout" | "requestTimeout" | "keepAliveTimeout" | "on">,
  event: "connection" | "secureConnection",
  requestMs: number,
): void {
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  server.keepAliveTimeout = 0;
  const timers = new WeakMap<Socket, ReturnType<typeof setTimeout>>();
  const disarm = (socket: Socket) => clearTimeout(timers.get(socket));
  const arm = (socket: Socket) => {
    disarm(socket);
    if (!socket.destroyed) timers.set(socket, setTimeout(() => socket.destroy(), requestMs));
  };
  server.on(event, (socket: Socket) => {
    arm(socket);
    socket.once("close", () => disarm(socket));
  });
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    req.once("end", () => disarm(req.socket));
    res.once("finish", () => arm(req.socket));
  });
}

/** Event streams being sent, so that a stop lets their last event (`cutoff`) go out. */
type Streaming = Set<Promise<void>>;

/** How long a stop waits for event streams to send their last event. */
const STOP_GRACE_MS = 2_000;

/**
 * Stops `server` listening, ends its connections (after the event streams
 * in `streaming` finished, for at most {@linkcode STOP_GRACE_MS}), and
 * resolves once it is closed.
 */
async function closeServer(server: http.Server, streaming: Streaming): Promise<void> {
  const sockets = openSockets.get(server) ?? new Set();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  if (streaming.size > 0) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(streaming),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS))),
    ]);
    clearTimeout(timer);
  }
  server.closeAllConnections();
  // closeAllConnections leaves out connections still in their TLS handshake, or idle before it.
  for (const socket of sockets) socket.destroy();
  await closed;
}

/** Every connection of a server, from its first byte: a stop cuts them all off. */
const openSockets = new WeakMap<http.Server, Set<Socket>>();

/** Tracks the connections of `server` for {@linkcode closeServer}. */
function trackSockets(server: http.Server): void {
  const sockets = new Set<Socket>();
  openSockets.set(server, sockets);
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
}

async function serveUnix(
  path: string,
  mode: number,
  gid: number | null,
  handler: ApiHandler,
  limits: AudienceLimits,
  log: Logger,
): Promise<Served> {
  await clearStaleSocket(path);
  try {
    await Deno.mkdir(dirname(path), { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new OrchError(
      "config",
      `cannot create the folder of audience socket ${path}: ${errorMessage(err)}`,
    );
  }
  // Requests that arrive before the socket's mode and group are set are refused, so they are never
  // bypassed.
  let guarded = false;
  const streaming: Streaming = new Set();
  const server = http.createServer((req, res) => {
    const caller = () =>
      guarded ? LOCAL_CALLER : errorResponse(new OrchError("unavailable", "starting"));
    serveNode(req, res, handler, caller, "http://conductor", log, streaming);
  });
  requestDeadline(server, "connection", limits.requestMs);
  trackSockets(server);
  new ConnectionGuard(server, {
    what: "audience socket",
    maxConnections: limits.maxConnections,
    maxPerPeer: null,
    log,
  });
  server.on("error", (err) => log.error("audience socket error", { error: errorMessage(err) }));
  const start = async () => {
    guarded = false;
    try {
      await listenUnix(server, path);
    } catch (err) {
      throw new OrchError(
        "unavailable",
        `cannot listen on audience socket ${path}: ${errorMessage(err)}`,
      );
    }
    try {
      if (gid !== null) await Deno.chown(path, null, gid);
      await Deno.chmod(path, mode);
    } catch (err) {
      server.close();
      throw new OrchError(
        "config",
        `cannot set the mode or group of audience socket ${path}: ${errorMessage(err)}`,
      );
    }
    guarded = true;
  };
  await start();
  log.debug("audience socket ready", {
    path,
    mode: mode.toString(8),
    gid: gid ?? undefined,
  });
  return {
    restart: async () => {
      server.close();
      await Deno.remove(path).catch(() => {});
      await start();
    },
    stop: async () => {
      await closeServer(server, streaming);
      await Deno.remove(path).catch(() => {});
    },
    listening: () => server.listening,
  };
}

/**
 * Connections waiting to be accepted at most. Deno's `node:net` servers
 * also stop accepting while more connections are open than (the next power
 * of two above) this, so it is set far above the default of 511.
 */
const BACKLOG = 4096;

function listenUnix(server: http.Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ path, backlog: BACKLOG }, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/**
 * Removes a socket file left by a conductor that died; refuses when one is
 * still listening. `what` names the socket in errors.
 */
export async function clearStaleSocket(path: string, what = "audience socket"): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch {
    return;
  }
  if (!info.isSocket) {
    throw new OrchError("config", `${what} ${path} exists and is not a socket`);
  }
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (err) {
    // Only a socket nobody listens on is stale; anything else (permission denied) is not ours to remove.
    if (!(err instanceof Deno.errors.ConnectionRefused)) {
      throw new OrchError("config", `cannot check ${what} ${path}: ${errorMessage(err)}`);
    }
    await Deno.remove(path);
    return;
  }
  conn.close();
  throw new OrchError("conflict", `another process is listening on ${what} ${path}`, {
    hint: "is another conductor running?",
  });
}

async function serveHttps(
  addr: Address,
  tls: TlsMaterial,
  handler: ApiHandler,
  limits: AudienceLimits,
  log: Logger,
): Promise<Served & { address: Address }> {
  const refused = new ThrottledLog(
    log,
    "warn",
    "refused an audience connection at the TLS handshake",
    10_000,
    10,
  );
  const streaming: Streaming = new Set();
  // A stop cuts off handshakes under way itself: those are not the peers' refusals.
  let stopping = false;
  const server = await createMutualHttpsServer(
    tls,
    { handshakeMs: limits.handshakeMs },
    (req, res) => serveNode(req, res, handler, httpsCaller, "https://conductor", log, streaming),
    (reason) => {
      if (!stopping) refused.note({ reason });
    },
  );
  requestDeadline(server, "secureConnection", limits.requestMs);
  trackSockets(server);
  new ConnectionGuard(server, {
    what: "audience HTTPS port",
    maxConnections: limits.maxConnections,
    maxPerPeer: limits.maxPerPeer,
    log,
  });
  server.on("error", (err) => log.error("audience HTTPS error", { error: errorMessage(err) }));
  const address = await listen(server, addr.host, addr.port);
  return {
    address,
    restart: async () => {
      server.close();
      await listen(server, address.host, address.port);
    },
    stop: () => {
      stopping = true;
      return closeServer(server, streaming);
    },
    listening: () => server.listening,
  };
}

/** The caller of an HTTPS request: the audience certificate's name, or why it is refused. */
function httpsCaller(req: IncomingMessage): Caller | Response {
  const identity = peerIdentity(req.socket as TLSSocket);
  if (!identity || identity.role !== "audience") {
    return errorResponse(
      new OrchError(
        "forbidden",
        `the client certificate is for ${identity?.role ?? "no orch role"}, not the audience`,
      ),
    );
  }
  return { transport: "https", name: identity.cn, auth: "client_certificate" };
}

/** Serves one request; a failure is logged and answered 500. */
function serveNode(
  req: IncomingMessage,
  res: ServerResponse,
  handler: ApiHandler,
  caller: (req: IncomingMessage) => Caller | Response,
  origin: string,
  log: Logger,
  streaming: Streaming,
): void {
  handleNode(req, res, handler, caller, origin, streaming).catch((err) => {
    log.error("audience request failed", { error: errorMessage(err) });
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
}

/** Adapts a `node:http(s)` request to the fetch-style handler and back. */
async function handleNode(
  req: IncomingMessage,
  res: ServerResponse,
  handler: ApiHandler,
  callerOf: (req: IncomingMessage) => Caller | Response,
  origin: string,
  streaming: Streaming,
): Promise<void> {
  const caller = callerOf(req);
  let response: Response;
  if (caller instanceof Response) {
    response = caller;
  } else {
    const body = await readBody(req);
    if (body instanceof Response) {
      response = body;
    } else {
      // Aborts when the client goes away: a long poll then lets go of its connection at once.
      const abort = new AbortController();
      res.on("close", () => abort.abort());
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === "string") headers.set(k, v);
        else if (Array.isArray(v)) { for (const x of v) headers.append(k, x); }
      }
      const request = new Request(`${origin}${requestTarget(req.url)}`, {
        method: req.method,
        headers,
        body: body.length > 0 && req.method !== "GET" && req.method !== "HEAD" ? body : undefined,
      });
      // The peer's address, for the audit trail; a Unix socket's peer has none.
      const from = req.socket.remoteAddress
        ? `${req.socket.remoteAddress}:${req.socket.remotePort}`
        : undefined;
      response = await handler(request, { caller, signal: abort.signal, from });
    }
  }
  if (response.body !== null && isEventStream(response)) {
    const sent = streamBody(res, response, response.body);
    streaming.add(sent);
    try {
      await sent;
    } finally {
      streaming.delete(sent);
    }
    return;
  }
  const text = new Uint8Array(await response.arrayBuffer());
  if (res.destroyed) return;
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(text);
}

/** A response sent as it is made (server-sent events), not read whole first. */
function isEventStream(response: Response): boolean {
  return (response.headers.get("content-type") ?? "").startsWith("text/event-stream");
}

/**
 * A finished stream whose client does not take its last bytes within this
 * time has its connection closed.
 */
const END_GRACE_MS = 30_000;

/**
 * Sends `body` as it comes, never faster than the client reads: the next
 * piece is read only once the connection took the last one (`write`
 * returned true, or `drain` came). The body is cancelled when the client
 * goes away, and the connection dropped when the body fails.
 */
async function streamBody(
  res: ServerResponse,
  response: Response,
  body: ReadableStream<Uint8Array>,
): Promise<void> {
  const reader = body.getReader();
  if (res.destroyed) {
    await reader.cancel().catch(() => {});
    return;
  }
  res.once("close", () => void reader.cancel().catch(() => {}));
  // A body that fails (its client did not read in time) ends the connection at once.
  reader.closed.catch(() => res.destroy());
  // A stream holds its connection to the end; then the connection closes.
  res.writeHead(response.status, { ...Object.fromEntries(response.headers), connection: "close" });
  res.flushHeaders();
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch {
      res.destroy();
      return;
    }
    if (next.done || res.destroyed) break;
    if (!res.write(next.value)) await drained(res);
  }
  if (res.destroyed) return;
  const timer = setTimeout(() => res.destroy(), END_GRACE_MS);
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    res.once("close", done);
    res.end(done);
  });
}

/** Resolves when `res` can take more, or is closed. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

/**
 * The path and query of a request target, which some clients (fetch over a
 * Unix-socket proxy) send in absolute form (`http://host/path`).
 */
function requestTarget(target: string | undefined): string {
  if (target === undefined || target === "") return "/";
  if (target.startsWith("/")) return target;
  try {
    const url = new URL(target);
    return `${url.pathname}${url.search}`;
  } catch {
    return "/";
  }
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
