/**
 * Opening a connection to the conductor's audience API: the Unix socket
 * with `Deno.connect`, or TLS with `Deno.connectTls` (rustls, built into
 * the runtime), showing the audience certificate and accepting only a
 * conductor's certificate from the deployment CA that holds the name
 * expected. Both are bounded by a time limit.
 *
 * @module
 */

/** The PEM texts a TLS connection needs. */
export interface TlsPems {
  /** The deployment CA certificate the conductor's certificate must chain to. */
  ca: string;
  /** The audience certificate shown to the conductor. */
  cert: string;
  /** Its private key. */
  key: string;
}

/** A conductor to dial over TLS. */
export interface TlsTarget {
  host: string;
  port: number;
  /** The name the conductor's certificate must hold (the host dialled, unless told otherwise). */
  expectName: string;
}

/**
 * `Deno.connectTls` checks the certificate for this name instead of the
 * host it dials (and sends it as SNI). Deno 2.9 reads it from the options
 * under this symbol; it is not in the typed options (checked against the
 * runtime's `ext:deno_net/02_tls.js`), and a test dials by address while
 * naming the certificate's host, so a runtime that drops it is caught.
 */
const SERVER_NAME = Symbol.for("unstableServerName");

/** A connection given up after its time limit. */
export class DialTimeout extends Error {
  constructor(what: string, ms: number) {
    super(`${what} took over ${ms / 1000}s`);
    this.name = "DialTimeout";
  }
}

/** Connects to the Unix socket at `path` within `timeoutMs`. */
export async function dialSocket(path: string, timeoutMs: number): Promise<Deno.UnixConn> {
  return await bounded(
    Deno.connect({ transport: "unix", path }),
    timeoutMs,
    "connecting",
    (c) => c.close(),
  );
}

/**
 * Connects to `target` with TLS and completes the handshake within
 * `timeoutMs`: the conductor's certificate must chain to `pems.ca`, hold
 * `target.expectName`, and allow server authentication. That last check is
 * the role check: `orch ca issue` gives the server-authentication extended
 * key usage to conductor certificates only (players and the audience get
 * client authentication alone). Rejects with the runtime's error, which
 * `reachFailure` and `tlsProblem` read.
 */
export async function dialTls(
  target: TlsTarget,
  pems: TlsPems,
  timeoutMs: number,
): Promise<Deno.TlsConn> {
  const options: Deno.ConnectTlsOptions & Deno.TlsCertifiedKeyPem & Record<symbol, string> = {
    hostname: target.host,
    port: target.port,
    caCerts: [pems.ca],
    cert: pems.cert,
    key: pems.key,
  };
  if (target.expectName !== target.host) options[SERVER_NAME] = target.expectName;
  const conn = await bounded(Deno.connectTls(options), timeoutMs, "connecting", (c) => c.close());
  try {
    await bounded(conn.handshake(), timeoutMs, "the TLS handshake", () => {});
    return conn;
  } catch (err) {
    conn.close();
    throw err;
  }
}

/**
 * `work`, or a {@linkcode DialTimeout} after `ms`; a result that comes too
 * late is disposed of. Timed with `AbortSignal.timeout`, not `setTimeout`:
 * the global `setTimeout` costs 9-15 ms on its first use in Deno 2.9 (it
 * loads the Node timers), a tenth of a command's start-up. Its timer keeps
 * the process alive only while a listener is attached: both ends remove it.
 */
function bounded<T>(
  work: Promise<T>,
  ms: number,
  what: string,
  dispose: (late: T) => void,
): Promise<T> {
  const deadline = AbortSignal.timeout(ms);
  return new Promise<T>((resolve, reject) => {
    const onLate = () => {
      reject(new DialTimeout(what, ms));
      work.then(dispose, () => {});
    };
    deadline.addEventListener("abort", onLate, { once: true });
    work.then(
      (v) => {
        deadline.removeEventListener("abort", onLate);
        resolve(v);
      },
      (err) => {
        deadline.removeEventListener("abort", onLate);
        reject(err);
      },
    );
  });
}

/**
 * Why the conductor could not be reached, in a few words, when `err` is a
 * failure to reach it (no socket, refused, reset, a name that does not
 * resolve, a time limit); null for anything else (a TLS refusal, a bug).
 * `host` is the host dialled, for a name that does not resolve.
 */
export function reachFailure(err: unknown, host: string | null): string | null {
  if (err instanceof DialTimeout) return `no connection: ${err.message}`;
  if (err instanceof Deno.errors.NotFound) return "no such socket";
  if (err instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (err instanceof Deno.errors.PermissionDenied) {
    return host === null
      ? "permission denied (check the socket's group and mode)"
      : "permission denied";
  }
  if (err instanceof Deno.errors.TimedOut) return "timed out";
  if (
    err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.ConnectionAborted ||
    err instanceof Deno.errors.NotConnected || err instanceof Deno.errors.BrokenPipe ||
    err instanceof Deno.errors.AddrNotAvailable || err instanceof Deno.errors.NetworkUnreachable ||
    err instanceof Deno.errors.UnexpectedEof
  ) {
    return (err as Error).message;
  }
  const message = err instanceof Error ? err.message : "";
  if (/failed to lookup address|name or service not known|no address associated/i.test(message)) {
    return `cannot resolve ${host ?? "the name"}`;
  }
  if (/host is unreachable|no route to host|network is unreachable/i.test(message)) return message;
  return null;
}
