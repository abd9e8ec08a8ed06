/**
 * Finding out why a TLS connection to the conductor failed, when the TLS
 * stack does not say: loaded only on that error path (it brings the
 * certificate library and `node:tls`), never on a command's normal path.
 *
 * The conductor takes every client certificate through the handshake and
 * then judges it (so that its log can say why it refused one): a refused
 * certificate is seen by the client as a connection closed before any
 * answer, as an outage would be. This tells the two apart by looking at
 * the client's own certificate, then by opening one more connection and
 * seeing whether the conductor closes it at once, without a request.
 *
 * @module
 */

import tls from "node:tls";
import { isIP } from "node:net";
import { OrchError } from "../errors.ts";
import { loadX509 } from "../tls/ca.ts";
import { describeCertificate, explainUnverified } from "../tls/verdict.ts";
import { dialTls, type TlsPems, type TlsTarget } from "./_dial.ts";
import { TlsRefusedError } from "./_tls_words.ts";

/** How long a connection is watched for the conductor closing it without a request. */
const WATCH_MS = 3000;

/**
 * Why `target` closed a connection before answering, when the cause is this
 * client's certificate: an `OrchError("forbidden")` saying what is wrong with
 * it, or that the conductor refuses it. Null when the conductor did not
 * refuse it (it went away: an outage, tried again as such).
 */
export async function refusedCertificate(
  target: TlsTarget,
  pems: TlsPems,
  where: string,
  timeoutMs: number,
): Promise<OrchError | null> {
  const hint = "get a certificate from the deployment's CA: orch ca issue NAME --role audience, " +
    "given with --cert and --key (env ORCH_CERT and ORCH_KEY, or cert and key in the client config)";
  const der = firstCertificate(pems.cert);
  const own = der === null
    ? "this client's certificate cannot be read"
    : await explainUnverified(der, pems.ca, new Date(), "", "this client");
  if (!/ was not accepted$/.test(own)) {
    return new TlsRefusedError(
      "client",
      `the conductor at ${where} refused the connection: ${own}`,
      {
        hint,
      },
    );
  }
  if (!(await closesAtOnce(target, pems, timeoutMs))) return null;
  const name = der === null ? "" : ` (${await certificateName(der)})`;
  return new TlsRefusedError(
    "client",
    `the conductor at ${where} refuses this client's certificate${name}: it closes the ` +
      "connection right after the TLS handshake; the certificate may be revoked, or issued by a " +
      "CA the conductor does not trust",
    { hint: `the conductor's log says why ("refused an audience connection"); ${hint}` },
  );
}

/** True when the conductor closes a fresh connection before any request is sent. */
async function closesAtOnce(
  target: TlsTarget,
  pems: TlsPems,
  timeoutMs: number,
): Promise<boolean> {
  let conn: Deno.TlsConn;
  try {
    conn = await dialTls(target, pems, timeoutMs);
  } catch {
    return false;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const closed = conn.read(new Uint8Array(1)).then((n) => n === null, () => true);
    const open = new Promise<false>((
      resolve,
    ) => (timer = setTimeout(() => resolve(false), WATCH_MS)));
    return await Promise.race([closed, open]);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed already
    }
  }
}

/**
 * The names (DNS and IP SANs) on the certificate `host:port` shows, read
 * without verifying it, for an error that says which names it holds; the
 * connection is closed at once and nothing is sent on it. Null when it
 * cannot be had within `timeoutMs`.
 */
export function certificateNames(
  host: string,
  port: number,
  serverName: string,
  timeoutMs: number,
): Promise<string[] | null> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host,
      port,
      minVersion: "TLSv1.3",
      servername: isIP(serverName) ? undefined : serverName,
      rejectUnauthorized: false,
    });
    const done = (names: string[] | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(names);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.once("error", () => done(null));
    socket.once("secureConnect", () => {
      const san = socket.getPeerCertificate()?.subjectaltname ?? "";
      done(
        san.split(",").map((part) => part.trim().replace(/^(DNS|IP Address):/, "")).filter((n) =>
          n !== ""
        ),
      );
    });
  });
}

/** The DER of the first certificate in `pem`, or null. */
function firstCertificate(pem: string): Uint8Array<ArrayBuffer> | null {
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (!m) return null;
  try {
    return Uint8Array.from(atob(m[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** "CN alice, serial 1F…" of a certificate. */
async function certificateName(der: Uint8Array<ArrayBuffer>): Promise<string> {
  const x509 = await loadX509();
  try {
    const cert = new x509.X509Certificate(der);
    return describeCertificate(cert.subjectName.getField("CN")[0] ?? "", cert.serialNumber);
  } catch {
    return "unreadable";
  }
}
