/**
 * Mutually authenticated TLS over `node:tls` / `node:https`: both sides show
 * a certificate from the deployment CA, TLS 1.3 only. Servers refuse a peer
 * whose certificate the TLS stack did not verify, or that the CRL revokes,
 * right after the handshake and before any byte from it is read (see
 * {@linkcode admitPeer}); what a peer may do is then decided from
 * {@linkcode peerIdentity}.
 *
 * @module
 */

import tls from "node:tls";
import type https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import net, { isIP } from "node:net";
import { OrchError } from "../errors.ts";
import type { Role } from "./ca.ts";
import type { TlsMaterial } from "./files.ts";
import {
  describeCertificate,
  explainUnverified,
  explainUnverifiedVerdict,
  shownCertName,
  type UnverifiedVerdict,
} from "./verdict.ts";

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
  return { cn, role: roles.length === 1 ? roles[0] : null, names: certificateNames(cert) };
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
    // The chain is still verified (`socket.authorized`), but the refusal is made by admitPeer:
    // with rejectUnauthorized, Deno's node:tls reports an expired, a not-yet-valid and a foreign
    // certificate alike as ECONNRESET, with no certificate to tell the operator which it was.
    rejectUnauthorized: false,
    minVersion: "TLSv1.3",
    handshakeTimeout: timeouts.handshakeMs,
  };
}

/**
 * Decides whether a freshly handshaken connection may go on, synchronously
 * (before any byte from the peer is acted on): a peer whose chain the TLS
 * stack did not verify, or whose certificate the CRL revokes, has its socket
 * destroyed and `onRefused` told why. An admitted peer's socket is watched
 * by the revocation list, so that a later revocation cuts it.
 *
 * Deno's node:tls ignores the `crl` option of `tls.createServer` (checked
 * with 2.9.6: a revoked certificate completes the handshake), so the
 * revocation check is done here, on the serial the peer proved to hold.
 */
export function admitPeer(
  material: TlsMaterial,
  socket: tls.TLSSocket,
  onRefused: (reason: string) => void,
): boolean {
  if (!socket.authorized) {
    const cert = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
    const raw = cert?.raw ? new Uint8Array(cert.raw) : null;
    const code = String(socket.authorizationError ?? "");
    socket.destroy();
    explainUnverified(raw, material.ca, new Date(), code, "the peer").then(onRefused, onRefused);
    return false;
  }
  const cert = socket.getPeerCertificate();
  const serial = cert?.serialNumber ?? "";
  const cn = first(cert?.subject?.CN) ?? "";
  const revocation = material.revocation;
  if (revocation) {
    const when = revocation.revokedAt(serial);
    if (when !== null) {
      socket.destroy();
      onRefused(
        `the peer's certificate (${
          describeCertificate(cn, serial)
        }) is revoked (since ${when.toISOString()})`,
      );
      return false;
    }
    revocation.track(socket, cn, serial);
  }
  return true;
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
      return "the handshake was aborted by the peer (does it trust this deployment's CA?)";
    case "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED":
      // The peer found this side's certificate expired or not yet valid (one TLS alert for both).
      return "the peer refused this side's certificate as expired or not yet valid";
    case "ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED":
      return "the peer refused this side's certificate as revoked";
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
  const server = tls.createServer(serverOptions(material, timeouts), (socket) => {
    if (admitPeer(material, socket, onRefused)) onSecure(socket);
  });
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

/**
 * An HTTPS server that requires a client certificate from the CA. `node:https`
 * is loaded here, on first use: a player, which only dials, never loads it.
 */
export async function createMutualHttpsServer(
  material: TlsMaterial,
  timeouts: ServerTimeouts,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  onRefused: (reason: string) => void,
): Promise<https.Server> {
  const { createServer } = await import("node:https");
  const server = createServer(serverOptions(material, timeouts), handler);
  // Ahead of the HTTP server's own listener: a refused socket is destroyed before it is parsed.
  server.prependListener("secureConnection", (socket: tls.TLSSocket) => {
    admitPeer(material, socket, onRefused);
  });
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
 * Why a connection could not be made, beyond its message: `down` when no
 * TCP connection was made at all (nothing listens there, the host or the
 * network is unreachable, the name does not resolve), which costs the
 * other end nothing and is worth retrying soon; false when the other end
 * took the connection and the TLS handshake failed or was refused, which a
 * quick retry will not fix and costs the other end a handshake each time.
 * The error itself is an `OrchError`: `unavailable`, or `forbidden` when
 * the server's certificate was not accepted (with a hint on how to fix it).
 */
export class ConnectError extends OrchError {
  readonly down: boolean;

  constructor(
    code: "unavailable" | "forbidden",
    message: string,
    down: boolean,
    options?: { cause?: unknown; hint?: string },
  ) {
    super(code, message, options);
    this.name = "ConnectError";
    this.down = down;
  }
}

/**
 * Connects with mutual TLS and checks the server's name and role. Resolves
 * with the open socket once the handshake is complete; rejects with a
 * {@linkcode ConnectError} that says why, in words an operator can act on.
 */
export function connectMutualTls(opts: ConnectOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: opts.host,
      port: opts.port,
      ...clientTlsOptions(opts.material, opts.expectName, opts.expectRole),
    });
    /** The TCP connection was made: what fails from now on is the TLS handshake. */
    let connected = false;
    socket.once("connect", () => (connected = true));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new ConnectError(
          "unavailable",
          `TLS handshake with ${opts.host}:${opts.port} timed out`,
          !connected,
        ),
      );
    }, opts.timeoutMs);
    const onError = (err: Error & { code?: string }) => {
      clearTimeout(timer);
      socket.destroy();
      if (err instanceof ServerIdentityError) {
        return reject(
          new ConnectError(
            "forbidden",
            `cannot connect to ${opts.host}:${opts.port}: ${err.message}`,
            false,
            { cause: err, hint: err.hint },
          ),
        );
      }
      const down = !connected && NETWORK_DOWN.has(err.code ?? "");
      const fail = (message: string, hint?: string) =>
        reject(
          new ConnectError(hint === undefined ? "unavailable" : "forbidden", message, down, {
            cause: err,
            hint,
          }),
        );
      if (!UNVERIFIED.has(err.code ?? "")) return fail(connectErrorMessage(opts, err));
      // The TLS stack says only that the chain did not verify: look at the certificate to say why.
      probeServerCertificate(opts).then(
        (raw) =>
          explainUnverifiedVerdict(
            raw,
            opts.material.ca,
            new Date(),
            err.code ?? "",
            `the ${opts.expectRole}`,
          ),
      ).then(
        (v) =>
          fail(
            `cannot connect to ${opts.host}:${opts.port}: ${v.why}`,
            unverifiedHint(v, opts.expectRole),
          ),
        () => fail(connectErrorMessage(opts, err)),
      );
    };
    socket.once("error", onError);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      socket.off("error", onError);
      const cert = socket.getPeerCertificate();
      const serial = cert?.serialNumber ?? "";
      const cn = first(cert?.subject?.CN) ?? "";
      const revocation = opts.material.revocation;
      const when = revocation?.revokedAt(serial) ?? null;
      if (when !== null) {
        socket.destroy();
        reject(
          new ConnectError(
            "forbidden",
            `cannot connect to ${opts.host}:${opts.port}: the ${opts.expectRole}'s certificate (${
              describeCertificate(cn, serial)
            }) is revoked (since ${when.toISOString()})`,
            false,
            { hint: "the CRL this side reads lists it: issue the server a new certificate" },
          ),
        );
        return;
      }
      revocation?.track(socket, cn, serial);
      resolve(socket);
    });
  });
}

/** Errors of a connection that never reached the other end's TCP stack (or was turned away by it). */
const NETWORK_DOWN = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENETDOWN",
]);

/** How to fix a server certificate the TLS stack did not verify, by what is wrong with it. */
function unverifiedHint(v: UnverifiedVerdict, role: Role): string | undefined {
  switch (v.kind) {
    case "foreign":
      return `the ca file (--ca) must be the CA that issued the ${role}'s certificate: use ` +
        `this deployment's ca.crt, or issue the ${role} a certificate from this CA ` +
        `(orch ca issue NAME --role ${role}) and restart it`;
    case "expired":
      return `issue the ${role} a new certificate (orch ca issue NAME --role ${role} --force, ` +
        "with the same --san names) and restart it";
    case "not_yet_valid":
      return "the clocks of the two hosts disagree: check both (NTP)";
    default:
      return undefined;
  }
}

/** Verification errors of a server's certificate chain, which a look at the certificate explains. */
const UNVERIFIED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
]);

/**
 * The certificate a server shows, fetched without verifying it, only to
 * explain why verification failed; the connection is closed at once and
 * nothing is sent on it. Null when it cannot be had.
 */
function probeServerCertificate(opts: ConnectOptions): Promise<Uint8Array<ArrayBuffer> | null> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: opts.host,
      port: opts.port,
      cert: opts.material.cert,
      key: opts.material.key,
      minVersion: "TLSv1.3",
      servername: isIP(opts.expectName) ? undefined : opts.expectName,
      rejectUnauthorized: false,
    });
    const done = (raw: Uint8Array<ArrayBuffer> | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(raw);
    };
    const timer = setTimeout(() => done(null), opts.timeoutMs);
    socket.once("error", () => done(null));
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
      done(cert?.raw ? new Uint8Array(cert.raw) : null);
    });
  });
}

/**
 * The server's certificate does not hold the name it was checked for, or is
 * not for the role expected: says which name was checked, which names the
 * certificate holds, and how to fix it (`hint`).
 */
export class ServerIdentityError extends Error {
  /** Node's code for a name mismatch, which it also uses for one it finds itself. */
  readonly code = "ERR_TLS_CERT_ALTNAME_INVALID";
  readonly hint: string;

  constructor(message: string, hint: string) {
    super(message);
    this.name = "ServerIdentityError";
    this.hint = hint;
  }
}

/** The names a peer certificate holds (CN and DNS / IP SANs, lower case), as `node:tls` shows it. */
export function certificateNames(cert: tls.PeerCertificate): string[] {
  const names = new Set<string>();
  const cn = first(cert.subject?.CN);
  if (cn) names.add(cn.toLowerCase());
  for (const part of (cert.subjectaltname ?? "").split(",")) {
    const [kind, value] = part.trim().split(/:(.*)/s);
    if ((kind === "DNS" || kind === "IP Address") && value) names.add(value.toLowerCase());
  }
  return [...names];
}

/**
 * Checks that a server's certificate `cert` holds `expectName` and role
 * `expectRole`; the error, when not, says what it holds and how to fix it.
 */
export function checkServerCertificate(
  expectName: string,
  expectRole: Role,
  cert: tls.PeerCertificate,
): ServerIdentityError | undefined {
  const described = describeCertificate(first(cert.subject?.CN) ?? "", cert.serialNumber ?? "");
  if (tls.checkServerIdentity(expectName, cert)) {
    const names = certificateNames(cert);
    const cn = first(cert.subject?.CN) ?? "NAME";
    const sans = [...names.filter((n) => n !== cn.toLowerCase()), expectName.toLowerCase()];
    const issue = `orch ca issue ${shownCertName(cn)} --role ${expectRole} ${
      sans.map((n) => `--san ${shownCertName(n)}`).join(" ")
    } --force`;
    return new ServerIdentityError(
      `the ${expectRole}'s certificate (${described}) holds ${
        names.length === 0 ? "no name" : `the names ${names.map(shownCertName).join(", ")}`
      }, not ${shownCertName(expectName)}, the name checked`,
      `dial the ${expectRole} by a name its certificate holds, or set the name to check with ` +
        `--conductor-name NAME (the conductor_name key); or issue the ${expectRole} a ` +
        `certificate that holds ${shownCertName(expectName)} too (${issue}) and restart it`,
    );
  }
  const ou = cert.subject?.OU;
  const roles = Array.isArray(ou) ? ou : ou ? [ou] : [];
  if (!roles.includes(expectRole)) {
    return new ServerIdentityError(
      `the server's certificate (${described}) is for ${
        roles.map(shownCertName).join("/") || "no orch role"
      }, not a ${expectRole}`,
      `check the address: it must be a ${expectRole}'s, whose certificate is issued with ` +
        `--role ${expectRole}`,
    );
  }
  return undefined;
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
    checkServerIdentity: (_host, cert) => checkServerCertificate(expectName, expectRole, cert),
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
