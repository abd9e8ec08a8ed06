/**
 * `orch dashboard`: the dashboard in a browser through the audience Unix
 * socket. A browser cannot make the local proof the socket asks for, so a
 * small HTTP server on loopback forwards each request to the socket with a
 * fresh proof of the user who runs it; the conductor sees `local:USER` and
 * applies that user's grants.
 *
 * Any local user can connect to a loopback port, so the server holds a
 * secret token: the first request brings it in `?token=` and gets it back
 * as a cookie (`HttpOnly; SameSite=Strict`) with a redirect to the same
 * address without it; later requests carry the cookie. A request without
 * it, for another Host (DNS rebinding), or a write from another origin
 * (CSRF) is refused and nothing of it reaches the conductor. The cookie,
 * the token and hop-by-hop headers are never forwarded; answers (the event
 * streams too) flow through as they arrive.
 *
 * @module
 */

import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { errorMessage, OrchError } from "../errors.ts";
import { concatBytes, LIMITS } from "../protocol/mod.ts";
import { makeLocalProof } from "./local_proof.ts";

/** Connections the server holds at most; more are answered 503 and closed. */
export const PROXY_MAX_CONNECTIONS = 64;
/** A connection must deliver a whole request within this long of being made or of its last answer. */
export const PROXY_REQUEST_MS = 30_000;
/** The conductor must start answering within this long (an event stream then flows for ever). */
const UPSTREAM_ANSWER_MS = 330_000;

/**
 * Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1),
 * what a proxy replaces, and the browser's word on where a request comes
 * from: the proxy has checked that itself, against its own origin, which is
 * not the conductor's (the conductor would refuse a write carrying it).
 */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "cookie",
  "authorization",
  "set-cookie",
  "origin",
  "referer",
]);

/** Where the proxy listens: a loopback address. */
export interface LoopbackAddress {
  host: string;
  port: number;
}

/**
 * Parses `--listen` (`127.0.0.1:PORT`, `[::1]:PORT`, `localhost:PORT`);
 * refuses an address that is not loopback, naming it and `flag`.
 */
export function parseLoopbackListen(text: string, flag = "--listen"): LoopbackAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new OrchError(
      "usage",
      `${flag} ${JSON.stringify(text)} is not HOST:PORT (e.g. 127.0.0.1:8080; port 0 picks one)`,
    );
  }
  const host = (m[1] ?? m[2]).toLowerCase();
  const loopback = host === "localhost" || host === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  if (!loopback) {
    throw new OrchError(
      "usage",
      `${flag} ${
        JSON.stringify(text)
      } is not a loopback address: the dashboard proxy listens on 127.0.0.1 or ::1 only`,
      { hint: "reach it from another machine through an SSH tunnel (see the README's Dashboard)" },
    );
  }
  return { host: host === "localhost" ? "127.0.0.1" : host, port };
}

/**
 * A random loopback address 127.R1.R2.R3 (each 1–254, so never 127.0.0.1)
 * with port 0. Browsers keep cookies by host, not by port: on a host of its
 * own the proxy's cookie goes to no other local web server. Linux answers
 * on the whole of 127.0.0.0/8.
 */
export function randomLoopbackAddress(): LoopbackAddress {
  const [a, b, c] = Array.from(crypto.getRandomValues(new Uint8Array(3)), (x) => 1 + (x % 254));
  return { host: `127.${a}.${b}.${c}`, port: 0 };
}

/** What {@linkcode startDashboardProxy} takes. */
export interface DashboardProxyOptions {
  /** The conductor's audience socket. */
  socket: string;
  /** Where to listen (loopback; port 0 picks one). */
  listen: LoopbackAddress;
  /** The token (64 hex digits); made here when absent. */
  token?: string;
  /** Told of each request refused or failed, without the token (for a log). */
  onRefusal?: (what: string) => void;
  /**
   * How long a connection may stay idle, or take to deliver a request, before
   * it is closed (milliseconds; {@linkcode PROXY_REQUEST_MS} when absent).
   */
  requestMs?: number;
}

/** A running proxy. */
export interface DashboardProxy {
  /** The port it listens on. */
  port: number;
  /** The address to open, with the token. */
  url: string;
  /** Stops listening and closes every connection. */
  stop(): Promise<void>;
}

/**
 * Checks that the conductor at `socket` answers the dashboard to this
 * user's proof; throws one clear `unavailable` or `unauthenticated` error
 * when it does not.
 */
export async function checkDashboardReachable(socket: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(socket);
  } catch (err) {
    throw new OrchError(
      "unavailable",
      `cannot reach the conductor: no audience socket at ${socket} (${
        err instanceof Deno.errors.NotFound ? "no such file" : errorMessage(err)
      })`,
      { hint: "is the conductor running on this host? choose its socket with --socket PATH" },
    );
  }
  if (!info.isSocket) {
    throw new OrchError("unavailable", `cannot reach the conductor: ${socket} is not a socket`, {
      hint: "choose the conductor's audience socket with --socket PATH",
    });
  }
  const proof = await makeLocalProof(socket);
  let status: number;
  let body: Uint8Array;
  try {
    ({ status, body } = await new Promise<{ status: number; body: Uint8Array }>(
      (resolve, reject) => {
        const headers: Record<string, string> = { accept: "application/json" };
        if (proof) headers.authorization = proof.header;
        const req = http.request(
          { socketPath: socket, method: "GET", path: "/", headers },
          (res) => {
            const chunks: Uint8Array[] = [];
            let size = 0;
            res.on("data", (c: Uint8Array) => {
              size += c.length;
              if (size <= 64 << 10) chunks.push(c);
            });
            res.on("error", reject);
            res.on(
              "end",
              () => resolve({ status: res.statusCode ?? 0, body: concatBytes(chunks) }),
            );
          },
        );
        req.setTimeout(PROXY_REQUEST_MS, () => req.destroy(new Error("no answer")));
        req.on("error", reject);
        req.end();
      },
    ));
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new OrchError(
      "unavailable",
      `cannot reach the conductor at ${socket}: ${
        code === "ECONNREFUSED"
          ? "connection refused"
          : code === "EACCES"
          ? "permission denied (check the socket's group and mode)"
          : errorMessage(err)
      }`,
      { cause: err },
    );
  } finally {
    await proof?.discard();
  }
  if (status === 200) return;
  let message = `status ${status}`;
  try {
    const parsed = JSON.parse(new TextDecoder().decode(body)) as { error?: { message?: string } };
    if (typeof parsed.error?.message === "string") message = parsed.error.message;
  } catch {
    // not JSON: the status says it
  }
  throw new OrchError(
    status === 401 || status === 403 ? "unauthenticated" : "unavailable",
    `the conductor at ${socket} refused the dashboard to this user: ${message}`,
  );
}

/** Starts the proxy; resolves once it listens. */
export async function startDashboardProxy(opts: DashboardProxyOptions): Promise<DashboardProxy> {
  const token = opts.token ?? randomHex(32);
  if (!/^[0-9a-f]{64}$/.test(token)) throw new TypeError("token must be 64 hex digits");
  const refuse = opts.onRefusal ?? (() => {});
  const requestMs = opts.requestMs ?? PROXY_REQUEST_MS;
  if (!Number.isInteger(requestMs) || requestMs < 1 || requestMs > PROXY_REQUEST_MS) {
    throw new TypeError(`requestMs must be an integer in 1..${PROXY_REQUEST_MS}`);
  }
  const sockets = new Set<Socket>();
  /** Connections past the limit: answered 503 already, their requests are not served. */
  const over = new WeakSet<Socket>();
  let port = 0;
  const hostPart = opts.listen.host.includes(":") ? `[${opts.listen.host}]` : opts.listen.host;
  const allowedHosts = () => new Set([`${hostPart}:${port}`, `localhost:${port}`]);
  // Cookies do not tell ports apart: the name does, so two proxies on one host keep theirs.
  const cookieName = () => `orch_dashboard_${port}`;

  const server = http.createServer((req, res) => {
    if (over.has(req.socket)) return;
    watch(req, res);
    handle(req, res).catch((err) => {
      refuse(`${req.method} failed: ${errorMessage(err)}`);
      if (!res.headersSent) plain(res, 502, "the conductor could not be reached\n");
      else res.destroy();
    });
  });
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  server.keepAliveTimeout = 0;
  // Each connection is closed when it has been idle, or taken to deliver a request, past
  // requestMs: its timer runs whenever no answer is under way, or a request is still being
  // read. It stops only while the conductor is asked (which has a bound of its own) and the
  // answer flows. A request's body may be read after its answer (a refusal does not read it),
  // so what counts is the state after each event, not the order of the events.
  interface Track {
    timer?: ReturnType<typeof setTimeout>;
    /** Requests whose answer has not finished. */
    answering: number;
    /** Of those, the ones whose request has not been read to its end. */
    reading: number;
  }
  const tracks = new WeakMap<Socket, Track>();
  const trackOf = (s: Socket): Track => {
    let t = tracks.get(s);
    if (t === undefined) tracks.set(s, t = { answering: 0, reading: 0 });
    return t;
  };
  const update = (s: Socket) => {
    const t = trackOf(s);
    const run = !s.destroyed && (t.answering === 0 || t.reading > 0);
    if (run && t.timer === undefined) {
      t.timer = setTimeout(() => s.destroy(), requestMs);
    } else if (!run && t.timer !== undefined) {
      clearTimeout(t.timer);
      t.timer = undefined;
    }
  };
  const disarm = (s: Socket) => {
    const t = trackOf(s);
    clearTimeout(t.timer);
    t.timer = undefined;
  };
  server.on("connection", (socket: Socket) => {
    if (sockets.size >= PROXY_MAX_CONNECTIONS) {
      refuse(`connection refused: ${PROXY_MAX_CONNECTIONS} connections are open`);
      socket.end(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n" +
          "content-length: 18\r\nconnection: close\r\n\r\ntoo many requests\n",
      );
      over.add(socket);
      // What the client sends is read and dropped, so the answer is not lost to a reset.
      socket.on("error", () => {});
      socket.resume();
      const timer = setTimeout(() => socket.destroy(), 1000);
      socket.once("close", () => clearTimeout(timer));
      return;
    }
    sockets.add(socket);
    update(socket);
    socket.once("close", () => {
      disarm(socket);
      sockets.delete(socket);
    });
  });
  /** Follows a request and its answer on the connection's timer. */
  function watch(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    const t = trackOf(socket);
    t.answering++;
    t.reading++;
    let read = false;
    let answered = false;
    req.once("end", () => {
      if (read || answered) return;
      read = true;
      t.reading--;
      update(socket);
    });
    res.once("finish", () => {
      if (answered) return;
      answered = true;
      t.answering--;
      if (!read) t.reading--;
      // The previous idle time started before this answer: the bound runs anew from here.
      disarm(socket);
      update(socket);
    });
    update(socket);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const host = (req.headers.host ?? "").toLowerCase();
    if (!allowedHosts().has(host)) {
      refuse(`${method} refused: Host ${JSON.stringify(host.slice(0, 100))} is not this server`);
      return plain(res, 421, "this server answers only to its own address (Host header)\n");
    }
    const url = new URL(req.url ?? "/", `http://${host}`);
    const given = url.searchParams.get("token");
    if (given !== null) {
      if (!sameSecret(given, token)) {
        refuse(`${method} refused: wrong token`);
        return plain(res, 401, "wrong token: open the address orch dashboard printed\n");
      }
      url.searchParams.delete("token");
      res.writeHead(303, {
        // A path of this server's, never `//other.example` (which a browser takes for a host).
        location: `/${url.pathname.replace(/^\/+/, "")}${url.search}`,
        "set-cookie": `${cookieName()}=${token}; HttpOnly; SameSite=Strict; Path=/`,
        "cache-control": "no-store",
        "content-length": "0",
        "referrer-policy": "no-referrer",
        // The browser comes back at once; this connection is done.
        connection: "close",
      });
      res.end();
      return;
    }
    if (!sameSecret(cookieOf(req.headers.cookie, cookieName()) ?? "", token)) {
      refuse(`${method} refused: no token`);
      return plain(res, 401, "no token: open the address orch dashboard printed\n");
    }
    if (method !== "GET" && method !== "HEAD") {
      const origin = req.headers.origin;
      const site = req.headers["sec-fetch-site"];
      if (
        (origin !== undefined && origin.toLowerCase() !== `http://${host}`) ||
        (site !== undefined && site !== "same-origin")
      ) {
        refuse(`${method} refused: not from the dashboard's own origin`);
        return plain(res, 403, "refused: the request does not come from the dashboard's page\n");
      }
    }
    const body = await readBody(req);
    if (body === null) {
      refuse(`${method} refused: body too large`);
      return plain(res, 413, `request body exceeds ${LIMITS.maxRequestBody} bytes\n`);
    }
    await forward(req, res, method, `${url.pathname}${url.search}`, body);
  }

  async function forward(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    body: Uint8Array,
  ): Promise<void> {
    const headers: Record<string, string | string[]> = {};
    const named = new Set(
      String(req.headers.connection ?? "").toLowerCase().split(",").map((s) => s.trim()),
    );
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k) || named.has(k) || k.startsWith("sec-")) continue;
      headers[k] = v;
    }
    headers.host = "conductor";
    if (body.length > 0 || req.headers["content-length"] !== undefined) {
      headers["content-length"] = String(body.length);
    }
    const proof = await makeLocalProof(opts.socket);
    if (proof) headers.authorization = proof.header;
    await new Promise<void>((resolve, reject) => {
      const up = http.request({ socketPath: opts.socket, method, path, headers }, (upRes) => {
        void proof?.discard();
        const out: Record<string, string | string[]> = {};
        const upNamed = new Set(
          String(upRes.headers.connection ?? "").toLowerCase().split(",").map((s) => s.trim()),
        );
        for (const [k, v] of Object.entries(upRes.headers)) {
          if (v === undefined || HOP_BY_HOP.has(k) || upNamed.has(k)) continue;
          out[k] = v;
        }
        res.writeHead(upRes.statusCode ?? 502, out);
        // An event stream's events go out as they come: no buffering on the way.
        res.flushHeaders();
        upRes.on("data", (chunk: Uint8Array) => {
          if (!res.write(chunk)) {
            upRes.pause();
            res.once("drain", () => upRes.resume());
          }
        });
        upRes.on("end", () => {
          res.end();
          resolve();
        });
        upRes.on("error", (err) => reject(err));
      });
      // The browser went away (a page closed): the conductor's request goes too.
      res.once("close", () => {
        if (!res.writableFinished) up.destroy();
        resolve();
      });
      up.setTimeout(UPSTREAM_ANSWER_MS, () => up.destroy(new Error("no answer in time")));
      up.on("response", () => up.setTimeout(0));
      up.on("error", (err) => {
        void proof?.discard();
        reject(err);
      });
      up.end(body.length > 0 ? body : undefined);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: opts.listen.host, port: opts.listen.port }, () => {
      server.off("error", reject);
      resolve();
    });
  }).catch((err) => {
    throw new OrchError(
      "unavailable",
      `cannot listen on ${hostPart}:${opts.listen.port}: ${errorMessage(err)}`,
    );
  });
  const addr = server.address();
  port = typeof addr === "object" && addr !== null ? addr.port : opts.listen.port;
  return {
    port,
    url: `http://${hostPart}:${port}/?token=${token}`,
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/**
 * A plain-text answer that says why, and closes the connection: a refused
 * client is not kept, and the body it may still send is not read.
 */
function plain(res: ServerResponse, status: number, text: string): void {
  const bytes = new TextEncoder().encode(text);
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(bytes.length),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    connection: "close",
  });
  res.end(bytes);
}

/** The request's body, or null when it is larger than the API takes. */
async function readBody(req: IncomingMessage): Promise<Uint8Array | null> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > LIMITS.maxRequestBody) {
    req.resume();
    return null;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Uint8Array).length;
    if (size > LIMITS.maxRequestBody) return null;
    chunks.push(chunk as Uint8Array);
  }
  return concatBytes(chunks);
}

/** The value of cookie `name` in a Cookie header, if there. */
function cookieOf(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Compares `given` with `secret` in time that does not depend on where they differ. */
function sameSecret(given: string, secret: string): boolean {
  let diff = given.length ^ secret.length;
  for (let i = 0; i < secret.length; i++) {
    diff |= (given.charCodeAt(i % Math.max(1, given.length)) | 0) ^ secret.charCodeAt(i);
  }
  return diff === 0;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}
