/**
 * The metrics listener: plain HTTP that answers `GET /metrics` with the
 * registry's exposition and 404 to anything else. Its connections are
 * bounded, each must finish its request within `requestMs`, and each is
 * closed after its answer: a scraper comes every few seconds, not
 * thousands of times a second.
 *
 * @module
 */

import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Registry } from "prom-client";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Address } from "../config/mod.ts";
import { listen } from "../tls/mod.ts";

/** Options for {@linkcode startMetricsServer}. */
export interface MetricsServerOptions {
  listen: Address;
  registry: Registry;
  log: Logger;
  /** Connections held at most; more are closed at once. */
  maxConnections?: number;
  /** A request must arrive and be answered within this time. */
  requestMs?: number;
}

/** A running metrics listener. */
export interface MetricsServer {
  /** Where it listens (the port chosen when 0 was asked). */
  address: Address;
  stop(): Promise<void>;
}

const DEFAULT_MAX_CONNECTIONS = 16;
const DEFAULT_REQUEST_MS = 10_000;

/** Starts serving `GET /metrics` on `opts.listen`. */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const requestMs = opts.requestMs ?? DEFAULT_REQUEST_MS;
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => answer(req, res, opts));
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  server.keepAliveTimeout = 0;
  // Runs before the HTTP server's own listener: a refused socket gets no parsing.
  server.prependListener("connection", (socket: Socket) => {
    if (sockets.size >= maxConnections) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    const timer = setTimeout(() => socket.destroy(), requestMs);
    socket.once("close", () => {
      clearTimeout(timer);
      sockets.delete(socket);
    });
  });
  server.on(
    "error",
    (err) => opts.log.error("metrics listener error", { error: errorMessage(err) }),
  );
  const address = await listen(server, opts.listen.host, opts.listen.port);
  return {
    address,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

function answer(req: IncomingMessage, res: ServerResponse, opts: MetricsServerOptions): void {
  res.setHeader("Connection", "close");
  const path = (req.url ?? "").split("?")[0];
  if (path !== "/metrics") {
    res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("not found\n");
    return;
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { "Content-Type": "text/plain; charset=utf-8", Allow: "GET, HEAD" })
      .end("method not allowed\n");
    return;
  }
  opts.registry.metrics().then(
    (text) => {
      res.writeHead(200, { "Content-Type": opts.registry.contentType });
      res.end(req.method === "HEAD" ? undefined : text);
    },
    (err) => {
      opts.log.error("metrics not collected", { error: errorMessage(err) });
      res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" }).end("metrics failed\n");
    },
  );
}
