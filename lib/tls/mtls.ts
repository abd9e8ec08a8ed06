/**
 * Mutually authenticated TLS over `node:tls` / `node:https`: both sides show
 * a certificate from the deployment CA, TLS 1.3 only. Servers refuse peers
 * without one at the handshake (`rejectUnauthorized`); what a peer may do is
 * then decided from {@linkcode peerIdentity}.
 *
 * @module
 */

import tls from "node:tls";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import net, { isIP } from "node:net";
import { OrchError } from "../errors.ts";
import type { Role } from "./ca.ts";
import type { TlsMaterial } from "./files.ts";

/** A TLS socket, for code that must not import `node:tls` itself. */
export type TLSSocket = tls.TLSSocket;
/** A TLS or HTTPS server. */
export type TlsServer = tls.Server | https.Server;

/** Who is on the other end of a verified connection. */
export interface PeerIdentity {
  /** The certificate's common name. */
  cn: string;
  /** The orch role in the certificate (its OU), or null. */
  role: string | null;
  /** CN and SAN names, lower case. */
  names: string[];
}

/** The identity of a socket's verified peer, or null when it has none. */
export function peerIdentity(socket: tls.TLSSocket): PeerIdentity | null {
  if (!socket.authorized) return null;
  const cert = socket.getPeerCertificate();
  if (!cert || !cert.subject) return null;
  const cn = first(cert.subject.CN) ?? "";
  const ou = cert.subject.OU;
  const roles = Array.isArray(ou) ? ou : ou ? [ou] : [];
  const names = new Set<string>();
  if (cn) names.add(cn.toLowerCase());
  for (const part of (cert.subjectaltname ?? "").split(",")) {
    const [kind, value] = part.trim().split(/:(.*)/s);
    if ((kind === "DNS" || kind === "IP Address") && value) names.add(value.toLowerCase());
  }
  return { cn, role: roles.length === 1 ? roles[0] : null, names: [...names] };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Time limits of a server's connections. */
export interface ServerTimeouts {
  /** A connection must finish its TLS handshake within this time. */
  handshakeMs: number;
}

function serverOptions(material: TlsMaterial, timeouts: ServerTimeouts): tls.TlsOptions {
  return {
    ca: material.ca,
    cert: material.cert,
    key: material.key,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
    handshakeTimeout: timeouts.handshakeMs,
  };
}

/** Explains why a handshake failed, in words an operator can act on. */
export function describeHandshakeError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  // Deno's node:tls reports a handshake timeout with this message and no code.
  if (e.message === "TLS handshake timeout") return "the TLS handshake did not finish in time";
  switch (e.code) {
    case "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE":
      return "the peer presented no client certificate";
    case "ERR_TLS_HANDSHAKE_TIMEOUT":
      return "the TLS handshake did not finish in time";
    case "ECONNRESET":
      return "the handshake was aborted (certificate not issued by this deployment's CA?)";
    default:
      return e.message ?? String(err);
  }
}

/**
 * A TLS server that only completes handshakes with peers holding a
 * certificate from the CA. `onSecure` gets each verified socket;
 * `onRefused` hears about each refused handshake.
 */
export function createMutualTlsServer(
  material: TlsMaterial,
  timeouts: ServerTimeouts,
  onSecure: (socket: tls.TLSSocket) => void,
  onRefused: (reason: string) => void,
): tls.Server {
  const server = tls.createServer(serverOptions(material, timeouts), onSecure);
  server.on("tlsClientError", (err, socket) => refuseHandshake(err, socket, onRefused));
  return server;
}

/**
 * A failed or timed-out handshake: the socket is destroyed here, since
 * Deno's `node:tls` leaves it open after a handshake timeout.
 */
function refuseHandshake(
  err: Error,
  socket: tls.TLSSocket | undefined,
  onRefused: (reason: string) => void,
): void {
  socket?.destroy();
  onRefused(describeHandshakeError(err));
}

/** An HTTPS server that requires a client certificate from the CA. */
export function createMutualHttpsServer(
  material: TlsMaterial,
  timeouts: ServerTimeouts,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  onRefused: (reason: string) => void,
): https.Server {
  const server = https.createServer(serverOptions(material, timeouts), handler);
  server.on("tlsClientError", (err, socket) => refuseHandshake(err, socket, onRefused));
  return server;
}

/** Starts `server` listening; resolves with the address it got (port 0 picks one). */
export function listen(
  server: net.Server,
  host: string,
  port: number,
): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error & { code?: string }) => {
      const what = `${host.includes(":") ? `[${host}]` : host}:${port}`;
      if (err.code === "EADDRINUSE") {
        reject(new OrchError("unavailable", `cannot listen on ${what}: address already in use`));
      } else if (err.code === "EACCES") {
        reject(new OrchError("unavailable", `cannot listen on ${what}: permission denied`));
      } else {
        reject(new OrchError("unavailable", `cannot listen on ${what}: ${err.message}`));
      }
    };
    server.once("error", onError);
    // Deno's node:net servers stop accepting while more connections are open than the backlog
    // (rounded up to a power of two): it is set well above the default of 511.
    server.listen({ port, host, backlog: 4096 }, () => {
      server.off("error", onError);
      const addr = server.address();
      if (addr && typeof addr === "object") resolve({ host: addr.address, port: addr.port });
      else resolve({ host, port });
    });
  });
}

/** Where and whom to connect to. */
export interface ConnectOptions {
  host: string;
  port: number;
  /** The name the server's certificate must hold. */
  expectName: string;
  /** The role the server's certificate must hold. */
  expectRole: Role;
  material: TlsMaterial;
  /** Give up on the TCP + TLS handshake after this many ms. */
  timeoutMs: number;
}

/**
 * Connects with mutual TLS and checks the server's name and role. Resolves
 * with the open socket once the handshake is complete.
 */
export function connectMutualTls(opts: ConnectOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: opts.host,
      port: opts.port,
      ...clientTlsOptions(opts.material, opts.expectName, opts.expectRole),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new OrchError("unavailable", `TLS handshake with ${opts.host}:${opts.port} timed out`),
      );
    }, opts.timeoutMs);
    const onError = (err: Error & { code?: string }) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new OrchError("unavailable", connectErrorMessage(opts, err), { cause: err }));
    };
    socket.once("error", onError);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      socket.off("error", onError);
      resolve(socket);
    });
  });
}

/**
 * TLS options for a client that shows `material` and accepts only a server
 * whose certificate, from the same CA, holds `expectName` and role `expectRole`.
 */
export function clientTlsOptions(
  material: TlsMaterial,
  expectName: string,
  expectRole: Role,
): tls.ConnectionOptions {
  return {
    ca: material.ca,
    cert: material.cert,
    key: material.key,
    minVersion: "TLSv1.3",
    servername: isIP(expectName) ? undefined : expectName,
    checkServerIdentity: (_host, cert) => {
      const err = tls.checkServerIdentity(expectName, cert);
      if (err) return err;
      const ou = cert.subject?.OU;
      const roles = Array.isArray(ou) ? ou : ou ? [ou] : [];
      if (!roles.includes(expectRole)) {
        return new Error(
          `the server's certificate is for ${
            roles.join("/") || "no orch role"
          }, not a ${expectRole}`,
        );
      }
      return undefined;
    },
  };
}

function connectErrorMessage(opts: ConnectOptions, err: Error & { code?: string }): string {
  const where = `${opts.host}:${opts.port}`;
  switch (err.code) {
    case "ECONNREFUSED":
      return `connection to ${where} refused (is the conductor running?)`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot resolve ${opts.host}`;
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `cannot reach ${where}: ${err.code}`;
    default:
      return `cannot connect to ${where}: ${err.message}`;
  }
}
